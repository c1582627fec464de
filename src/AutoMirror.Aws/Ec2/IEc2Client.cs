namespace AutoMirror.Aws.Ec2;

/// <summary>The EC2 operations AutoMirror calls (API version 2016-11-15), and no others.</summary>
public interface IEc2Client
{
    /// <summary>Instances by id. Unknown ids raise <see cref="AwsServiceException"/> with InvalidInstanceID.NotFound / .Malformed.</summary>
    Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken);

    /// <summary>Instances matching EC2 filters (for example tag-key, tag:Name, instance-state-name), all pages.</summary>
    Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken);

    /// <summary>Hypervisor and bare-metal facts per type, all pages. Implementations cache answers per process.</summary>
    Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken);

    Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken);

    Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken);

    Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken);

    Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken);

    Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken);

    Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken);

    Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken);

    Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken);
}
