namespace AutoMirror.Aws.Ec2;

/// <summary>An EC2 API filter: Filter.N.Name with Filter.N.Value.M.</summary>
public sealed record Ec2Filter(string Name, IReadOnlyList<string> Values)
{
    public Ec2Filter(string name, string value) : this(name, [value]) { }
}

public sealed record Ec2Instance(
    string InstanceId,
    string InstanceType,
    string State,
    string? VpcId,
    string? SubnetId,
    string? PrivateIpAddress,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<InstanceNetworkInterface> NetworkInterfaces,
    DateTimeOffset? LaunchTime,
    string? StateTransitionReason = null,
    string? AvailabilityZone = null);

public sealed record InstanceNetworkInterface(
    string NetworkInterfaceId,
    string? InterfaceType,
    int DeviceIndex,
    string? SubnetId,
    string? PrivateIpAddress);

public sealed record InstanceTypeInfo(string InstanceType, string? Hypervisor, bool BareMetal);

public sealed record TrafficMirrorSession(
    string TrafficMirrorSessionId,
    string NetworkInterfaceId,
    string TrafficMirrorTargetId,
    string TrafficMirrorFilterId,
    int SessionNumber,
    int? VirtualNetworkId,
    int? PacketLength,
    string? Description,
    IReadOnlyDictionary<string, string> Tags,
    string? OwnerId = null);

public sealed record TrafficMirrorTarget(
    string TrafficMirrorTargetId,
    string? Type,
    string? NetworkLoadBalancerArn,
    string? NetworkInterfaceId,
    string? GatewayLoadBalancerEndpointId,
    IReadOnlyDictionary<string, string> Tags);

/// <summary>
/// CreateTrafficMirrorSession. PacketLength null mirrors whole packets; VirtualNetworkId null lets AWS pick a
/// unique VNI; ClientToken makes the call idempotent.
/// </summary>
public sealed record CreateTrafficMirrorSessionRequest(
    string NetworkInterfaceId,
    string TrafficMirrorTargetId,
    string TrafficMirrorFilterId,
    int SessionNumber,
    int? VirtualNetworkId,
    int? PacketLength,
    string ClientToken,
    IReadOnlyDictionary<string, string> Tags,
    string? Description = null);

public sealed record InstanceStateChange(string InstanceId, string PreviousState, string CurrentState);
