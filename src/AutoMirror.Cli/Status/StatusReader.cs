using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Cli.Status;

/// <summary>
/// What an operator asks first: which instances AutoMirror sees (mirror-tagged, lab-tagged, or owning one of our
/// sessions), their sessions and status tag, the sensor's target health, and each lab's cost and idle verdict
/// (the same verdict the scheduled teardown would reach now).
/// </summary>
public sealed class StatusReader(IEc2Client ec2, ILoadBalancingClient loadBalancing, TeardownService teardown, AutoMirrorSettings settings)
{
    private static readonly string[] LiveStates = ["pending", "running", "stopping", "stopped", "shutting-down"];

    public async Task<StatusReport> ReadAsync(string? lab, CancellationToken cancellationToken)
    {
        var filters = new List<Ec2Filter>
        {
            lab is null
                ? new Ec2Filter("tag-key", [settings.MirrorTagKey, settings.LabTagKey])
                : new Ec2Filter("tag:" + settings.LabTagKey, lab),
            new("instance-state-name", LiveStates),
        };
        var instances = (await ec2.DescribeInstancesAsync(filters, cancellationToken)).ToList();
        var sessions = await ec2.DescribeTrafficMirrorSessionsAsync([], cancellationToken);
        var ours = sessions.Where(s => SessionTags.IsOurs(s, settings.MirrorTargetId, settings.AccountId)).ToList();

        if (lab is null)
        {
            // An instance that lost its tags but still has one of our sessions is exactly what an operator must see.
            var known = instances.Select(i => i.InstanceId).ToHashSet(StringComparer.Ordinal);
            var owners = ours.Select(s => s.Tags.GetValueOrDefault(SessionTags.InstanceId)).OfType<string>()
                .Where(id => !known.Contains(id)).Distinct(StringComparer.Ordinal).ToList();
            if (owners.Count > 0)
            {
                instances.AddRange(await ec2.DescribeInstancesAsync([new Ec2Filter("instance-id", owners)], cancellationToken));
            }
        }

        var price = settings.SessionHourlyPrice;
        var rows = new List<InstanceStatus>();
        foreach (var instance in instances.OrderBy(i => i.Tags.GetValueOrDefault(settings.LabTagKey) ?? "\uffff", StringComparer.Ordinal)
                     .ThenBy(i => i.InstanceId, StringComparer.Ordinal))
        {
            var enis = instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);
            var mine = ours.Where(s => enis.Contains(s.NetworkInterfaceId)).OrderBy(s => s.NetworkInterfaceId, StringComparer.Ordinal).ThenBy(s => s.SessionNumber).ToList();
            var others = sessions.Count(s => enis.Contains(s.NetworkInterfaceId)) - mine.Count;
            rows.Add(new InstanceStatus(
                instance.InstanceId,
                instance.Tags.TryGetValue(settings.LabTagKey, out var l) && !string.IsNullOrWhiteSpace(l) ? l.Trim() : null,
                instance.State,
                instance.Tags.GetValueOrDefault(settings.MirrorTagKey),
                instance.Tags.GetValueOrDefault(SessionTags.Status),
                StatusWrittenBy(instance, mine),
                [.. mine.Select(s => new SessionStatus(s.TrafficMirrorSessionId, s.NetworkInterfaceId, s.SessionNumber, s.VirtualNetworkId,
                    s.Tags.GetValueOrDefault(SessionTags.CorrelationId)))],
                others,
                mine.Count * price));
        }

        var verdicts = (await teardown.AssessAsync(lab, cancellationToken)).Where(v => v.Lab is not null).ToDictionary(v => v.Lab!, StringComparer.Ordinal);
        var labs = rows.Where(r => r.Lab is not null).GroupBy(r => r.Lab!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var verdict = verdicts.GetValueOrDefault(g.Key);
                var count = g.Sum(r => r.Sessions.Count);
                return new LabSummary(g.Key, g.Count(), count, count * price,
                    verdict?.Status.ToName() ?? "unknown", verdict?.IsIdle ?? false, verdict?.Reasons ?? []);
            }).ToList();

        var sensor = await SensorAsync(cancellationToken);
        var total = rows.Sum(r => r.Sessions.Count);
        return new StatusReport(rows, labs, sensor, new StatusTotals(rows.Count, total, total * price));
    }

    /// <summary>
    /// The run that wrote the status: the instance's correlation-id tag, written with the status by a reconcile or a
    /// detach. A create-first attach's status is written in a batch for many instances, which empties that tag; its
    /// id is on the sessions it made.
    /// </summary>
    private static string? StatusWrittenBy(Ec2Instance instance, IReadOnlyList<TrafficMirrorSession> sessions)
    {
        if (instance.Tags.GetValueOrDefault(SessionTags.CorrelationId) is { Length: > 0 } id)
        {
            return id;
        }

        var bySessions = sessions.Select(s => s.Tags.GetValueOrDefault(SessionTags.CorrelationId)).OfType<string>()
            .Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        return bySessions.Count > 0 ? string.Join(",", bySessions) : null;
    }

    private async Task<SensorStatus> SensorAsync(CancellationToken cancellationToken)
    {
        if (settings.SensorTargetGroupArn is not { } arn)
        {
            return new SensorStatus(settings.MirrorTargetId, null, null, []);
        }

        var targets = await loadBalancing.DescribeTargetHealthAsync(arn, cancellationToken);
        return new SensorStatus(settings.MirrorTargetId, arn,
            targets.Count(t => string.Equals(t.State, "healthy", StringComparison.OrdinalIgnoreCase)),
            [.. targets.Select(t => new TargetStatus(t.TargetId, t.Port, t.State, t.Reason))]);
    }
}
