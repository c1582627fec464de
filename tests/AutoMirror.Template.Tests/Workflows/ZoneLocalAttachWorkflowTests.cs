using AutoMirror.Aws.Ec2;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>The stack deployed with ZoneLocalDelivery=true: cross-zone load balancing off, a sensor in each zone.</summary>
public sealed class ZoneLocalWorkflowLab() : WorkflowLab(new Dictionary<string, string>(StackParameters) { ["ZoneLocalDelivery"] = "true" })
{
    /// <summary>The stack's sensors (its Auto Scaling group's instances) by Availability Zone.</summary>
    public async Task<IReadOnlyDictionary<string, string>> SensorsByZoneAsync()
    {
        var sensors = await Aws.Ec2.DescribeInstancesAsync([new Ec2Filter("tag:aws:autoscaling:groupName", Stack.Output("SensorGroupName"))], CancellationToken.None);
        return sensors.ToDictionary(s => s.AvailabilityZone!, s => s.InstanceId);
    }
}

/// <summary>
/// statemachine/attach.asl.json, unchanged, in the local Step Functions interpreter, over a zone-local stack in the
/// local cloud (two zones, so two sensors from SensorCount 1). The health gate is per zone: a source whose zone has
/// no healthy sensor waits, however healthy the other zone's sensor is, and is never attached to it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ZoneLocalAttachWorkflowTests(ZoneLocalWorkflowLab lab) : IClassFixture<ZoneLocalWorkflowLab>
{
    private const int ZoneA = 0;
    private const int ZoneB = 1;

    [Fact]
    public async Task Deploy_RunsOneSensorPerZone_FromSensorCountOne()
    {
        // The lab leaves SensorCount at its default, 1; the network has sensor subnets in two zones.
        Assert.DoesNotContain("SensorCount", WorkflowLab.StackParameters.Keys);

        var sensors = await lab.SensorsByZoneAsync();

        Assert.Equal(["us-east-1a", "us-east-1b"], sensors.Keys.Order());
    }

    [Fact]
    public async Task SensorUnhealthyInTheSourcesZone_WaitsAndFails_WhileTheOtherZonesSourceIsAttached()
    {
        var sensors = await lab.SensorsByZoneAsync();
        await lab.Cloud.SetTargetHealthOfAsync(lab.TargetGroupArn, [sensors["us-east-1b"]], unhealthyCalls: 1000);
        try
        {
            var (inB, interfacesB) = await lab.LaunchSourceAsync(interfaces: 1, workloadSubnet: ZoneB);
            var (inA, interfacesA) = await lab.LaunchSourceAsync(interfaces: 1, workloadSubnet: ZoneA);

            var runB = await lab.RunAttachAsync(inB, pollSeconds: 1, maxAttempts: 3);
            var runA = await lab.RunAttachAsync(inA, pollSeconds: 1, maxAttempts: 3);

            Assert.Equal("SensorTargetUnhealthy", runB.Error);
            Assert.Equal(3, runB.Entered("CheckTargetHealth"));
            Assert.Equal(0, runB.Entered("CreateSessions"));
            Assert.Empty(await lab.SessionsOnAsync(interfacesB));
            Assert.True(runA.Status == "SUCCEEDED", runA.Describe());
            Assert.Equal(1, runA.Entered("CheckTargetHealth"));
            Assert.Single(await lab.SessionsOnAsync(interfacesA));
        }
        finally
        {
            await lab.Cloud.ClearTargetHealthAsync(lab.TargetGroupArn);
        }
    }

    [Fact]
    public async Task SensorInTheSourcesZoneBecomesHealthy_TheWaitingSourceIsAttached()
    {
        var sensors = await lab.SensorsByZoneAsync();
        await lab.Cloud.SetTargetHealthOfAsync(lab.TargetGroupArn, [sensors["us-east-1b"]], unhealthyCalls: 2);
        try
        {
            var (inB, interfacesB) = await lab.LaunchSourceAsync(interfaces: 1, workloadSubnet: ZoneB);

            var run = await lab.RunAttachAsync(inB, pollSeconds: 1, maxAttempts: 5);

            Assert.True(run.Status == "SUCCEEDED", run.Describe());
            Assert.Equal(3, run.Entered("CheckTargetHealth"));
            Assert.Equal(2, run.Entered("WaitForHealthySensor"));
            Assert.Single(await lab.SessionsOnAsync(interfacesB));
        }
        finally
        {
            await lab.Cloud.ClearTargetHealthAsync(lab.TargetGroupArn);
        }
    }
}
