using System.Collections.Concurrent;
using System.Xml.Linq;

namespace AutoMirror.Aws.Ec2;

/// <summary>
/// The bench's baseline only: the hand-written EC2 Query client AutoMirror used before AWSSDK.EC2 (its last version,
/// less the two operations nothing called), so bench/coldstart can compare the same handler on both from one tree.
/// Compiled into a copy of AutoMirror.Aws in place of src/AutoMirror.Aws/Ec2/Ec2Client.cs; never shipped.
/// </summary>
internal sealed class Ec2Client(AwsPipeline pipeline, Ec2RateLimits? rateLimits) : IEc2Client, IDisposable
{
    // The largest page each Describe accepts; fewer round trips means fewer tokens spent.
    private const int InstancesPage = 1000;
    private const int TrafficMirrorPage = 1000;
    private const int InstanceTypesPerCall = 100;

    private static readonly AwsService Service = AwsService.Ec2;

    private readonly ConcurrentDictionary<string, InstanceTypeInfo> _instanceTypes = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        if (instanceIds.Count == 0)
        {
            // An empty id list would mean "every instance" to EC2: never what a caller asking by id wants.
            return [];
        }

        // MaxResults may not be combined with InstanceId, but EC2 can still paginate the answer.
        return await PagesAsync(
            () => new QueryRequest(Service, "DescribeInstances").AddFlatList("InstanceId", instanceIds),
            ReadInstances, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            () => new QueryRequest(Service, "DescribeInstances").AddFilters(filters).Add("MaxResults", InstancesPage),
            ReadInstances, cancellationToken);

