using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Functions.Tests;

public class SensorHealthTests
{
    [Fact]
    public async Task HealthyAnswer_IsReusedWithinItsMaxAge_AndAskedAgainOnceOlder()
    {
        var time = new ManualTimeProvider();
        var elb = new CountingLoadBalancing();
        var health = new SensorHealth(elb, new TestWorld().Settings, time, TimeSpan.FromSeconds(60));

        var first = await health.CheckAsync(default);
        time.Advance(TimeSpan.FromSeconds(59));
        var second = await health.CheckAsync(default);
        time.Advance(TimeSpan.FromSeconds(2));
        var third = await health.CheckAsync(default);

        Assert.Equal((true, false), (first.Health.Healthy, first.Cached));
        Assert.Equal((true, true), (second.Health.Healthy, second.Cached));
        Assert.False(third.Cached);
        Assert.Equal(2, elb.Calls);
    }

    [Fact]
    public async Task UnhealthyAnswer_IsNeverReused_SoAPollSeesTheSensorRecover()
    {
        var time = new ManualTimeProvider();
        var elb = new CountingLoadBalancing();
        elb.Targets[0] = elb.Targets[0] with { State = "unhealthy" };
        var health = new SensorHealth(elb, new TestWorld().Settings, time);

        Assert.False((await health.CheckAsync(default)).Health.Healthy);
        elb.Targets[0] = elb.Targets[0] with { State = "healthy" };
        var recovered = await health.CheckAsync(default);

        Assert.True(recovered.Health.Healthy);
        Assert.False(recovered.Cached);
        Assert.Equal(2, elb.Calls);
    }

    [Fact]
    public async Task EachContainer_AsksOnce_AndThatContainersInvocationsShareTheAnswer()
    {
        // Two warm containers of TargetHealthFunction: each has its own services, so each asks ELB once.
        var a = new TestWorld();
        var b = new TestWorld();
        var elb = new CountingLoadBalancing();
        var healthA = new SensorHealth(elb, a.Settings, TimeProvider.System);
        var healthB = new SensorHealth(elb, b.Settings, TimeProvider.System);

        for (var i = 0; i < 10; i++)
        {
            await healthA.CheckAsync(default);
            await healthB.CheckAsync(default);
        }

        Assert.Equal(2, elb.Calls);
    }

    [Fact]
    public async Task ConcurrentCallers_ShareOneRequest()
    {
        var elb = new CountingLoadBalancing { Latency = TimeSpan.FromMilliseconds(200) };
        var health = new SensorHealth(elb, new TestWorld().Settings, TimeProvider.System);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => health.CheckAsync(default)));

        Assert.All(answers, a => Assert.True(a.Health.Healthy));
        Assert.Equal(1, elb.Calls);
    }

    [Fact]
    public async Task AttachWorkflowGate_InAWarmContainer_AsksElbOncePerMaxAge()
    {
        var world = new TestWorld();
        var elb = new CountingLoadBalancing();
        var services = new AutoMirror.Core.Composition.AutoMirrorServices(world.Settings, world.Ec2, elb, world.StepFunctions, TimeProvider.System, world.Log);

        for (var i = 0; i < 5; i++)
        {
            Assert.True((await services.Reconciler.CheckTargetHealthAsync(null, default)).Healthy);
        }

        Assert.Equal(1, elb.Calls);
        Assert.Equal(4, world.Log.Decisions.Count(d => d.Action == "target-health" && d.Reason == "healthy-cached"));
    }

    private sealed class CountingLoadBalancing : ILoadBalancingClient
    {
        private readonly FakeLoadBalancing _inner = new();
        private int _calls;

        public int Calls => _calls;

        public List<TargetHealthDescription> Targets => _inner.Targets;

        public TimeSpan? Latency
        {
            get => _inner.Latency;
            init => _inner.Latency = value;
        }

        public Task<IReadOnlyList<TargetHealthDescription>> DescribeTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return _inner.DescribeTargetHealthAsync(targetGroupArn, cancellationToken);
        }

        public Task<IReadOnlyList<Listener>> DescribeListenersAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
            _inner.DescribeListenersAsync(loadBalancerArn, cancellationToken);

        public Task<IReadOnlyList<TargetGroup>> DescribeTargetGroupsAsync(string? loadBalancerArn, IReadOnlyCollection<string>? targetGroupArns, CancellationToken cancellationToken) =>
            _inner.DescribeTargetGroupsAsync(loadBalancerArn, targetGroupArns, cancellationToken);

        public Task<IReadOnlyDictionary<string, string>> DescribeLoadBalancerAttributesAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
            _inner.DescribeLoadBalancerAttributesAsync(loadBalancerArn, cancellationToken);

        public Task<IReadOnlyDictionary<string, string>> DescribeTargetGroupAttributesAsync(string targetGroupArn, CancellationToken cancellationToken) =>
            _inner.DescribeTargetGroupAttributesAsync(targetGroupArn, cancellationToken);
    }
}
