using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Xml.Linq;

namespace AutoMirror.Testing.Teardown;

/// <summary>
/// Builds lab worlds in the local cloud with the raw AWS Query/JSON APIs (the product's clients have no
/// RunInstances or PutMetricData, on purpose). moto does not check signatures; the Authorization header only
/// tells it the service and region.
/// </summary>
public sealed class LocalCloudLab(Uri endpoint) : IDisposable
{
    public const string Region = "us-east-1";

    private readonly HttpClient _http = new() { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(30) };
    private string? _subnetId;

    public Uri Endpoint => endpoint;

    public void Dispose() => _http.Dispose();

    public static Dictionary<string, string> OurSessionTags(string instanceId, string eniId, string? lab) => new()
    {
        ["automirror:managed"] = "true",
        ["automirror:instance-id"] = instanceId,
        ["automirror:eni-id"] = eniId,
        ["automirror:lab"] = lab ?? "",
    };

    public async Task<string> SubnetAsync()
    {
        if (_subnetId is null)
        {
            var vpc = await Ec2Async("CreateVpc", new() { ["CidrBlock"] = "10.0.0.0/16" });
            var vpcId = Text(vpc, "vpcId");
            var subnet = await Ec2Async("CreateSubnet", new() { ["VpcId"] = vpcId, ["CidrBlock"] = "10.0.1.0/24" });
            _subnetId = Text(subnet, "subnetId");
        }

        return _subnetId;
    }

    /// <summary>
    /// A mirror target that is not the stack's (another team's, or another stack's): an internal Network Load Balancer
    /// target and an empty filter. The stack's own come from DeployedStack.
    /// </summary>
    public async Task<(string TargetId, string FilterId)> MirrorTargetAsync()
    {
        var balancer = await QueryAsync("elasticloadbalancing", "CreateLoadBalancer", "2015-12-01", new()
        {
            ["Name"] = "sensors-" + Guid.NewGuid().ToString("N")[..8],
            ["Type"] = "network",
            ["Scheme"] = "internal",
            ["Subnets.member.1"] = await SubnetAsync(),
        });
        var target = await Ec2Async("CreateTrafficMirrorTarget", new() { ["NetworkLoadBalancerArn"] = Text(balancer, "LoadBalancerArn") });
        var filter = await Ec2Async("CreateTrafficMirrorFilter", []);
        return (Text(target, "trafficMirrorTargetId"), Text(filter, "trafficMirrorFilterId"));
    }

    public async Task<IReadOnlyList<(string InstanceId, string EniId)>> RunInstancesAsync(int count, IReadOnlyDictionary<string, string> tags, string type = "m5.large")
    {
        var p = new Dictionary<string, string>
        {
            ["ImageId"] = "ami-12c6146b",
            ["InstanceType"] = type,
            ["MinCount"] = count.ToString(CultureInfo.InvariantCulture),
            ["MaxCount"] = count.ToString(CultureInfo.InvariantCulture),
            ["SubnetId"] = await SubnetAsync(),
        };
        if (tags.Count > 0)
        {
            p["TagSpecification.1.ResourceType"] = "instance";
            var k = 1;
            foreach (var (key, value) in tags)
            {
                p[$"TagSpecification.1.Tag.{k}.Key"] = key;
                p[$"TagSpecification.1.Tag.{k}.Value"] = value;
                k++;
            }
        }

        var answer = await Ec2Async("RunInstances", p);
        // moto's EC2 namespace differs from AWS's by a trailing slash: match on local names.
        return [.. Named(answer.Root!, "instancesSet").Single().Elements().Select(item => (
            Child(item, "instanceId").Value,
            Child(Child(Child(item, "networkInterfaceSet"), "item"), "networkInterfaceId").Value))];
    }

    public async Task<string> CreateSessionAsync(string eniId, string targetId, string filterId, int sessionNumber, IReadOnlyDictionary<string, string> tags)
    {
        var p = new Dictionary<string, string>
        {
            ["NetworkInterfaceId"] = eniId,
            ["TrafficMirrorTargetId"] = targetId,
            ["TrafficMirrorFilterId"] = filterId,
            ["SessionNumber"] = sessionNumber.ToString(CultureInfo.InvariantCulture),
        };
        if (tags.Count > 0)
        {
            p["TagSpecification.1.ResourceType"] = "traffic-mirror-session";
            var k = 1;
            foreach (var (key, value) in tags)
            {
                p[$"TagSpecification.1.Tag.{k}.Key"] = key;
                p[$"TagSpecification.1.Tag.{k}.Value"] = value;
                k++;
            }
        }

        return Text(await Ec2Async("CreateTrafficMirrorSession", p), "trafficMirrorSessionId");
    }

