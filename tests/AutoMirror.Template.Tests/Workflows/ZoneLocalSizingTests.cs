using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// template.yaml deployed into the local cloud (two sensor zones) as `sam deploy` does: the sensor group runs
/// max(SensorCount, zones) with ZoneLocalDelivery, SensorCount without it, and the NLB's cross-zone attribute follows.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ZoneLocalSizingTests(LocalCloud cloud) : IClassFixture<LocalCloud>
{
    [Theory]
    [InlineData("true", 1, 2, "false")]
    [InlineData("true", 3, 3, "false")]
    [InlineData("false", 1, 1, "true")]
    public async Task SensorGroup_RunsASensorPerZone_OnlyWithZoneLocalDelivery(string zoneLocal, int sensorCount, int sensors, string crossZone)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        await using var stack = await DeployedStack.DeployAsync(cloud,
            new Dictionary<string, string> { ["ZoneLocalDelivery"] = zoneLocal, ["SensorCount"] = sensorCount.ToString(invariant) },
            stackName: string.Create(invariant, $"sizing-{zoneLocal}-{sensorCount}"));
        using var aws = new AwsClients(AwsClientOptions.FromEnvironment(name => cloud.ClientEnvironment.GetValueOrDefault(name), () => null,
            () => new BasicAWSCredentials("testing", "testing")));

        var ids = stack.Document["sensorInstanceIds"]!.AsArray().Select(i => (string)i!).ToList();
        var instances = await aws.Ec2.DescribeInstancesAsync([new Ec2Filter("instance-id", ids)], CancellationToken.None);
        var attributes = await aws.LoadBalancing.DescribeLoadBalancerAttributesAsync(stack.LoadBalancerArn, CancellationToken.None);

        Assert.Equal(sensors, instances.Count);
        // Spread over both zones whenever there are two or more sensors (AWS balances a group over its subnets' zones).
        Assert.Equal(Math.Min(sensors, 2), instances.Select(i => i.AvailabilityZone).Distinct().Count());
        Assert.Equal(crossZone, attributes["load_balancing.cross_zone.enabled"]);
    }
}
