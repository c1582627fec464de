using System.Collections.Concurrent;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// What the domain reads from EC2 to decide: an instance now, whether it qualifies (the policy plus the type check,
/// which costs a call and so runs last), the sessions on its interfaces, ours, a lab's VNI. The target's interfaces
/// and each lab's VNI are cached for the container's life: neither changes under a running stack.
/// </summary>
public sealed class MirrorFacts(IEc2Client ec2, AutoMirrorSettings settings, OwnedSessions owned)
{
    private readonly IEc2Client _ec2 = ec2;
    private readonly AutoMirrorSettings _settings = settings;
    private readonly OwnedSessions _owned = owned;
    private readonly ConcurrentDictionary<string, int> _labVnis = new(StringComparer.Ordinal);
    private IReadOnlySet<string>? _targetEniIds;

    public InstanceTypeCatalog Types { get; } = new(ec2, settings);

    public string LabOf(Ec2Instance instance) =>
        instance.Tags.TryGetValue(_settings.LabTagKey, out var lab) ? lab.Trim() : SessionTags.NoLab;

    /// <summary>
    /// A detach state from an event wins over a described "running" unless the instance started again after the
    /// event (its LaunchTime is the last start): then the event is stale.
    /// </summary>
    public static string EffectiveState(Ec2Instance instance, StateHint? hint)
    {
        if (hint is null || instance.State != "running" || hint.State == "running" || hint.State == "pending")
        {
            return instance.State;
        }

        return instance.LaunchTime is { } launched && hint.EventTime < launched ? instance.State : hint.State;
    }

    public async Task<Ec2Instance> DescribeAsync(string instanceId, CancellationToken cancellationToken)
    {
        IReadOnlyList<Ec2Instance> found;
        try
        {
            found = await _ec2.DescribeInstancesAsync([instanceId], cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            throw new InstanceNotFoundException(instanceId, e);
        }

        return found.FirstOrDefault(i => i.InstanceId == instanceId) ?? throw new InstanceNotFoundException(instanceId);
    }

    public async Task<Eligibility> EligibilityAsync(Ec2Instance instance, string state, CancellationToken cancellationToken)
    {
        var targetEnis = await TargetEniIdsAsync(cancellationToken).ConfigureAwait(false);
        // The type check costs a call, so it only runs for an instance every cheaper rule lets through.
        var cheap = MirrorPolicy.Evaluate(instance, state, _settings, new TypeVerdict(TypeSupport.Supported, "not-checked"), targetEnis);
        if (!cheap.Qualifies)
        {
            return cheap;
        }

        var verdict = await Types.VerdictAsync(instance.InstanceType, cancellationToken).ConfigureAwait(false);
        return MirrorPolicy.Evaluate(instance, state, _settings, verdict, targetEnis);
    }

    public async Task<IReadOnlySet<string>> TargetEniIdsAsync(CancellationToken cancellationToken)
    {
        if (_targetEniIds is { } known)
        {
            return known;
        }

        var targets = await _ec2.DescribeTrafficMirrorTargetsAsync([new Ec2Filter("traffic-mirror-target-id", _settings.MirrorTargetId)], cancellationToken)
            .ConfigureAwait(false);
        if (targets.Count == 0)
        {
            throw new ConfigurationException($"MIRROR_TARGET_ID {_settings.MirrorTargetId} does not exist in this account and region");
        }

        var enis = targets.Select(t => t.NetworkInterfaceId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        _targetEniIds = enis;
        return enis;
    }

    public async Task<IReadOnlyList<TrafficMirrorSession>> SessionsOnAsync(IEnumerable<string> eniIds, CancellationToken cancellationToken)
    {
        // EC2 bounds the values of one filter (200), so a whole fleet's interfaces are asked for in chunks.
        var result = new List<TrafficMirrorSession>();
        foreach (var chunk in eniIds.Distinct(StringComparer.Ordinal).Chunk(200))
        {
            result.AddRange(await _ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", chunk)], cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> OurSessionsAsync(CancellationToken cancellationToken) => _owned.ListAsync(cancellationToken);

    public async Task<int> VniForAsync(string lab, CancellationToken cancellationToken)
    {
        if (_labVnis.TryGetValue(lab, out var cached))
        {
            return cached;
        }

        var ours = await OurSessionsAsync(cancellationToken).ConfigureAwait(false);
        var vniLabs = new Dictionary<int, string>();
        foreach (var session in ours.OrderBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal))
        {
            if (session.VirtualNetworkId is { } vni)
            {
                vniLabs.TryAdd(vni, session.Tags.TryGetValue(SessionTags.Lab, out var owner) ? owner : SessionTags.NoLab);
            }
        }

        var chosen = SessionIdentity.VniForLab(lab, vniLabs, _settings.DefaultVni);
        _labVnis[lab] = chosen;
        return chosen;
    }
}
