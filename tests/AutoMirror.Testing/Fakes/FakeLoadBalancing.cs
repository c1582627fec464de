using AutoMirror.Aws.LoadBalancing;

namespace AutoMirror.Testing.Fakes;

public sealed class FakeLoadBalancing : ILoadBalancingClient
{
    public List<TargetHealthDescription> Targets { get; } = [new("i-sensor", 4789, "healthy", null, null)];

    /// <summary>When set, each call takes this long unless cancelled, as a slow AWS call honouring its token does.</summary>
    public TimeSpan? Latency { get; set; }

    public async Task<IReadOnlyList<TargetHealthDescription>> DescribeTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken)
    {
        if (Latency is { } latency)
        {
            await Task.Delay(latency, cancellationToken);
        }

        return Targets.ToList();
    }

    public Task<IReadOnlyList<Listener>> DescribeListenersAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyList<TargetGroup>> DescribeTargetGroupsAsync(string? loadBalancerArn, IReadOnlyCollection<string>? targetGroupArns, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyDictionary<string, string>> DescribeLoadBalancerAttributesAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyDictionary<string, string>> DescribeTargetGroupAttributesAsync(string targetGroupArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
}
