using System.Xml.Linq;

namespace AutoMirror.Aws.LoadBalancing;

internal sealed class LoadBalancingClient(AwsPipeline pipeline) : ILoadBalancingClient
{
    private const int PageSize = 400;

    private static readonly AwsService Service = AwsService.LoadBalancing;

    public async Task<IReadOnlyList<TargetHealthDescription>> DescribeTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken)
    {
        var result = await SendAsync(new QueryRequest(Service, "DescribeTargetHealth").Add("TargetGroupArn", targetGroupArn), cancellationToken).ConfigureAwait(false);
        return result.Items("TargetHealthDescriptions").Select(item =>
        {
            var target = item.Child("Target");
            var health = item.Child("TargetHealth");
            return new TargetHealthDescription(
                target?.Required("Id") ?? throw new FormatException("target health without Target"),
                target.Int("Port"),
                health.Text("State") ?? "unknown",
                health.Text("Reason"),
                health.Text("Description"),
                target.Text("AvailabilityZone"));
        }).ToList();
    }

    public Task<IReadOnlyList<Listener>> DescribeListenersAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        PagesAsync(
            () => new QueryRequest(Service, "DescribeListeners").Add("LoadBalancerArn", loadBalancerArn).Add("PageSize", PageSize),
            result => result.Items("Listeners").Select(item => new Listener(
                item.Required("ListenerArn"),
                item.Required("LoadBalancerArn"),
                item.Text("Protocol") ?? string.Empty,
                item.Int("Port") ?? 0)),
            cancellationToken);

    public Task<IReadOnlyList<TargetGroup>> DescribeTargetGroupsAsync(string? loadBalancerArn, IReadOnlyCollection<string>? targetGroupArns, CancellationToken cancellationToken) =>
        PagesAsync(
            () => new QueryRequest(Service, "DescribeTargetGroups")
                .Add("LoadBalancerArn", loadBalancerArn)
                .AddMemberList("TargetGroupArns", targetGroupArns ?? [])
                .Add("PageSize", PageSize),
            result => result.Items("TargetGroups").Select(item => new TargetGroup(
                item.Required("TargetGroupArn"),
                item.Required("TargetGroupName"),
                item.Text("Protocol"),
                item.Int("Port"),
                item.Text("VpcId"),
                item.Text("HealthCheckProtocol"),
                item.Text("HealthCheckPort"),
                item.Items("LoadBalancerArns").Select(arn => arn.Value).ToList())),
            cancellationToken);

    public Task<IReadOnlyDictionary<string, string>> DescribeLoadBalancerAttributesAsync(string loadBalancerArn, CancellationToken cancellationToken) =>
        AttributesAsync(new QueryRequest(Service, "DescribeLoadBalancerAttributes").Add("LoadBalancerArn", loadBalancerArn), cancellationToken);

    public Task<IReadOnlyDictionary<string, string>> DescribeTargetGroupAttributesAsync(string targetGroupArn, CancellationToken cancellationToken) =>
        AttributesAsync(new QueryRequest(Service, "DescribeTargetGroupAttributes").Add("TargetGroupArn", targetGroupArn), cancellationToken);

    private async Task<IReadOnlyDictionary<string, string>> AttributesAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        var result = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in result.Items("Attributes"))
        {
            attributes[item.Required("Key")] = item.Text("Value") ?? string.Empty;
        }

        return attributes;
    }

    private async Task<IReadOnlyList<T>> PagesAsync<T>(Func<QueryRequest> request, Func<XElement, IEnumerable<T>> read, CancellationToken cancellationToken)
    {
        var results = new List<T>();
        string? marker = null;
        do
        {
            var result = await SendAsync(request().Add("Marker", marker), cancellationToken).ConfigureAwait(false);
            results.AddRange(read(result));
            marker = Xml.NextToken(marker, result.Text("NextMarker"), "ELBv2 Describe");
        }
        while (marker is not null);
        return results;
    }

    /// <summary>Sends and returns the &lt;ActionResult&gt; element of the &lt;ActionResponse&gt;.</summary>
    private async Task<XElement> SendAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        var answer = await pipeline.SendQueryAsync(Service, request.Action, request.ToBody(), bucket: null, cancellationToken).ConfigureAwait(false);
        return Xml.ParseAnswer(answer, request.Action).Child(request.Action + "Result") ?? new XElement(request.Action + "Result");
    }
}
