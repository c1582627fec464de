using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Ownership;
using AutoMirror.Testing.Teardown;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// TargetKind=eni on the stack template.yaml deploys into the local cloud (issue #17 item 1): the deployed
/// ReconcileFunction, run by the local Lambda host with the stack's environment, against the local cloud's EC2,
/// which enforces AWS's 10 sources per interface target. 11 instances: 10 attached, 1 waiting; one detaches, the
/// next reconcile attaches the waiting one.
/// </summary>
[Trait("Category", "Integration")]
public sealed class InterfaceTargetStackTests(LocalCloud cloud) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private AwsClients _clients = null!;
    private DeployedStack _stack = null!;

    public async Task InitializeAsync()
    {
        await _lab.ControlAsync("reset", "{}");
        _clients = new AwsClients(new AwsClientOptions
        {
            Region = RegionEndpoint.USEast1,
            Credentials = new BasicAWSCredentials("test", "test"),
            EndpointUrl = cloud.Endpoint,
        });
        _stack = await DeployedStack.DeployAsync(cloud, new Dictionary<string, string> { ["TargetKind"] = "eni" });
    }

    public async Task DisposeAsync()
    {
        _clients.Dispose();
        _lab.Dispose();
        await _stack.DisposeAsync();
    }

    [Fact]
    public async Task ElevenInstances_TenAttachedOneWaiting_AndTheWaitingOneIsAttachedWhenRoomFrees()
    {
        var interfaceId = _stack.Output("SensorInterfaceId");
        var target = (await _clients.Ec2.DescribeTrafficMirrorTargetsAsync([new Ec2Filter("traffic-mirror-target-id", _stack.MirrorTargetId)], default)).Single();
        Assert.Equal((interfaceId, "network-interface"), (target.NetworkInterfaceId, target.Type));
        Assert.Throws<KeyNotFoundException>(() => _stack.Output("SensorLoadBalancerArn"));
        Assert.Equal("eni", _stack.FunctionEnvironment("ReconcileFunction")["TARGET_KIND"]);
        // The sensor took the interface once healthy (its bootstrap): the Attach workflow's health gate says so.
        var health = await InvokeAsync("TargetHealthFunction", new JsonObject());
        Assert.True((bool)health["healthy"]!, health.ToJsonString());

        var instances = await RunInstancesAsync(11);
        var first = await InvokeAsync("ReconcileFunction", new JsonObject { ["all"] = true });

        Assert.Equal(10, (int)first["mirrored"]!);
        Assert.Equal(1, (int)first["waiting"]!);
        Assert.Equal(0, (int)first["failed"]!);
        var waiting = first["outcomes"]!.AsArray().Single(o => (string)o!["outcome"]! == "waiting")!;
        var waitingId = (string)waiting["instanceId"]!;
        Assert.Contains(waitingId, instances);
        Assert.Equal("waiting", (await StatusAsync(waitingId)));
        Assert.Equal(10, (await SourcesOnTargetAsync()).Count);

        var leaving = instances.First(i => i != waitingId);
        await _lab.Ec2Async("DeleteTags", new() { ["ResourceId.1"] = leaving, ["Tag.1.Key"] = "automirror" });
        var second = await InvokeAsync("ReconcileFunction", new JsonObject { ["all"] = true });

        Assert.Equal(0, (int)second["waiting"]!);
        Assert.Equal("mirrored", (string)second["outcomes"]!.AsArray().Single(o => (string)o!["instanceId"]! == waitingId)!["outcome"]!);
        Assert.Equal("mirrored", await StatusAsync(waitingId));
        var sources = await SourcesOnTargetAsync();
        Assert.Equal(10, sources.Count);
        Assert.DoesNotContain(sources, s => s.Tags.TryGetValue(SessionTags.InstanceId, out var id) && id == leaving);
    }

    private async Task<List<string>> RunInstancesAsync(int count)
    {
        var answer = await _lab.Ec2Async("RunInstances", new()
        {
            ["ImageId"] = "ami-12c6146b",
            ["InstanceType"] = "m5.large",
            ["MinCount"] = count.ToString(CultureInfo.InvariantCulture),
            ["MaxCount"] = count.ToString(CultureInfo.InvariantCulture),
            ["SubnetId"] = _stack.WorkloadSubnetIds[0],
            ["TagSpecification.1.ResourceType"] = "instance",
            ["TagSpecification.1.Tag.1.Key"] = "automirror",
            ["TagSpecification.1.Tag.1.Value"] = "true",
        });
        return [.. answer.Descendants().Where(e => e.Name.LocalName == "instanceId").Select(e => e.Value).Distinct()];
    }

    private async Task<string?> StatusAsync(string instanceId)
    {
        var instance = (await _clients.Ec2.DescribeInstancesAsync([instanceId], default)).Single();
        return instance.Tags.TryGetValue(SessionTags.Status, out var status) ? status : null;
    }

    private async Task<IReadOnlyList<TrafficMirrorSession>> SourcesOnTargetAsync() =>
        await _clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-target-id", _stack.MirrorTargetId)], default);

    private async Task<JsonNode> InvokeAsync(string logicalId, JsonObject payload)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(3) };
        using var answer = await http.PostAsJsonAsync(new Uri(_stack.LambdaEndpoint, $"2015-03-31/functions/{_stack.FunctionName(logicalId)}/invocations"), payload);
        var body = await answer.Content.ReadAsStringAsync();
        Assert.False(answer.Headers.Contains("X-Amz-Function-Error"), $"{logicalId} failed: {body}");
        return JsonNode.Parse(body)!;
    }
}
