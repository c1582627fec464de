using System.Collections.Concurrent;
using System.Net;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;

namespace AutoMirror.Testing.Fakes;

/// <summary>
/// An in-memory EC2 that enforces the Traffic Mirroring rules AutoMirror must live with: at most 3 sessions per
/// interface, unique session numbers per interface (1–32766), ClientToken idempotency (including EC2's habit of
/// answering a reused token with the session it made even after that was deleted), sessions deleted with their
/// interface, and InvalidInstanceID.NotFound for instances not yet visible. Faults can be injected. The one fake
/// EC2 of every test project: the mirroring steps launch instances with <see cref="Launch"/>, the teardown sets a
/// scene with <see cref="AddInstance"/> and <see cref="AddSession"/> and reads <see cref="Mutations"/>.
/// </summary>
public sealed class FakeEc2 : IEc2Client
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeInstance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TrafficMirrorSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (CreateTrafficMirrorSessionRequest Request, TrafficMirrorSession Session)> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TrafficMirrorTarget> _targets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceNetworkInterface> _detached = new(StringComparer.Ordinal);
    private readonly List<string> _mutations = [];
    private readonly Random _random;
    private int _nextId;
    private DateTimeOffset _clock = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public FakeEc2(int seed = 1)
    {
        _random = new Random(seed);
        AddTarget("tmt-0000000000000000a", networkInterfaceId: null);
    }

    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    /// <summary>Probability that a call fails with throttling / a 5xx, as the client would surface it after its retries.</summary>
    public double ThrottleRate { get; set; }

    public double TransientRate { get; set; }

    /// <summary>Instance types EC2 refuses as mirror sources at create time (the final word).</summary>
    public HashSet<string> RefusedTypes { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int TotalCalls => Calls.Values.Sum();

    public int MutatingCalls => Calls.Where(c => c.Key is "CreateTrafficMirrorSession" or "DeleteTrafficMirrorSession").Sum(c => c.Value);

    /// <summary>Every write with what it named, in order (<c>StopInstances i-1,i-2</c>, <c>CreateTags i-1 key=value</c>).</summary>
    public IReadOnlyList<string> Mutations
    {
        get
        {
            lock (_gate)
            {
                return [.. _mutations];
            }
        }
    }

    /// <summary>When set, every delete fails with it (an IAM denial, a throttle that outlasted the retries).</summary>
    public Exception? FailDeletesWith { get; set; }

    public void AddTarget(string targetId, string? networkInterfaceId)
    {
        lock (_gate)
        {
            _targets[targetId] = new TrafficMirrorTarget(targetId, networkInterfaceId is null ? "network-load-balancer" : "network-interface",
                networkInterfaceId is null ? "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/sensor/1" : null,
                networkInterfaceId, null, new Dictionary<string, string>());
        }
    }

    // ------------------------------------------------------------------ world control (not part of IEc2Client)

    public string Launch(
        IDictionary<string, string>? tags = null,
        string instanceType = "m5.large",
        int interfaces = 1,
        string vpcId = "vpc-1",
        string subnetId = "subnet-1",
        int invisibleDescribes = 0,
        IReadOnlyList<string>? interfaceTypes = null,
        int survivingInterfaces = 0,
        string availabilityZone = "us-east-1a")
    {
        lock (_gate)
        {
            var id = "i-" + (++_nextId).ToString("x17", System.Globalization.CultureInfo.InvariantCulture);
            var enis = Enumerable.Range(0, interfaces)
                .Select(n => new InstanceNetworkInterface("eni-" + (++_nextId).ToString("x17", System.Globalization.CultureInfo.InvariantCulture),
                    interfaceTypes is not null && n < interfaceTypes.Count ? interfaceTypes[n] : "interface", n, subnetId, $"10.0.0.{_nextId % 250}"))
                .ToList();
            _instances[id] = new FakeInstance
            {
                Id = id,
                Type = instanceType,
                State = "running",
                VpcId = vpcId,
                SubnetId = subnetId,
                AvailabilityZone = availabilityZone,
                Tags = new Dictionary<string, string>(tags ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                Interfaces = enis,
                LaunchTime = Tick(),
                InvisibleDescribes = invisibleDescribes,
                SurvivingInterfaces = survivingInterfaces,
            };
            return id;
        }
    }

    /// <summary>An instance with a given id and state and one interface <c>eni-&lt;id without i-&gt;</c> (the teardown's scenes).</summary>
    public Ec2Instance AddInstance(string id, string state, IReadOnlyDictionary<string, string> tags, string? stateTransitionReason = null, string availabilityZone = "us-east-1a")
    {
        lock (_gate)
        {
            var instance = new FakeInstance
            {
                Id = id,
                Type = "m5.large",
                State = state,
                VpcId = "vpc-1",
                SubnetId = "subnet-1",
                AvailabilityZone = availabilityZone,
                Tags = new Dictionary<string, string>(tags, StringComparer.Ordinal),
                Interfaces = [new InstanceNetworkInterface("eni-" + id[2..], "interface", 0, "subnet-1", "10.0.0.1")],
                StateTransitionReason = stateTransitionReason,
            };
            _instances[id] = instance;
            return instance.ToModel();
        }
    }

    /// <summary>A session as it is, whatever the rules would have said when it was made (number 1, no VNI).</summary>
    public TrafficMirrorSession AddSession(string id, string eniId, string targetId, IReadOnlyDictionary<string, string> tags, string? ownerId = null)
    {
        lock (_gate)
        {
            var session = new TrafficMirrorSession(id, eniId, targetId, "tmf-1", 1, null, null, null, tags, ownerId);
            _sessions[id] = session;
            return session;
        }
    }

    public DateTimeOffset Tick()
    {
        lock (_gate)
        {
            _clock = _clock.AddSeconds(1);
            return _clock;
        }
    }

    public void SetTag(string instanceId, string key, string value)
    {
        lock (_gate)
        {
            _instances[instanceId].Tags[key] = value;
        }
    }

    public void RemoveTag(string instanceId, string key)
    {
        lock (_gate)
        {
            _instances[instanceId].Tags.Remove(key);
        }
    }

    public void SetState(string instanceId, string state)
    {
        lock (_gate)
        {
            var instance = _instances[instanceId];
            if (instance.State == "terminated")
            {
                return;
            }

            if (state == "running" && instance.State != "running")
            {
                instance.LaunchTime = Tick();
            }

            instance.State = state;
            if (state == "terminated")
            {
                // Terminating deletes the instance's interfaces (all but those attached with DeleteOnTermination
                // false), and deleting a source interface deletes its sessions.
                foreach (var eni in instance.Interfaces.Take(instance.Interfaces.Count - instance.SurvivingInterfaces))
                {
                    foreach (var session in _sessions.Values.Where(s => s.NetworkInterfaceId == eni.NetworkInterfaceId).ToList())
                    {
                        _sessions.Remove(session.TrafficMirrorSessionId);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Detaches an interface from whatever instance holds it and, unless <paramref name="toInstanceId"/> is null,
    /// attaches it to that instance as its last device (a secondary interface moved for failover). Its sessions go
    /// with it, as on AWS. A detached interface is kept, sessions and all, until it is attached again.
    /// </summary>
    public void MoveInterface(string eniId, string? toInstanceId)
    {
        lock (_gate)
        {
            InstanceNetworkInterface? moved = _detached.Remove(eniId, out var parked) ? parked : null;
            foreach (var instance in _instances.Values)
            {
                var index = instance.Interfaces.FindIndex(n => n.NetworkInterfaceId == eniId);
                if (index >= 0)
                {
                    moved = instance.Interfaces[index];
                    instance.Interfaces.RemoveAt(index);
                }
            }

            if (moved is null)
            {
                throw new InvalidOperationException("no interface " + eniId);
            }

            if (toInstanceId is null)
            {
                _detached[eniId] = moved;
                return;
            }

            var target = _instances[toInstanceId];
            target.Interfaces.Add(moved with { DeviceIndex = target.Interfaces.Count == 0 ? 0 : target.Interfaces.Max(n => n.DeviceIndex) + 1 });
        }
    }

    public string InstanceState(string instanceId)
    {
        lock (_gate)
        {
            return _instances[instanceId].State;
        }
    }

    public IReadOnlyDictionary<string, string> TagsOf(string instanceId)
    {
        lock (_gate)
        {
            return new Dictionary<string, string>(_instances[instanceId].Tags);
        }
    }

    public IReadOnlyList<string> InterfacesOf(string instanceId)
    {
        lock (_gate)
        {
            return _instances[instanceId].Interfaces.Select(i => i.NetworkInterfaceId).ToList();
        }
    }

    public IReadOnlyList<TrafficMirrorSession> AllSessions()
    {
        lock (_gate)
        {
            return _sessions.Values.OrderBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal).ToList();
        }
    }

    public TrafficMirrorSession AddForeignSession(string eniId, string targetId, int sessionNumber, IReadOnlyDictionary<string, string>? tags = null)
    {
        lock (_gate)
        {
            CheckRules(eniId, sessionNumber);
            var session = new TrafficMirrorSession("tms-" + (++_nextId).ToString("x17", System.Globalization.CultureInfo.InvariantCulture), eniId, targetId,
                "tmf-foreign", sessionNumber, 777, null, "someone else's", tags ?? new Dictionary<string, string> { ["owner"] = "blue-team" });
            _sessions[session.TrafficMirrorSessionId] = session;
            return session;
        }
    }

    // ------------------------------------------------------------------ IEc2Client

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        Count("DescribeInstances");
        lock (_gate)
        {
            var result = new List<Ec2Instance>();
            foreach (var id in instanceIds)
            {
                if (!_instances.TryGetValue(id, out var instance) || instance.InvisibleDescribes > 0)
                {
                    if (instance is not null)
                    {
                        instance.InvisibleDescribes--;
                    }

                    throw Error("InvalidInstanceID.NotFound", $"The instance ID '{id}' does not exist");
                }

                result.Add(instance.ToModel());
            }

            return Task.FromResult<IReadOnlyList<Ec2Instance>>(result);
        }
    }

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        Count("DescribeInstances");
        lock (_gate)
        {
            var result = _instances.Values.Where(i => i.InvisibleDescribes == 0).Select(i => i.ToModel()).Where(i => filters.All(f => f.Name switch
            {
                "tag-key" => f.Values.Any(i.Tags.ContainsKey),
                var n when n.StartsWith("tag:", StringComparison.Ordinal) => i.Tags.TryGetValue(n[4..], out var v) && f.Values.Contains(v),
                "instance-state-name" => f.Values.Contains(i.State),
                "vpc-id" => i.VpcId is not null && f.Values.Contains(i.VpcId),
                "instance-id" => f.Values.Contains(i.InstanceId),
                "network-interface.network-interface-id" => i.NetworkInterfaces.Any(n => f.Values.Contains(n.NetworkInterfaceId)),
                _ => throw new NotSupportedException("fake DescribeInstances filter " + f.Name),
            })).ToList();
            return Task.FromResult<IReadOnlyList<Ec2Instance>>(result);
        }
    }

    public Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken)
    {
        Count("DescribeInstanceTypes");
        var result = new List<InstanceTypeInfo>();
        foreach (var type in instanceTypes)
        {
            var family = type.Split('.')[0];
            if (family == "zz9")
            {
                throw Error("InvalidInstanceType", $"The following supplied instance types do not exist: [{type}]");
            }

            var xen = family is "t2" or "c4" or "m4" or "r4" or "i3" or "d2" or "p2" or "p3" or "x1" or "x1e" or "g3" or "h1" or "m3" or "c3";
            result.Add(new InstanceTypeInfo(type, xen ? "xen" : type.EndsWith(".metal", StringComparison.Ordinal) ? null : "nitro", type.EndsWith(".metal", StringComparison.Ordinal)));
        }

        return Task.FromResult<IReadOnlyList<InstanceTypeInfo>>(result);
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        Count("DescribeTrafficMirrorSessions");
        lock (_gate)
        {
            var result = _sessions.Values.Where(s => filters.All(f => f.Name switch
            {
                "network-interface-id" => f.Values.Contains(s.NetworkInterfaceId),
                "traffic-mirror-target-id" => f.Values.Contains(s.TrafficMirrorTargetId),
                "traffic-mirror-session-id" => f.Values.Contains(s.TrafficMirrorSessionId),
                var n when n.StartsWith("tag:", StringComparison.Ordinal) => s.Tags.TryGetValue(n[4..], out var v) && f.Values.Contains(v),
                _ => throw new NotSupportedException("fake DescribeTrafficMirrorSessions filter " + f.Name),
            })).ToList();
            return Task.FromResult<IReadOnlyList<TrafficMirrorSession>>(result);
        }
    }

    public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        Count("DescribeTrafficMirrorTargets");
        lock (_gate)
        {
            var ids = filters.FirstOrDefault(f => f.Name == "traffic-mirror-target-id")?.Values;
            return Task.FromResult<IReadOnlyList<TrafficMirrorTarget>>(_targets.Values.Where(t => ids is null || ids.Contains(t.TrafficMirrorTargetId)).ToList());
        }
    }

    public Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
    {
        Count("CreateTrafficMirrorSession");
        lock (_gate)
        {
            if (_tokens.TryGetValue(request.ClientToken, out var earlier))
            {
                if (!SameParameters(earlier.Request, request))
                {
                    throw Error("IdempotentParameterMismatch", "The client token was used with different parameters");
                }

                // EC2 answers a repeated token with what it created, even if that has been deleted since.
                return Task.FromResult(earlier.Session);
            }

            var owner = _instances.Values.FirstOrDefault(i => i.State != "terminated" && i.Interfaces.Any(n => n.NetworkInterfaceId == request.NetworkInterfaceId))
                ?? throw Error("InvalidNetworkInterfaceID.NotFound", $"The networkInterface ID '{request.NetworkInterfaceId}' does not exist");
            if (RefusedTypes.Contains(owner.Type))
            {
                throw Error("NetworkInterfaceNotSupported", $"The network interface of an instance of type {owner.Type} cannot be a traffic mirror source");
            }

            if (!_targets.TryGetValue(request.TrafficMirrorTargetId, out var target))
            {
                throw Error("InvalidTrafficMirrorTargetId.NotFound", "no such target");
            }

            if (target.NetworkInterfaceId == request.NetworkInterfaceId)
            {
                throw Error("InvalidParameterValue", "A network interface cannot be both source and target");
            }

            CheckRules(request.NetworkInterfaceId, request.SessionNumber);
            CheckTargetRoom(target, request.NetworkInterfaceId);
            var session = new TrafficMirrorSession("tms-" + (++_nextId).ToString("x17", System.Globalization.CultureInfo.InvariantCulture),
                request.NetworkInterfaceId, request.TrafficMirrorTargetId, request.TrafficMirrorFilterId, request.SessionNumber,
                request.VirtualNetworkId ?? _random.Next(1, 1 << 24), request.PacketLength, request.Description, new Dictionary<string, string>(request.Tags));
            _sessions[session.TrafficMirrorSessionId] = session;
            _tokens[request.ClientToken] = (request, session);
            return Task.FromResult(session);
        }
    }

    public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken)
    {
        Count("DeleteTrafficMirrorSession");
        lock (_gate)
        {
            _mutations.Add("DeleteTrafficMirrorSession " + trafficMirrorSessionId);
            if (FailDeletesWith is not null)
            {
                throw FailDeletesWith;
            }

            if (!_sessions.Remove(trafficMirrorSessionId))
            {
                throw Error("InvalidTrafficMirrorSessionId.NotFound", $"The traffic mirror session '{trafficMirrorSessionId}' does not exist");
            }
        }

        return Task.CompletedTask;
    }

    public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        Count("CreateTags");
        lock (_gate)
        {
            _mutations.Add($"CreateTags {string.Join(",", resourceIds.Order())} {string.Join(",", tags.Select(t => t.Key + "=" + t.Value))}");
            foreach (var id in resourceIds)
            {
                if (!_instances.TryGetValue(id, out var instance))
                {
                    throw Error("InvalidInstanceID.NotFound", $"The instance ID '{id}' does not exist");
                }

                foreach (var (key, value) in tags)
                {
                    instance.Tags[key] = value;
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken)
    {
        Count("DeleteTags");
        lock (_gate)
        {
            _mutations.Add($"DeleteTags {string.Join(",", resourceIds.Order())} {string.Join(",", tagKeys)}");
            foreach (var id in resourceIds)
            {
                if (_instances.TryGetValue(id, out var instance))
                {
                    foreach (var key in tagKeys)
                    {
                        instance.Tags.Remove(key);
                    }
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        Count("StopInstances");
        return Task.FromResult(BeginStateChange("StopInstances", instanceIds, "stopping"));
    }

    public Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        Count("TerminateInstances");
        return Task.FromResult(BeginStateChange("TerminateInstances", instanceIds, "shutting-down"));
    }

    private IReadOnlyList<InstanceStateChange> BeginStateChange(string operation, IReadOnlyCollection<string> instanceIds, string state)
    {
        lock (_gate)
        {
            _mutations.Add(operation + " " + string.Join(",", instanceIds.Order()));
            var changes = new List<InstanceStateChange>();
            foreach (var id in instanceIds)
            {
                if (_instances.TryGetValue(id, out var instance))
                {
                    changes.Add(new InstanceStateChange(id, instance.State, state));
                    instance.State = state;
                }
            }

            return changes;
        }
    }

    // ------------------------------------------------------------------ helpers

    private void CheckRules(string eniId, int sessionNumber)
    {
        if (sessionNumber is < 1 or > 32766)
        {
            throw Error("InvalidParameterValue", "SessionNumber must be between 1 and 32766");
        }

        var onEni = _sessions.Values.Where(s => s.NetworkInterfaceId == eniId).ToList();
        if (onEni.Count >= 3)
        {
            throw Error("TrafficMirrorSessionsPerInterfaceLimitExceeded", "The maximum number of sessions for this network interface has been reached");
        }

        if (onEni.Any(s => s.SessionNumber == sessionNumber))
        {
            throw Error("InvalidParameterValue", $"Session number {sessionNumber} is already in use on {eniId}");
        }
    }

    /// <summary>AWS's sources per interface target: 10, or 100 when the target's instance is one of the large types.</summary>
    public int InterfaceTargetSourceLimit { get; set; } = 10;

    private void CheckTargetRoom(TrafficMirrorTarget target, string eniId)
    {
        if (target.NetworkInterfaceId is null)
        {
            return; // load balancer and endpoint targets take any number of sources
        }

        var sources = _sessions.Values.Where(s => s.TrafficMirrorTargetId == target.TrafficMirrorTargetId).Select(s => s.NetworkInterfaceId).ToHashSet();
        if (!sources.Contains(eniId) && sources.Count >= InterfaceTargetSourceLimit)
        {
            throw Error("TrafficMirrorSourcesPerTargetLimitExceeded", $"Sources per interface-target limit reached ({sources.Count + 1}); the limit is {InterfaceTargetSourceLimit}.");
        }
    }

    private static bool SameParameters(CreateTrafficMirrorSessionRequest a, CreateTrafficMirrorSessionRequest b) =>
        a.NetworkInterfaceId == b.NetworkInterfaceId && a.TrafficMirrorTargetId == b.TrafficMirrorTargetId
        && a.TrafficMirrorFilterId == b.TrafficMirrorFilterId && a.SessionNumber == b.SessionNumber
        && a.VirtualNetworkId == b.VirtualNetworkId && a.PacketLength == b.PacketLength;

    private void Count(string operation)
    {
        Calls.AddOrUpdate(operation, 1, (_, n) => n + 1);
        double roll;
        lock (_gate)
        {
            roll = _random.NextDouble();
        }

        if (roll < ThrottleRate)
        {
            throw new ThrottledException("RequestLimitExceeded", "Request limit exceeded.", null, HttpStatusCode.ServiceUnavailable);
        }

        if (roll < ThrottleRate + TransientRate)
        {
            throw new TransientServiceException("InternalError", "An internal error has occurred", null, HttpStatusCode.InternalServerError);
        }
    }

    private static AwsServiceException Error(string code, string message) => new(code, message, "req-fake", HttpStatusCode.BadRequest);

    private sealed class FakeInstance
    {
        public required string Id { get; init; }

        public required string Type { get; init; }

        public required string State { get; set; }

        public required string VpcId { get; init; }

        public required string SubnetId { get; init; }

        public required Dictionary<string, string> Tags { get; init; }

        public required List<InstanceNetworkInterface> Interfaces { get; init; }

        public DateTimeOffset LaunchTime { get; set; }

        public int InvisibleDescribes { get; set; }

        public int SurvivingInterfaces { get; init; }

        public string? StateTransitionReason { get; init; }

        public string? AvailabilityZone { get; init; }

        public Ec2Instance ToModel() => new(Id, Type, State, VpcId, SubnetId, Interfaces.FirstOrDefault()?.PrivateIpAddress,
            new Dictionary<string, string>(Tags, StringComparer.Ordinal), State == "terminated" ? [] : Interfaces.ToList(), LaunchTime,
            StateTransitionReason, AvailabilityZone);
    }
}
