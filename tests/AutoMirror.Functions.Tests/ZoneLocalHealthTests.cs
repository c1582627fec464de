using System.Text.Json;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// The Attach workflow's health gate with zone-local delivery (cross-zone load balancing off): an instance waits until
/// a sensor in its own Availability Zone is healthy, instead of being attached to a zone whose load balancer node has
/// nowhere to send its packets.
/// </summary>
public sealed class ZoneLocalHealthTests
{
    private static readonly string[] NoZones = [];

    [Theory]
    [InlineData("us-east-1a", "us-east-1a", true)]
    [InlineData("us-east-1a", "us-east-1b", false)]
    [InlineData("us-east-1a", "all", true)]
    [InlineData(null, "us-east-1a", false)]
    public void ServesInZone_NeedsAHealthySensorInTheSourcesZone(string? sourceZone, string healthyZone, bool served) =>
        Assert.Equal(served, SensorZones.ServesInZone(sourceZone, [healthyZone]));

    [Fact]
    public void ServesInZone_NoHealthySensor_ServesNoZone() =>
        Assert.False(SensorZones.ServesInZone("us-east-1a", NoZones));

    [Fact]
    public void Healthy_KeepsOnlyHealthyTargets()
    {
        TargetHealthDescription[] targets =
        [
            new("i-1", 4789, "healthy", null, null),
            new("i-2", 4789, "unhealthy", "Target.FailedHealthChecks", null),
            new("i-3", 4789, "draining", "Target.DeregistrationInProgress", null),
        ];

        Assert.Equal(["i-1"], SensorZones.Healthy(targets).Select(t => t.TargetId));
    }

    [Fact]
    public async Task Evaluate_CarriesTheInstancesZoneInThePlan()
    {
        var world = ZoneLocalWorld();
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1b");

        var plan = Json(await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, Input(source)));

        Assert.Equal("attach", plan.GetProperty("decision").GetString());
        Assert.Equal("us-east-1b", plan.GetProperty("availabilityZone").GetString());
    }

    [Fact]
    public async Task CheckTargetHealth_ZoneLocal_OnlyASensorInAnotherZone_IsNotHealthy_ThenASensorInTheZoneOpensTheGate()
    {
        var world = ZoneLocalWorld();
        var sensorB = world.Ec2.AddInstance("i-0000000000000b0b0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1b").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorB, 4789, "healthy", null, null));
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, Input(source));

        var health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan));

        Assert.False(health.GetProperty("healthy").GetBoolean());
        Assert.Equal(1, health.GetProperty("healthyTargets").GetInt32());
        Assert.Equal(0, health.GetProperty("healthyTargetsInZone").GetInt32());
        Assert.Equal("us-east-1a", health.GetProperty("availabilityZone").GetString());

        var sensorA = world.Ec2.AddInstance("i-0000000000000a0a0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Add(new(sensorA, 4789, "healthy", null, null));
        health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan));

        Assert.True(health.GetProperty("healthy").GetBoolean());
        Assert.Equal(1, health.GetProperty("healthyTargetsInZone").GetInt32());
    }

    [Fact]
    public async Task CheckTargetHealth_ZoneLocal_UnhealthySensorInTheZone_DoesNotCount()
    {
        var world = ZoneLocalWorld();
        var sensorA = world.Ec2.AddInstance("i-0000000000000a0a0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorA, 4789, "unhealthy", "Target.FailedHealthChecks", null));
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, Input(source));
        world.Ec2.Calls.Clear();

        var health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan));

        Assert.False(health.GetProperty("healthy").GetBoolean());
        // No healthy target, no zone to look up: the gate costs one DescribeTargetHealth and no EC2 call.
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task CheckTargetHealth_ZoneLocal_UsesTheZoneElbv2Gives_WithoutDescribingInstances()
    {
        var world = ZoneLocalWorld();
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new("10.20.100.7", 4789, "healthy", null, null, "us-east-1a"));
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, Input(source));
        world.Ec2.Calls.Clear();

        var health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan));

        Assert.True(health.GetProperty("healthy").GetBoolean());
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task CheckTargetHealth_CrossZone_AnyHealthySensorOpensTheGate_WithOneCall()
    {
        var world = new TestWorld();
        var sensorB = world.Ec2.AddInstance("i-0000000000000b0b0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1b").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorB, 4789, "healthy", null, null));
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, Input(source));
        world.Ec2.Calls.Clear();

        var health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan));

        Assert.True(health.GetProperty("healthy").GetBoolean());
        Assert.False(health.TryGetProperty("healthyTargetsInZone", out _));
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task AttachWorkflow_ZoneLocal_SourceInAZoneWithoutASensor_GetsNoSession()
    {
        var world = ZoneLocalWorld();
        var sensorA = world.Ec2.AddInstance("i-0000000000000a0a0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorA, 4789, "healthy", null, null));
        var inZone = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var otherZone = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1c");

        await world.RunAttachWorkflowAsync(Input(inZone));
        await world.RunAttachWorkflowAsync(Input(otherZone));

        var mirrored = world.OurSessions().Select(s => s.Tags["automirror:instance-id"]).Distinct().ToList();
        Assert.Equal([inZone], mirrored);
    }

    [Fact]
    public async Task Reconcile_ZoneLocal_KeepsTheGate_AttachingOnlyWhereTheZoneHasAHealthySensor()
    {
        var world = ZoneLocalWorld();
        var sensorA = world.Ec2.AddInstance("i-0000000000000a0a0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorA, 4789, "healthy", null, null));
        var inZone = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1a");
        var otherZone = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1b");

        var report = await world.Reconciler.ReconcileAsync([inZone, otherZone], 2, default);

        var outcomes = report.Outcomes.ToDictionary(o => o.InstanceId);
        Assert.Equal(InstanceOutcomeKind.Mirrored, outcomes[inZone].Outcome);
        Assert.Equal((InstanceOutcomeKind.Skipped, FleetReconciler.NoHealthySensorInZone), (outcomes[otherZone].Outcome, outcomes[otherZone].Reason));
        Assert.Equal([inZone], world.OurSessions().Select(s => s.Tags["automirror:instance-id"]).Distinct());
    }

    [Fact]
    public async Task Reconcile_CrossZone_AHealthySensorInAnyZoneOpensTheGate()
    {
        // Without zone-local delivery the load balancer carries a zone's packets to a sensor in another zone.
        var world = new TestWorld();
        var sensorA = world.Ec2.AddInstance("i-0000000000000a0a0", "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new(sensorA, 4789, "healthy", null, null));
        var source = world.Ec2.Launch(Tagged, availabilityZone: "us-east-1b");

        var report = await world.Reconciler.ReconcileAsync([source], 1, default);

        Assert.Equal(InstanceOutcomeKind.Mirrored, report.Outcomes.Single().Outcome);
    }

    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    private static TestWorld ZoneLocalWorld() => new(name => name == "ZONE_LOCAL_DELIVERY" ? "true" : TestWorld.Defaults(name));

    private static string Input(string instanceId) => $$"""{"instanceId":"{{instanceId}}","trigger":"tag","eventId":"evt-{{instanceId}}"}""";

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
