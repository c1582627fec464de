using System.Globalization;
using System.Text.Json;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// automirror:status is written only on instances AutoMirror is responsible for, says detached:&lt;reason&gt; when
/// AutoMirror removes an instance's sessions, is removed when the instance leaves scope, and carries the run's
/// correlation id in automirror:correlation-id, written in the same request.
/// </summary>
public class StatusTagTests
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    private static string Scheduled(string id) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["version"] = "0",
        ["id"] = id,
        ["detail-type"] = "Scheduled Event",
        ["source"] = "aws.events",
        ["account"] = "123456789012",
        ["time"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        ["region"] = "us-east-1",
        ["resources"] = new[] { "arn:aws:events:us-east-1:123456789012:rule/reconcile" },
        ["detail"] = new Dictionary<string, string>(),
    });

    [Fact]
    public async Task Reconcile_WritesStatusAndItsCorrelationIdInOneCreateTagsRequest()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);

        await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, Scheduled("7a1e7e1d-0001-4c2b-9a55-5e0000000001"));

        var tagWrites = world.Ec2.Mutations.Where(m => m.StartsWith("CreateTags", StringComparison.Ordinal)).ToList();
        Assert.Equal($"CreateTags {id} automirror:status=mirrored,automirror:correlation-id=7a1e7e1d-0001-4c2b-9a55-5e0000000001", Assert.Single(tagWrites));
        Assert.Equal("7a1e7e1d-0001-4c2b-9a55-5e0000000001", world.Ec2.TagsOf(id)[SessionTags.CorrelationId]);
    }

    [Fact]
    public async Task InstanceLeavingScope_LosesStatusAndCorrelationIdInOneDeleteTags()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.RemoveTag(id, "automirror");

        await world.Reconciler.ReconcileAsync(null, 1, default);

        Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status));
        Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.CorrelationId));
        Assert.Equal($"DeleteTags {id} automirror:status,automirror:correlation-id", Assert.Single(world.Ec2.Mutations, m => m.StartsWith("DeleteTags", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task StoppedInstance_WhoseSessionsGo_SaysDetachedWithTheReason()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.SetState(id, "stopped");

        await world.Reconciler.ReconcileInstanceAsync(id, "state-stopped", null, true, default);

        Assert.Empty(world.OurSessions());
        Assert.Equal("detached:instance-stopped", world.Ec2.TagsOf(id)[SessionTags.Status]);
    }

    [Fact]
    public async Task StatusStillClaimingMirrored_OnAStoppedInstanceWithoutSessions_IsCorrectedByTheReconcile()
    {
        // The stop event was missed and someone deleted the session by hand: the tag must not keep saying mirrored.
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        await world.Ec2.DeleteTrafficMirrorSessionAsync(world.OurSessions()[0].TrafficMirrorSessionId, default);
        world.Ec2.SetState(id, "stopped");

        await world.Reconciler.ReconcileAsync(null, 1, default);

        Assert.Equal("detached:instance-stopped", world.Ec2.TagsOf(id)[SessionTags.Status]);
    }

    [Fact]
    public async Task InstanceInAnotherVpc_NeverGetsAStatusTag()
    {
        var world = new TestWorld(n => n == "VPC_IDS" ? "vpc-1" : TestWorld.Defaults(n));
        var outside = world.Ec2.Launch(Tagged, vpcId: "vpc-2");

        await world.Reconciler.ReconcileInstanceAsync(outside, "t", null, true, default);
        await world.Reconciler.ReconcileAsync(null, 1, default);

        Assert.False(world.Ec2.TagsOf(outside).ContainsKey(SessionTags.Status));
        Assert.Equal(0, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
    }

    [Fact]
    public async Task SensorInstance_NeverGetsAStatusTag()
    {
        var world = new TestWorld(n => n == "SENSOR_SUBNET_IDS" ? "subnet-sensor" : TestWorld.Defaults(n));
        var sensor = world.Ec2.Launch(Tagged, subnetId: "subnet-sensor");

        await world.Reconciler.ReconcileInstanceAsync(sensor, "t", null, true, default);

        Assert.False(world.Ec2.TagsOf(sensor).ContainsKey(SessionTags.Status));
    }

    [Fact]
    public async Task StaleStatusOnAnInstanceThatLeftTheConfiguredVpcs_IsRemovedByTheScheduledReconcile()
    {
        var world = new TestWorld(n => n == "VPC_IDS" ? "vpc-1" : TestWorld.Defaults(n));
        var outside = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true", [SessionTags.Status] = "excluded" }, vpcId: "vpc-2");

        await world.Reconciler.ReconcileAsync(null, 1, default);

        Assert.False(world.Ec2.TagsOf(outside).ContainsKey(SessionTags.Status));
    }

    [Theory]
    [InlineData(null, true, false, "mirrored", "mirrored")]
    [InlineData("mirrored", false, true, null, "detached:instance-stopped")]
    [InlineData("mirrored", false, false, null, "detached:instance-stopped")]
    [InlineData("detached:excluded", false, false, null, "detached:excluded")]
    [InlineData(null, false, false, null, null)]
    public void Desired_FollowsTheLifecycle(string? current, bool qualifies, bool removed, string? policyStatus, string? expected)
    {
        var eligibility = qualifies
            ? new Eligibility(true, "qualifies", MirrorStatus.Mirrored, [])
            : Eligibility.No("instance-stopped", policyStatus is null ? null : Enum.Parse<MirrorStatus>(policyStatus, true));
        Assert.Equal(expected, StatusTagRule.Desired(current, eligibility, removed));
    }

    [Fact]
    public void Desired_OutOfScope_IsAlwaysNoTag() =>
        Assert.Null(StatusTagRule.Desired("mirrored", Eligibility.No("not-tagged") with { InScope = false }, removedSessions: true));

    [Fact]
    public void TagValue_IsCutToEc2s256Characters()
    {
        Assert.Equal("evt-1#2 a:b/c=d+e-f@g", StatusTagRule.TagValue("evt-1#2 a:b/c=d+e-f@g"));
        Assert.Equal(256, StatusTagRule.TagValue(new string('x', 300)).Length);
    }
}