    public async Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken)
    {
        var missing = instanceTypes.Distinct(StringComparer.Ordinal).Where(t => !_instanceTypes.ContainsKey(t)).ToList();
        foreach (var chunk in missing.Chunk(InstanceTypesPerCall))
        {
            var found = await PagesAsync(
                () => new QueryRequest(Service, "DescribeInstanceTypes").AddFlatList("InstanceType", chunk),
                root => root.Items("instanceTypeSet").Select(item => new InstanceTypeInfo(
                    item.Required("instanceType"), item.Text("hypervisor"), item.Bool("bareMetal"))),
                cancellationToken).ConfigureAwait(false);
            foreach (var info in found)
            {
                _instanceTypes[info.InstanceType] = info;
            }
        }

        // Types EC2 did not describe (not offered in this region) are simply absent from the answer.
        return instanceTypes.Distinct(StringComparer.Ordinal)
            .Select(t => _instanceTypes.GetValueOrDefault(t))
            .OfType<InstanceTypeInfo>()
            .ToList();
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            () => new QueryRequest(Service, "DescribeTrafficMirrorSessions").AddFilters(filters).Add("MaxResults", TrafficMirrorPage),
            root => root.Items("trafficMirrorSessionSet").Select(ReadSession),
            cancellationToken);

    public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            () => new QueryRequest(Service, "DescribeTrafficMirrorTargets").AddFilters(filters).Add("MaxResults", TrafficMirrorPage),
            root => root.Items("trafficMirrorTargetSet").Select(item => new TrafficMirrorTarget(
                item.Required("trafficMirrorTargetId"),
                item.Text("type"),
                item.Text("networkLoadBalancerArn"),
                item.Text("networkInterfaceId"),
                item.Text("gatewayLoadBalancerEndpointId"),
                item.Tags("tagSet"))),
            cancellationToken);

    public async Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
    {
        var query = new QueryRequest(Service, "CreateTrafficMirrorSession")
            .Add("NetworkInterfaceId", request.NetworkInterfaceId)
            .Add("TrafficMirrorTargetId", request.TrafficMirrorTargetId)
            .Add("TrafficMirrorFilterId", request.TrafficMirrorFilterId)
            .Add("SessionNumber", request.SessionNumber)
            .Add("VirtualNetworkId", request.VirtualNetworkId)
            .Add("PacketLength", request.PacketLength)
            .Add("Description", request.Description)
            .Add("ClientToken", request.ClientToken);
        if (request.Tags.Count > 0)
        {
            query.Add("TagSpecification.1.ResourceType", "traffic-mirror-session").AddTags("TagSpecification.1.Tag", request.Tags);
        }

        var root = await SendAsync(query, cancellationToken).ConfigureAwait(false);
        var session = root.Child("trafficMirrorSession") ?? throw new FormatException("CreateTrafficMirrorSession answer has no trafficMirrorSession");
        return ReadSession(session);
    }

    public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken) =>
        SendAsync(new QueryRequest(Service, "DeleteTrafficMirrorSession").Add("TrafficMirrorSessionId", trafficMirrorSessionId), cancellationToken);

    public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        if (resourceIds.Count == 0 || tags.Count == 0)
        {
            return Task.CompletedTask;
        }

        return SendAsync(new QueryRequest(Service, "CreateTags").AddFlatList("ResourceId", resourceIds).AddTags("Tag", tags), cancellationToken);
    }

    public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken)
    {
        // DeleteTags without keys deletes every tag of the resources: refuse to turn "nothing" into "everything".
        if (resourceIds.Count == 0 || tagKeys.Count == 0)
        {
            return Task.CompletedTask;
        }

        var query = new QueryRequest(Service, "DeleteTags").AddFlatList("ResourceId", resourceIds);
        var i = 0;
        foreach (var key in tagKeys)
        {
            query.Add($"Tag.{++i}.Key", key);
        }

        return SendAsync(query, cancellationToken);
    }

    public Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) =>
        ChangeStateAsync("StopInstances", instanceIds, cancellationToken);

    public Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken) =>
        ChangeStateAsync("TerminateInstances", instanceIds, cancellationToken);

    private async Task<IReadOnlyList<InstanceStateChange>> ChangeStateAsync(string action, IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        if (instanceIds.Count == 0)
        {
            return [];
        }

        var root = await SendAsync(new QueryRequest(Service, action).AddFlatList("InstanceId", instanceIds), cancellationToken).ConfigureAwait(false);
        return root.Items("instancesSet").Select(item => new InstanceStateChange(
            item.Required("instanceId"),
            item.Child("previousState").Text("name") ?? "unknown",
            item.Child("currentState").Text("name") ?? "unknown")).ToList();
    }

    public void Dispose()
    {
    }

    private async Task<IReadOnlyList<T>> PagesAsync<T>(Func<QueryRequest> request, Func<XElement, IEnumerable<T>> read, CancellationToken cancellationToken)
    {
        var results = new List<T>();
        string? nextToken = null;
        do
        {
            var root = await SendAsync(request().Add("NextToken", nextToken), cancellationToken).ConfigureAwait(false);
            results.AddRange(read(root));
            nextToken = Xml.NextToken(nextToken, root.Text("nextToken"), "EC2 Describe");
        }
        while (nextToken is not null);
        return results;
    }

    private async Task<XElement> SendAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        var bucket = rateLimits?.For(request.Action);
        var answer = await pipeline.SendQueryAsync(Service, request.Action, request.ToBody(), bucket, cancellationToken).ConfigureAwait(false);
        return Xml.ParseAnswer(answer, request.Action);
    }

    private static IEnumerable<Ec2Instance> ReadInstances(XElement root) =>
        root.Items("reservationSet")
            .SelectMany(reservation => reservation.Items("instancesSet"))
            .Select(item => new Ec2Instance(
                item.Required("instanceId"),
                item.Required("instanceType"),
                item.Child("instanceState").Text("name") ?? "unknown",
                item.Text("vpcId"),
                item.Text("subnetId"),
                item.Text("privateIpAddress"),
                item.Tags("tagSet"),
                item.Items("networkInterfaceSet").Select(eni => new InstanceNetworkInterface(
                    eni.Required("networkInterfaceId"),
                    eni.Text("interfaceType"),
                    eni.Child("attachment").Int("deviceIndex") ?? 0,
                    eni.Text("subnetId"),
                    eni.Text("privateIpAddress"))).ToList(),
                item.Time("launchTime"),
                item.Text("reason")));

    private static TrafficMirrorSession ReadSession(XElement item) => new(
        item.Required("trafficMirrorSessionId"),
        item.Required("networkInterfaceId"),
        item.Required("trafficMirrorTargetId"),
        item.Required("trafficMirrorFilterId"),
        item.Int("sessionNumber") ?? throw new FormatException("traffic mirror session without sessionNumber"),
        item.Int("virtualNetworkId"),
        item.Int("packetLength"),
        item.Text("description"),
        item.Tags("tagSet"));
}

internal static class Ec2QueryExtensions
{
    public static QueryRequest AddFilters(this QueryRequest query, IReadOnlyList<Ec2Filter> filters)
    {
        for (var i = 0; i < filters.Count; i++)
        {
            query.Add($"Filter.{i + 1}.Name", filters[i].Name).AddFlatList($"Filter.{i + 1}.Value", filters[i].Values);
        }

        return query;
    }

    public static QueryRequest AddTags(this QueryRequest query, string prefix, IReadOnlyDictionary<string, string> tags)
    {
        var i = 0;
        foreach (var (key, value) in tags)
        {
            i++;
            query.Add($"{prefix}.{i}.Key", key).Add($"{prefix}.{i}.Value", value);
        }

        return query;
    }
}
