using AutoMirror.Core;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// TargetKind=eni (issue #17 item 1): the sessions go to one sensor's interface, which AWS lets take 10 sources (100
/// on a few large sensor types). AutoMirror counts the target's sources, lets an instance wait with
/// automirror:status=waiting instead of failing, and the scheduled reconcile attaches it once room frees.
/// </summary>
public class InterfaceTargetTests
{
    private const string SensorId = "i-0000000000000se01";
    private const string SensorEni = "eni-0000000000000se01";
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    private static TestWorld InterfaceWorld(bool sensorHoldsTheInterface = true)
    {
        var world = new TestWorld(name => name switch
        {
            "TARGET_KIND" => "eni",
            "SENSOR_INTERFACE_ID" => SensorEni,
            "SENSOR_TARGET_GROUP_ARN" => "",
            _ => null,
        });
        world.Ec2.AddTarget(TestWorld.Target, SensorEni);
        world.Ec2.AddInstance(SensorId, sensorHoldsTheInterface ? "running" : "stopped", new Dictionary<string, string>());
        return world;
    }

    [Fact]
    public async Task EleventhInstance_WaitsWithItsStatus_AndTheReportNamesIt()
    {
        var world = InterfaceWorld();
        var ids = Enumerable.Range(0, 11).Select(_ => world.Ec2.Launch(Tagged)).ToList();

        var report = await world.Reconciler.ReconcileAsync(null, 4, default);

        Assert.Equal(10, world.OurSessions().Select(s => s.NetworkInterfaceId).Distinct().Count());
        Assert.Equal(10, report.Mirrored);
        Assert.Equal(1, report.Waiting);
        Assert.Equal(0, report.Failed);
        var waiting = Assert.Single(report.Outcomes, o => o.Outcome == InstanceOutcomeKind.Waiting);
        Assert.Contains(waiting.InstanceId, ids);
        Assert.Equal("waiting", world.Ec2.TagsOf(waiting.InstanceId)[SessionTags.Status]);
        Assert.DoesNotContain(world.Ec2.AllSessions(), s => world.Ec2.InterfacesOf(waiting.InstanceId).Contains(s.NetworkInterfaceId));
        Assert.Contains(world.Log.Decisions, d => d.Reason == SkipReasons.WaitingForTarget && d.InstanceId == waiting.InstanceId);
    }

    [Fact]
    public async Task WaitingInstance_IsAttachedByTheNextReconcile_OnceASourceDetaches()
    {
        var world = InterfaceWorld();
        var ids = Enumerable.Range(0, 11).Select(_ => world.Ec2.Launch(Tagged)).ToList();
        var first = await world.Reconciler.ReconcileAsync(null, 4, default);
        var waiting = first.Outcomes.Single(o => o.Outcome == InstanceOutcomeKind.Waiting).InstanceId;
        var leaving = ids.First(id => id != waiting);

        world.Ec2.RemoveTag(leaving, "automirror");
        var second = await world.Reconciler.ReconcileAsync(null, 4, default);

        Assert.Equal(0, second.Waiting);
        Assert.Equal(InstanceOutcomeKind.Mirrored, second.Outcomes.Single(o => o.InstanceId == waiting).Outcome);
        Assert.Equal("mirrored", world.Ec2.TagsOf(waiting)[SessionTags.Status]);
        Assert.Equal(10, world.OurSessions().Select(s => s.NetworkInterfaceId).Distinct().Count());
        Assert.DoesNotContain(world.OurSessions(), s => s.Tags[SessionTags.InstanceId] == leaving);
    }