    public async Task StopInstancesAsync(IEnumerable<string> instanceIds)
    {
        var p = new Dictionary<string, string>();
        var k = 1;
        foreach (var id in instanceIds)
        {
            p[$"InstanceId.{k++}"] = id;
        }

        await Ec2Async("StopInstances", p);
    }

    public async Task<IReadOnlyList<string>> SessionIdsAsync()
    {
        var answer = await Ec2Async("DescribeTrafficMirrorSessions", []);
        return [.. Named(answer.Root!, "trafficMirrorSessionId").Select(e => e.Value).Order(StringComparer.Ordinal)];
    }

    public async Task<string> StateAsync(string instanceId)
    {
        var answer = await Ec2Async("DescribeInstances", new() { ["InstanceId.1"] = instanceId });
        return Child(Named(answer.Root!, "instanceState").Single(), "name").Value;
    }

    /// <summary>NetworkMirrorIn/Out datapoints of <paramref name="value"/> bytes every five minutes in [from, to).</summary>
    public async Task PutMirrorMetricsAsync(string instanceId, DateTimeOffset from, DateTimeOffset to, double value)
    {
        var points = new List<DateTimeOffset>();
        for (var t = from; t < to; t += TimeSpan.FromMinutes(5))
        {
            points.Add(t);
        }

        foreach (var metric in new[] { "NetworkMirrorIn", "NetworkMirrorOut" })
        {
            foreach (var chunk in points.Chunk(20))
            {
                var p = new Dictionary<string, string> { ["Namespace"] = "AWS/EC2" };
                for (var k = 0; k < chunk.Length; k++)
                {
                    var m = $"MetricData.member.{k + 1}.";
                    p[m + "MetricName"] = metric;
                    p[m + "Value"] = value.ToString(CultureInfo.InvariantCulture);
                    p[m + "Unit"] = "Bytes";
                    p[m + "Timestamp"] = chunk[k].UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                    p[m + "Dimensions.member.1.Name"] = "InstanceId";
                    p[m + "Dimensions.member.1.Value"] = instanceId;
                }

                await QueryAsync("monitoring", "PutMetricData", "2010-08-01", p);
            }
        }
    }

    /// <summary>How often the local cloud answered <paramref name="action"/> (of any service) since the last reset.</summary>
    public async Task<int> CallsAsync(string action)
    {
        var counts = System.Text.Json.Nodes.JsonNode.Parse(await _http.GetStringAsync(new Uri("/_automirror/calls", UriKind.Relative)))!;
        return counts["calls"]!.AsObject().Sum(service => service.Value![action]?.GetValue<int>() ?? 0);
    }

    /// <summary>POST to the local cloud's control endpoint (throttling, faults, clock).</summary>
    public async Task ControlAsync(string route, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri("/_automirror/" + route, UriKind.Relative), content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public Task<XDocument> Ec2Async(string action, Dictionary<string, string> parameters) =>
        QueryAsync("ec2", action, "2016-11-15", parameters);

    private async Task<XDocument> QueryAsync(string service, string action, string version, Dictionary<string, string> parameters)
    {
        var form = new Dictionary<string, string>(parameters) { ["Action"] = action, ["Version"] = version };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new FormUrlEncodedContent(form) };
        request.Headers.TryAddWithoutValidation("Authorization", Authorization(service));
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{action}: {text}");
        return XDocument.Parse(text);
    }

    private static string Authorization(string service) =>
        $"AWS4-HMAC-SHA256 Credential=test/20260101/{Region}/{service}/aws4_request, SignedHeaders=host, Signature=00";

    private static IEnumerable<XElement> Named(XElement root, string name) => root.Descendants().Where(e => e.Name.LocalName == name);

    private static XElement Child(XElement parent, string name) => parent.Elements().First(e => e.Name.LocalName == name);

    private static string Text(XDocument document, string name) =>
        document.Descendants().First(e => e.Name.LocalName == name).Value;
}
