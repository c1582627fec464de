using System.Net;
using AutoMirror.Aws;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Functions.Tests.Teardown;

public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>An in-memory EC2 with the filters the teardown uses, recording every mutating call.</summary>
public sealed class FakeEc2 : IEc2Client
{
    public List<Ec2Instance> Instances { get; } = [];

    public List<TrafficMirrorSession> Sessions { get; } = [];

    public List<string> Calls { get; } = [];

    public Ec2Instance AddInstance(string id, string state, IReadOnlyDictionary<string, string> tags, string? reason = null)
    {
        var instance = new Ec2Instance(id, "m5.large", state, "vpc-1", "subnet-1", "10.0.0.1", tags,
            [new InstanceNetworkInterface("eni-" + id[2..], "interface", 0, "subnet-1", "10.0.0.1")], null, reason);
        Instances.Add(instance);
        return instance;
    }

    public TrafficMirrorSession AddSession(string id, string eni, string target, IReadOnlyDictionary<string, string> tags)
    {
        var session = new TrafficMirrorSession(id, eni, target, "tmf-1", 1, null, null, null, tags);
        Sessions.Add(session);
        return session;
    }

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Ec2Instance>>([.. Instances.Where(i => instanceIds.Contains(i.InstanceId))]);

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        Calls.Add("DescribeInstances");
        IEnumerable<Ec2Instance> result = Instances;
        foreach (var filter in filters)
        {
            result = filter.Name switch
            {
                "tag-key" => result.Where(i => filter.Values.Any(i.Tags.ContainsKey)),
                "instance-state-name" => result.Where(i => filter.Values.Contains(i.State)),
                var n when n.StartsWith("tag:", StringComparison.Ordinal) =>
                    result.Where(i => i.Tags.TryGetValue(n[4..], out var v) && filter.Values.Contains(v)),
                _ => throw new NotSupportedException(filter.Name),
            };
        }

        return Task.FromResult<IReadOnlyList<Ec2Instance>>([.. result]);
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken)
    {
        IEnumerable<TrafficMirrorSession> result = Sessions;
        foreach (var filter in filters)
        {
            result = filter.Name switch
            {
                "traffic-mirror-target-id" => result.Where(s => filter.Values.Contains(s.TrafficMirrorTargetId)),
                "traffic-mirror-session-id" => result.Where(s => filter.Values.Contains(s.TrafficMirrorSessionId)),
                var n when n.StartsWith("tag:", StringComparison.Ordinal) =>
                    result.Where(s => s.Tags.TryGetValue(n[4..], out var v) && filter.Values.Contains(v)),
                _ => throw new NotSupportedException(filter.Name),
            };
        }

        return Task.FromResult<IReadOnlyList<TrafficMirrorSession>>([.. result]);
    }

    /// <summary>When set, every delete fails with it (an IAM denial, a throttle that outlasted the retries).</summary>
    public Exception? FailDeletesWith { get; set; }

    public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken)
    {
        Calls.Add("DeleteTrafficMirrorSession " + trafficMirrorSessionId);
        if (FailDeletesWith is not null)
        {
            throw FailDeletesWith;
        }

        if (Sessions.RemoveAll(s => s.TrafficMirrorSessionId == trafficMirrorSessionId) == 0)
        {
            throw new AwsServiceException("InvalidTrafficMirrorSessionId.NotFound", "gone", null, HttpStatusCode.BadRequest);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        Calls.Add("StopInstances " + string.Join(",", instanceIds.Order()));
        return Task.FromResult(SetState(instanceIds, "stopping"));
    }

    public Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        Calls.Add("TerminateInstances " + string.Join(",", instanceIds.Order()));
        return Task.FromResult(SetState(instanceIds, "shutting-down"));
    }

    private IReadOnlyList<InstanceStateChange> SetState(IReadOnlyCollection<string> ids, string state)
    {
        var changes = new List<InstanceStateChange>();
        for (var k = 0; k < Instances.Count; k++)
        {
            if (ids.Contains(Instances[k].InstanceId))
            {
                changes.Add(new InstanceStateChange(Instances[k].InstanceId, Instances[k].State, state));
                Instances[k] = Instances[k] with { State = state };
            }
        }

        return changes;
    }

    public IEnumerable<string> Mutations => Calls.Where(c => !c.StartsWith("Describe", StringComparison.Ordinal));

    public Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken) => throw new NotSupportedException("teardown never creates sessions");

    public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        Calls.Add($"CreateTags {string.Join(",", resourceIds.Order())} {string.Join(",", tags.Select(t => t.Key + "=" + t.Value))}");
        for (var k = 0; k < Instances.Count; k++)
        {
            if (resourceIds.Contains(Instances[k].InstanceId))
            {
                var merged = new Dictionary<string, string>(Instances[k].Tags);
                foreach (var (key, value) in tags)
                {
                    merged[key] = value;
                }

                Instances[k] = Instances[k] with { Tags = merged };
            }
        }

        return Task.CompletedTask;
    }

    public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken) => throw new NotSupportedException("teardown never untags");
}

