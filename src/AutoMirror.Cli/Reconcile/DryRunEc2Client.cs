using System.Globalization;
using System.Text.Json.Serialization;
using AutoMirror.Aws.Ec2;

namespace AutoMirror.Cli.Reconcile;

/// <summary>One change a dry run would have made.</summary>
public sealed record PlannedChange(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("resourceId")] string ResourceId,
    [property: JsonPropertyName("detail")] string Detail);

/// <summary>
/// EC2 for <c>reconcile --dry-run</c>: reads go to AWS, writes are recorded and simulated in memory, so the
/// reconciler runs its real code path (plan, create, verify) and its later reads see its own "writes". Nothing
/// that changes AWS is ever sent.
/// </summary>
public sealed class DryRunEc2Client(IEc2Client inner) : IEc2Client
{
    private readonly Lock _gate = new();
    private readonly List<PlannedChange> _changes = [];
    private readonly List<TrafficMirrorSession> _created = [];
    private readonly Dictionary<string, TrafficMirrorSession> _byToken = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);

    public IReadOnlyList<PlannedChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) =>
        inner.DescribeInstancesAsync(instanceIds, cancellationToken);

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        inner.DescribeInstancesAsync(filters, cancellationToken);

    public Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken) =>
        inner.DescribeInstanceTypesAsync(instanceTypes, cancellationToken);

    public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        inner.DescribeTrafficMirrorTargetsAsync(filters, cancellationToken);

    public async Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var real = await inner.DescribeTrafficMirrorSessionsAsync(filters, cancellationToken);
        lock (_gate)
        {
            return [.. real.Where(s => !_deleted.Contains(s.TrafficMirrorSessionId)), .. _created.Where(s => !_deleted.Contains(s.TrafficMirrorSessionId) && Matches(s, filters))];
        }
    }

    public Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            // Same token, same session: the reconciler's idempotent retry must not plan two.
            if (_byToken.TryGetValue(request.ClientToken, out var existing))
            {
                return Task.FromResult(existing);
            }

            var session = new TrafficMirrorSession(
                "tms-dryrun-" + (_created.Count + 1).ToString(CultureInfo.InvariantCulture),
                request.NetworkInterfaceId, request.TrafficMirrorTargetId, request.TrafficMirrorFilterId, request.SessionNumber,
                request.VirtualNetworkId, request.PacketLength, request.Description, request.Tags);
            _created.Add(session);
            _byToken[request.ClientToken] = session;
            _changes.Add(new PlannedChange("create-session", request.NetworkInterfaceId, string.Create(CultureInfo.InvariantCulture,
                $"session {request.SessionNumber} to {request.TrafficMirrorTargetId}{(request.VirtualNetworkId is { } vni ? $" vni {vni}" : "")}")));
            return Task.FromResult(session);
        }
    }

    public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_deleted.Add(trafficMirrorSessionId))
            {
                _changes.Add(new PlannedChange("delete-session", trafficMirrorSessionId, ""));
            }
        }

        return Task.CompletedTask;
    }

    public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resourceIds);
        ArgumentNullException.ThrowIfNull(tags);
        Record("tag", resourceIds, string.Join(", ", tags.Select(t => $"{t.Key}={t.Value}")));
        return Task.CompletedTask;
    }

    public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resourceIds);
        ArgumentNullException.ThrowIfNull(tagKeys);
        Record("untag", resourceIds, string.Join(", ", tagKeys));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceIds);
        Record("stop", instanceIds, "");
        return Task.FromResult<IReadOnlyList<InstanceStateChange>>([]);
    }

    public Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceIds);
        Record("terminate", instanceIds, "");
        return Task.FromResult<IReadOnlyList<InstanceStateChange>>([]);
    }

    private void Record(string action, IReadOnlyCollection<string> ids, string detail)
    {
        lock (_gate)
        {
            _changes.AddRange(ids.Select(id => new PlannedChange(action, id, detail)));
        }
    }

    /// <summary>The filters the reconciler uses on sessions; any other filter hides simulated sessions (conservative).</summary>
    private static bool Matches(TrafficMirrorSession session, IReadOnlyList<Ec2Filter> filters) => filters.All(f => f.Name switch
    {
        "network-interface-id" => f.Values.Contains(session.NetworkInterfaceId),
        "traffic-mirror-target-id" => f.Values.Contains(session.TrafficMirrorTargetId),
        "traffic-mirror-session-id" => f.Values.Contains(session.TrafficMirrorSessionId),
        "traffic-mirror-filter-id" => f.Values.Contains(session.TrafficMirrorFilterId),
        _ => false,
    });
}
