using AutoMirror.Aws.LoadBalancing;

namespace AutoMirror.Functions.Tests.Fakes;

public sealed class FakeLoadBalancing : ILoadBalancingClient
{
    public List<TargetHealthDescription> Targets { get; } = [new("i-sensor", 4789, "healthy", null, null)];

    public Task<IReadOnlyList<TargetHealthDescription>> DescribeTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TargetHealthDescription>>(Targets.ToList());

    public Task<IReadOnlyList<Listener>> DescribeListenersAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyList<TargetGroup>> DescribeTargetGroupsAsync(string? loadBalancerArn, IReadOnlyCollection<string>? targetGroupArns, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyDictionary<string, string>> DescribeLoadBalancerAttributesAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<IReadOnlyDictionary<string, string>> DescribeTargetGroupAttributesAsync(string targetGroupArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
}
