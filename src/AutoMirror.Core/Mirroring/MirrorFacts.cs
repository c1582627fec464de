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
    // Tasks, not values: invocations running at once in one process (the fleet reconcile, a local host) share one
    // read instead of each missing the cache. A failed read is dropped so the next caller asks again.
    private readonly ConcurrentDictionary<string, Lazy<Task<int>>> _labVnis = new(StringComparer.Ordinal);
    private readonly Lock _targetGate = new();
    private Task<IReadOnlySet<string>>? _targetEniIds;

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
        Task<IReadOnlySet<string>> read;
        lock (_targetGate)
        {
            read = _targetEniIds ??= ReadTargetEniIdsAsync(CancellationToken.None);
        }

        try
        {
            return await read.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (read.IsFaulted || read.IsCanceled)
        {
            lock (_targetGate)
            {
                if (_targetEniIds == read)
                {
                    _targetEniIds = null;
                }
            }

            throw;
        }
    }

    private async Task<IReadOnlySet<string>> ReadTargetEniIdsAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var targets = await _ec2.DescribeTrafficMirrorTargetsAsync([new Ec2Filter("traffic-mirror-target-id", _settings.MirrorTargetId)], cancellationToken)
            .ConfigureAwait(false);
        if (targets.Count == 0)
        {
            throw new ConfigurationException($"MIRROR_TARGET_ID {_settings.MirrorTargetId} does not exist in this account and region "
                + "(a target of another account must be shared with this one through AWS RAM)");
        }

        return targets.Select(t => t.NetworkInterfaceId).OfType<string>().ToHashSet(StringComparer.Ordinal);
    }

    // ---- Target kinds (issue #17 item 1) ------------------------------------------------------------------------

    /// <summary>
    /// AWS's sources-per-target quota for an interface target whose instance is of this type: 100 for the large
    /// types AWS lists, 10 for every other ("Traffic Mirroring quotas"). Only the entries confirmed from AWS's list
    /// are here (the local cloud's data file holds the same ones); for an unlisted large type AutoMirror stops at 10
    /// and says so, and AWS's own refusal stays the final word either way.
    /// </summary>
    public static int InterfaceTargetSourceLimit(string? sensorInstanceType) =>
        sensorInstanceType is not null && LargeInterfaceTargetTypes.Contains(sensorInstanceType) ? 100 : 10;

    private static readonly HashSet<string> LargeInterfaceTargetTypes = new(["m5.24xlarge", "m5d.24xlarge", "m5dn.24xlarge"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The running sensor holding the target interface, or null when none does (between sensors, or before the
    /// first one is healthy: a sensor takes the interface only once its own /health answers).
    /// </summary>
    public async Task<Ec2Instance?> InterfaceHolderAsync(CancellationToken cancellationToken)
    {
        var holders = await _ec2.DescribeInstancesAsync(
            [new Ec2Filter("network-interface.network-interface-id", _settings.RequireSensorInterfaceId()), new Ec2Filter("instance-state-name", "running")],
            cancellationToken).ConfigureAwait(false);
        return holders.FirstOrDefault();
    }

    /// <summary>
    /// How many more source interfaces the interface target takes now, and its quota. Every session on the target
    /// counts (ours and anyone else's); an interface that already has one takes no further room.
    /// </summary>
    public async Task<TargetRoom> InterfaceTargetRoomAsync(CancellationToken cancellationToken)
    {
        if (_interfaceTargetLimit is null && await InterfaceHolderAsync(cancellationToken).ConfigureAwait(false) is { } holder)
        {
            // Kept for the container's life once a sensor holds the interface (the stack fixes its instance type).
            _interfaceTargetLimit = InterfaceTargetSourceLimit(holder.InstanceType);
        }

        var onTarget = await _ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-target-id", _settings.MirrorTargetId)], cancellationToken)
            .ConfigureAwait(false);
        var sources = onTarget.Select(s => s.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);
        return new TargetRoom(sources, _interfaceTargetLimit ?? InterfaceTargetSourceLimit(null));
    }

    private int? _interfaceTargetLimit;

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

    /// <summary>
    /// The instance each interface is attached to now (an interface attached to none is absent): a session follows
    /// its interface, not the instance it was made for, so it is judged by this instance. One paged read per 200
    /// interfaces (DescribeInstances' <c>network-interface.network-interface-id</c> filter).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, Ec2Instance>> AttachedToAsync(IEnumerable<string> eniIds, CancellationToken cancellationToken)
    {
        var owners = new Dictionary<string, Ec2Instance>(StringComparer.Ordinal);
        foreach (var chunk in eniIds.Distinct(StringComparer.Ordinal).Chunk(200))
        {
            var wanted = chunk.ToHashSet(StringComparer.Ordinal);
            var instances = await _ec2.DescribeInstancesAsync([new Ec2Filter("network-interface.network-interface-id", chunk)], cancellationToken).ConfigureAwait(false);
            foreach (var instance in instances.Where(i => i.State is not ("shutting-down" or "terminated")))
            {
                foreach (var eni in instance.NetworkInterfaces.Where(n => wanted.Contains(n.NetworkInterfaceId)))
                {
                    owners[eni.NetworkInterfaceId] = instance;
                }
            }
        }

        return owners;
    }

    /// <summary>
    /// Of <paramref name="sessions"/> found by their <c>automirror:instance-id</c> tag, those whose interface is not
    /// attached to another live instance now: a session moved with its interface belongs to that instance's decision.
    /// </summary>
    public async Task<IReadOnlyList<TrafficMirrorSession>> StillWithAsync(string instanceId, IEnumerable<TrafficMirrorSession> sessions, CancellationToken cancellationToken)
    {
        var list = sessions.ToList();
        if (list.Count == 0)
        {
            return list;
        }

        var owners = await AttachedToAsync(list.Select(s => s.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        return [.. list.Where(s => !owners.TryGetValue(s.NetworkInterfaceId, out var owner) || owner.InstanceId == instanceId)];
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> OurSessionsAsync(CancellationToken cancellationToken) => _owned.ListAsync(cancellationToken);

    public async Task<int> VniForAsync(string lab, CancellationToken cancellationToken)
    {
        var read = _labVnis.GetOrAdd(lab, l => new Lazy<Task<int>>(() => ReadVniAsync(l, CancellationToken.None)));
        try
        {
            return await read.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (read.Value.IsFaulted || read.Value.IsCanceled)
        {
            _labVnis.TryRemove(new KeyValuePair<string, Lazy<Task<int>>>(lab, read));
            throw;
        }
    }

    private async Task<int> ReadVniAsync(string lab, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var ours = await OurSessionsAsync(cancellationToken).ConfigureAwait(false);
        var vniLabs = new Dictionary<int, string>();
        foreach (var session in ours.OrderBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal))
        {
            if (session.VirtualNetworkId is { } vni)
            {
                vniLabs.TryAdd(vni, session.Tags.TryGetValue(SessionTags.Lab, out var owner) ? owner : SessionTags.NoLab);
            }
        }

        return SessionIdentity.VniForLab(lab, vniLabs, _settings.DefaultVni);
    }
}

/// <summary>The interface target's current sources and AWS's quota for it (issue #17 item 1).</summary>
public sealed record TargetRoom(IReadOnlySet<string> Sources, int Limit)
{
    public int Free => Math.Max(0, Limit - Sources.Count);

    /// <summary>Whether every one of <paramref name="eniIds"/> can have a session on the target now.</summary>
    public bool Fits(IEnumerable<string> eniIds) => eniIds.Where(e => !Sources.Contains(e)).Distinct(StringComparer.Ordinal).Count() <= Free;
}
