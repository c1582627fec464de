using System.Net;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;

namespace AutoMirror.Aws.Tests.Integration;

[Trait("Category", "Integration")]
public sealed class LocalCloudRoundTripTests(SeededLocalCloud cloud) : IClassFixture<SeededLocalCloud>
{
    private readonly AwsClients _clients = cloud.Clients;

    [Fact]
    public async Task DescribeInstances_ById_ReturnsTagsInterfacesAndState()
    {
        var instances = await _clients.Ec2.DescribeInstancesAsync([cloud.Instance("mirrored")], CancellationToken.None);

        var instance = Assert.Single(instances);
        Assert.Equal(cloud.Instance("mirrored"), instance.InstanceId);
        Assert.Equal("m5.large", instance.InstanceType);
        Assert.Equal("running", instance.State);
        Assert.Equal(cloud.Id("vpcId"), instance.VpcId);
        Assert.Equal(cloud.Id("subnetId"), instance.SubnetId);
        Assert.Equal("lab-1", instance.Tags["lab"]);
        Assert.Equal("true", instance.Tags["automirror"]);
        var eni = Assert.Single(instance.NetworkInterfaces);
        Assert.Equal((cloud.Id("mirroredEni"), 0), (eni.NetworkInterfaceId, eni.DeviceIndex));
        Assert.NotNull(instance.LaunchTime);
    }

    [Fact]
    public async Task DescribeInstances_ByTagFilter_ReturnsOnlyTaggedInstances()
    {
        var instances = await _clients.Ec2.DescribeInstancesAsync([new Ec2Filter("tag:automirror", ["true", "yes"])], CancellationToken.None);

        Assert.Equal(new[] { cloud.Instance("mirrored"), cloud.Instance("mirrored2") }.Order(), instances.Select(i => i.InstanceId).Order());
    }

