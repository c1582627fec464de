using AutoMirror.Aws.Ec2;
using AutoMirror.Cli.Reconcile;

namespace AutoMirror.Cli.Tests;

public sealed class DryRunEc2ClientTests
{
    private static readonly Dictionary<string, string> NoTags = [];

    /// <summary>A read-only account: any write that reaches it fails the test.</summary>
    private sealed class ReadOnlyEc2(List<TrafficMirrorSession> sessions) : IEc2Client
    {
        public Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<TrafficMirrorSession>>([.. sessions.Where(s => filters.All(f => f.Name != "network-interface-id" || f.Values.Contains(s.NetworkInterfaceId)))]);

        public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Ec2Instance>>([]);

        public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Ec2Instance>>([]);

        public Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<InstanceTypeInfo>>([]);

            public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TrafficMirrorTarget>>([]);

            public Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");

        public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");

        public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");

        public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");

        public Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");

        public Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) => throw new InvalidOperationException("write reached AWS");
    }

    [Fact]
    public async Task Writes_AreRecordedAndSeenByLaterReads_NeverSent()
    {
        var existing = new TrafficMirrorSession("tms-old", "eni-1", "tmt-1", "tmf-1", 1, 5, null, null, NoTags);
        var ec2 = new DryRunEc2Client(new ReadOnlyEc2([existing]));
        var request = new CreateTrafficMirrorSessionRequest("eni-2", "tmt-1", "tmf-1", 1, 7, null, "token-a", NoTags);

        await ec2.DeleteTrafficMirrorSessionAsync("tms-old", default);
        var created = await ec2.CreateTrafficMirrorSessionAsync(request, default);
        var again = await ec2.CreateTrafficMirrorSessionAsync(request, default);
        await ec2.CreateTagsAsync(["i-1"], new Dictionary<string, string> { ["automirror:status"] = "mirrored" }, default);
        var onEni2 = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", "eni-2")], default);
        var onEni1 = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", "eni-1")], default);

        Assert.Same(created, again);
        Assert.Equal([created.TrafficMirrorSessionId], onEni2.Select(s => s.TrafficMirrorSessionId));
        Assert.Empty(onEni1);
        Assert.Equal(["delete-session tms-old", "create-session eni-2", "tag i-1"], ec2.Changes.Select(c => c.Action + " " + c.ResourceId));
    }
}