    [Fact]
    public async Task InstanceWithTwoInterfaces_AndRoomForOne_WaitsWhole()
    {
        var world = InterfaceWorld();
        for (var n = 0; n < 9; n++)
        {
            await world.Reconciler.ReconcileInstanceAsync(world.Ec2.Launch(Tagged), "test", null, true, default);
        }

        var two = world.Ec2.Launch(Tagged, interfaces: 2);
        var outcome = await world.Reconciler.ReconcileInstanceAsync(two, "test", null, true, default);

        Assert.Equal(InstanceOutcomeKind.Waiting, outcome.Outcome);
        Assert.Equal(9, world.OurSessions().Count);
        Assert.Equal("waiting", world.Ec2.TagsOf(two)[SessionTags.Status]);
    }

    [Fact]
    public async Task TargetFilledByARacingAttach_MakesTheInstanceWait_NotFail()
    {
        var world = InterfaceWorld();
        for (var n = 0; n < 9; n++)
        {
            await world.Reconciler.ReconcileInstanceAsync(world.Ec2.Launch(Tagged), "test", null, true, default);
        }

        // Both plans see one place left; the second create is refused by AWS's quota.
        var a = world.Ec2.Launch(Tagged);
        var b = world.Ec2.Launch(Tagged);
        var planA = await world.Reconciler.EvaluateAsync(a, "a", null, default);
        var planB = await world.Reconciler.EvaluateAsync(b, "b", null, default);
        Assert.Equal(AttachDecision.Attach, planB.Decision);
        var createdA = await world.Reconciler.CreateSessionsAsync(planA, default);
        var createdB = await world.Reconciler.CreateSessionsAsync(planB, default);
        var verifiedA = await world.Reconciler.VerifyAsync(planA, createdA, default);
        var verifiedB = await world.Reconciler.VerifyAsync(planB, createdB, default);

        Assert.Equal("mirrored", verifiedA.Status);
        Assert.Equal("waiting", verifiedB.Status);
        Assert.Equal([world.Ec2.InterfacesOf(b)[0]], createdB.WaitingEniIds);
        Assert.Equal("waiting", world.Ec2.TagsOf(b)[SessionTags.Status]);
        Assert.Equal(10, world.OurSessions().Count);
    }

    [Fact]
    public void TargetKind_DefaultsToNlb_AndAnUnknownOneFailsNamingTheVariable()
    {
        Assert.Equal(Core.Configuration.MirrorTargetKind.Nlb, new TestWorld().Settings.TargetKind);
        var error = Assert.Throws<Core.Configuration.ConfigurationException>(() => new TestWorld(name => name == "TARGET_KIND" ? "alb" : null));
        Assert.Contains("TARGET_KIND", error.Message, StringComparison.Ordinal);
        var unset = Assert.Throws<Core.Configuration.ConfigurationException>(() => new TestWorld(name => name == "TARGET_KIND" ? "eni" : null).Settings.RequireSensorInterfaceId());
        Assert.Contains("SENSOR_INTERFACE_ID", unset.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeSensorType_TakesAHundredSources_EveryOtherTen()
    {
        Assert.Equal(100, MirrorFacts.InterfaceTargetSourceLimit("m5dn.24xlarge"));
        Assert.Equal(10, MirrorFacts.InterfaceTargetSourceLimit("c6in.large"));
        Assert.Equal(10, MirrorFacts.InterfaceTargetSourceLimit(null));
    }

    [Fact]
    public async Task HealthGate_IsTheRunningSensorHoldingTheInterface()
    {
        var held = await InterfaceWorld().Reconciler.CheckTargetHealthAsync(null, default);
        var unheld = await InterfaceWorld(sensorHoldsTheInterface: false).Reconciler.CheckTargetHealthAsync(null, default);

        Assert.True(held.Healthy);
        Assert.False(unheld.Healthy);
    }

    [Fact]
    public async Task LoadBalancerTarget_HasNoSourceLimit()
    {
        var world = new TestWorld();
        for (var n = 0; n < 12; n++)
        {
            world.Ec2.Launch(Tagged);
        }

        var report = await world.Reconciler.ReconcileAsync(null, 4, default);

        Assert.Equal(12, report.Mirrored);
        Assert.Equal(0, report.Waiting);
    }
}