/// <summary>CloudWatch answering from per-instance series: instance id → (metric → datapoints).</summary>
public sealed class FakeCloudWatch : ICloudWatchClient
{
    public Dictionary<string, Dictionary<string, List<(DateTimeOffset Time, double Value)>>> Series { get; } = [];

    public string StatusCode { get; set; } = "Complete";

    public int Calls { get; private set; }

    /// <summary>Zero- or fixed-valued datapoints every five minutes from <paramref name="from"/> up to <paramref name="to"/>.</summary>
    public void Fill(string instanceId, DateTimeOffset from, DateTimeOffset to, double value, params string[] metrics)
    {
        if (!Series.TryGetValue(instanceId, out var byMetric))
        {
            Series[instanceId] = byMetric = [];
        }

        foreach (var metric in metrics.Length == 0 ? ["NetworkMirrorIn", "NetworkMirrorOut"] : metrics)
        {
            if (!byMetric.TryGetValue(metric, out var points))
            {
                byMetric[metric] = points = [];
            }

            for (var t = from; t < to; t += TimeSpan.FromMinutes(5))
            {
                points.Add((t, value));
            }
        }
    }

    public Task<IReadOnlyList<MetricDataResult>> GetMetricDataAsync(
        IReadOnlyList<MetricDataQuery> queries, DateTimeOffset startTime, DateTimeOffset endTime, CancellationToken cancellationToken)
    {
        Calls++;
        var results = new List<MetricDataResult>();
        foreach (var query in queries)
        {
            Assert.Equal("AWS/EC2", query.Namespace);
            Assert.Equal("Sum", query.Stat);
            var points = Series.GetValueOrDefault(query.Dimensions["InstanceId"])?.GetValueOrDefault(query.MetricName) ?? [];
            var inRange = points.Where(p => p.Time >= startTime && p.Time < endTime).ToList();
            results.Add(new MetricDataResult(query.Id, StatusCode, [.. inRange.Select(p => p.Time)], [.. inRange.Select(p => p.Value)]));
        }

        return Task.FromResult<IReadOnlyList<MetricDataResult>>(results);
    }
}

public sealed class FakeStepFunctions : IStepFunctionsClient
{
    public Dictionary<string, string> Started { get; } = [];

    public Task<StartedExecution> StartExecutionAsync(string stateMachineArn, string name, string inputJson, CancellationToken cancellationToken)
    {
        if (Started.TryGetValue(name, out var existing) && existing != inputJson)
        {
            throw new AwsServiceException("ExecutionAlreadyExists", name, null, HttpStatusCode.BadRequest);
        }

        Started[name] = inputJson;
        return Task.FromResult(new StartedExecution(stateMachineArn.Replace(":stateMachine:", ":execution:", StringComparison.Ordinal) + ":" + name, DateTimeOffset.UnixEpoch));
    }

    public Task<ExecutionDescription> DescribeExecutionAsync(string executionArn, CancellationToken cancellationToken) => throw new NotSupportedException();
}
