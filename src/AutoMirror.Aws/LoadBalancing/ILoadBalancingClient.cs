namespace AutoMirror.Aws.LoadBalancing;

/// <summary>The Elastic Load Balancing v2 operations AutoMirror calls (API version 2015-12-01).</summary>
public interface ILoadBalancingClient
{
    Task<IReadOnlyList<TargetHealthDescription>> DescribeTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken);

    Task<IReadOnlyList<Listener>> DescribeListenersAsync(string loadBalancerArn, CancellationToken cancellationToken);

    /// <summary>Target groups of a load balancer, or the named ones; all pages.</summary>
    Task<IReadOnlyList<TargetGroup>> DescribeTargetGroupsAsync(string? loadBalancerArn, IReadOnlyCollection<string>? targetGroupArns, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, string>> DescribeLoadBalancerAttributesAsync(string loadBalancerArn, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, string>> DescribeTargetGroupAttributesAsync(string targetGroupArn, CancellationToken cancellationToken);
}

/// <summary><see cref="AvailabilityZone"/>: ELBv2 returns it for IP targets (or "all"); instance targets leave it out.</summary>
public sealed record TargetHealthDescription(string TargetId, int? Port, string State, string? Reason, string? Description, string? AvailabilityZone = null);

public sealed record Listener(string ListenerArn, string LoadBalancerArn, string Protocol, int Port);

public sealed record TargetGroup(
    string TargetGroupArn,
    string TargetGroupName,
    string? Protocol,
    int? Port,
    string? VpcId,
    string? HealthCheckProtocol,
    string? HealthCheckPort,
    IReadOnlyList<string> LoadBalancerArns);