    [Fact]
    public async Task DescribeInstances_UnknownId_RaisesTheServiceErrorWithItsCodeAndRequestId()
    {
        var error = await Assert.ThrowsAsync<AwsServiceException>(() =>
            _clients.Ec2.DescribeInstancesAsync(["i-00000000000000000"], CancellationToken.None));

        Assert.Equal("InvalidInstanceID.NotFound", error.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.False(string.IsNullOrEmpty(error.RequestId));
    }

    [Fact]
    public async Task DescribeInstanceTypes_ReportsHypervisorAndBareMetal()
    {
        var types = await _clients.Ec2.DescribeInstanceTypesAsync(["m5.large", "m5.metal"], CancellationToken.None);

        var large = Assert.Single(types, t => t.InstanceType == "m5.large");
        var metal = Assert.Single(types, t => t.InstanceType == "m5.metal");
        Assert.Equal(("nitro", false), (large.Hypervisor, large.BareMetal));
        Assert.True(metal.BareMetal);
    }

    [Fact]
    public async Task DescribeTrafficMirrorTargets_ReturnsTheStacksOne()
    {
        var targets = await _clients.Ec2.DescribeTrafficMirrorTargetsAsync([], CancellationToken.None);

        var target = Assert.Single(targets);
        // template.yaml names it after the stack, and CloudFormation tags it with the stack's logical id.
        Assert.Equal((cloud.Id("mirrorTargetId"), cloud.Id("loadBalancerArn"), cloud.Stack.StackName + "-sensor", "MirrorTarget"),
            (target.TrafficMirrorTargetId, target.NetworkLoadBalancerArn, target.Tags["Name"], target.Tags["aws:cloudformation:logical-id"]));
    }

    [Fact]
    public async Task CreateTagsThenDeleteTags_ChangeWhatDescribeReturns()
    {
        var id = cloud.Instance("mirrored2");
        await _clients.Ec2.CreateTagsAsync([id], new Dictionary<string, string> { ["automirror:status"] = "mirrored", ["extra"] = "x y&z" }, CancellationToken.None);
        var tagged = Assert.Single(await _clients.Ec2.DescribeInstancesAsync([id], CancellationToken.None));

        await _clients.Ec2.DeleteTagsAsync([id], ["automirror:status", "extra"], CancellationToken.None);
        var untagged = Assert.Single(await _clients.Ec2.DescribeInstancesAsync([id], CancellationToken.None));

        Assert.Equal(("mirrored", "x y&z"), (tagged.Tags["automirror:status"], tagged.Tags["extra"]));
        Assert.False(untagged.Tags.ContainsKey("automirror:status"));
        Assert.False(untagged.Tags.ContainsKey("extra"));
        Assert.Equal("true", untagged.Tags["automirror"]);
    }

    [Fact]
    public async Task StopInstances_ReportsTheStateChange()
    {
        var changes = await _clients.Ec2.StopInstancesAsync([cloud.Instance("toStop")], CancellationToken.None);

        var change = Assert.Single(changes);
        Assert.Equal((cloud.Instance("toStop"), "running"), (change.InstanceId, change.PreviousState));
        Assert.Contains(change.CurrentState, new[] { "stopping", "stopped" });
    }

    [Fact]
    public async Task TerminateInstances_ReportsTheStateChange()
    {
        var changes = await _clients.Ec2.TerminateInstancesAsync([cloud.Instance("toTerminate")], CancellationToken.None);

        var change = Assert.Single(changes);
        Assert.Equal((cloud.Instance("toTerminate"), "running"), (change.InstanceId, change.PreviousState));
        Assert.Contains(change.CurrentState, new[] { "shutting-down", "terminated" });
    }

    [Fact]
    public async Task DescribeTargetHealth_ListsTheRegisteredSensor()
    {
        var health = await _clients.LoadBalancing.DescribeTargetHealthAsync(cloud.Id("targetGroupArn"), CancellationToken.None);

        var target = Assert.Single(health);
        Assert.Equal((cloud.Instance("sensor"), 4789), (target.TargetId, target.Port));
        Assert.False(string.IsNullOrEmpty(target.State));
    }

    [Fact]
    public async Task DescribeListeners_ShowsTheUdp4789Listener()
    {
        var listeners = await _clients.LoadBalancing.DescribeListenersAsync(cloud.Id("loadBalancerArn"), CancellationToken.None);

        var listener = Assert.Single(listeners);
        Assert.Equal((cloud.Id("listenerArn"), "UDP", 4789), (listener.ListenerArn, listener.Protocol, listener.Port));
    }

    [Fact]
    public async Task DescribeTargetGroups_ByLoadBalancerAndByArn_ReturnTheSensorGroup()
    {
        var byLoadBalancer = await _clients.LoadBalancing.DescribeTargetGroupsAsync(cloud.Id("loadBalancerArn"), null, CancellationToken.None);
        var byArn = await _clients.LoadBalancing.DescribeTargetGroupsAsync(null, [cloud.Id("targetGroupArn")], CancellationToken.None);

        var group = Assert.Single(byLoadBalancer);
        Assert.Equal(group, Assert.Single(byArn), TargetGroupComparer.Instance);
                // The template's health check: HTTP on the sensor's health port (UDP target groups cannot check over UDP).
        Assert.Equal((cloud.Id("targetGroupArn"), "UDP", 4789, "HTTP", "8080"), (group.TargetGroupArn, group.Protocol, group.Port, group.HealthCheckProtocol, group.HealthCheckPort));
        Assert.Equal([cloud.Id("loadBalancerArn")], group.LoadBalancerArns);
    }

    [Fact]
    public async Task DescribeAttributes_ReturnCrossZoneAndTargetGroupSettings()
    {
        var lb = await _clients.LoadBalancing.DescribeLoadBalancerAttributesAsync(cloud.Id("loadBalancerArn"), CancellationToken.None);
        var tg = await _clients.LoadBalancing.DescribeTargetGroupAttributesAsync(cloud.Id("targetGroupArn"), CancellationToken.None);

        Assert.Equal("true", lb["load_balancing.cross_zone.enabled"]);
        Assert.NotEmpty(tg);
    }

    [Fact]
    public async Task StartExecutionThenDescribeExecution_RoundTripNameAndInput()
    {
        const string input = "{\"instanceId\":\"i-1\",\"trigger\":\"tag\",\"eventId\":\"e-1\"}";
        var started = await _clients.StepFunctions.StartExecutionAsync(cloud.Id("stateMachineArn"), "evt-e-1", input, CancellationToken.None);
        var described = await _clients.StepFunctions.DescribeExecutionAsync(started.ExecutionArn, CancellationToken.None);

        Assert.Equal((started.ExecutionArn, cloud.Id("stateMachineArn"), "evt-e-1", input), (described.ExecutionArn, described.StateMachineArn, described.Name, described.Input));
        Assert.Contains(described.Status, new[] { "RUNNING", "SUCCEEDED" });
        Assert.True(Math.Abs((described.StartDate - started.StartDate).TotalSeconds) < 1);
    }

    [Fact]
    public async Task DescribeExecution_Unknown_RaisesExecutionDoesNotExist()
    {
        var error = await Assert.ThrowsAsync<AwsServiceException>(() => _clients.StepFunctions.DescribeExecutionAsync(
            "arn:aws:states:us-east-1:123456789012:execution:automirror-attach:nope", CancellationToken.None));

        Assert.Equal("ExecutionDoesNotExist", error.ErrorCode);
    }

    [Fact]
    public async Task GetMetricData_ReturnsThePutDataPoints()
    {
        var at = DateTimeOffset.Parse(cloud.Id("metricTime"), System.Globalization.CultureInfo.InvariantCulture);
        var query = new MetricDataQuery("netin", "AWS/EC2", "NetworkIn", new Dictionary<string, string> { ["InstanceId"] = cloud.Instance("mirrored") }, 300, "Sum");

        var results = await _clients.CloudWatch.GetMetricDataAsync([query], at.AddHours(-1), at.AddMinutes(5), CancellationToken.None);

        var result = Assert.Single(results);
        Assert.Equal("netin", result.Id);
        Assert.Equal(1250.0, result.Values.Sum());
        Assert.Equal(result.Values.Count, result.Timestamps.Count);
    }

    private sealed class TargetGroupComparer : IEqualityComparer<LoadBalancing.TargetGroup>
    {
        public static readonly TargetGroupComparer Instance = new();

        public bool Equals(LoadBalancing.TargetGroup? x, LoadBalancing.TargetGroup? y) =>
            x is not null && y is not null && x.TargetGroupArn == y.TargetGroupArn && x.LoadBalancerArns.SequenceEqual(y.LoadBalancerArns);

        public int GetHashCode(LoadBalancing.TargetGroup obj) => obj.TargetGroupArn.GetHashCode(StringComparison.Ordinal);
    }
}
