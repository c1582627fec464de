using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Tests.Fakes;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// A network interface can be detached from one instance and attached to another (secondary interfaces, failover,
/// hot standby), and its sessions go with it. AutoMirror judges each of its sessions by the instance the interface is
/// attached to now, so a session never ends up mirroring (and billing) an instance that did not opt in.
/// </summary>
public class FollowTheInterfaceTests
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    private static async Task<(TestWorld World, string Opted, string Secondary)> MirroredWithSecondaryAsync()
    {
        var world = new TestWorld();
        var opted = world.Ec2.Launch(Tagged, interfaces: 2);
        await world.Reconciler.ReconcileInstanceAsync(opted, "t", null, true, default);
        Assert.Equal(2, world.OurSessions().Count);
        return (world, opted, world.Ec2.InterfacesOf(opted)[1]);
    }

    [Fact]
    public async Task ReconcileAll_InterfaceMovedToAnInstanceThatNeverOptedIn_LosesItsSession()
    {
        var (world, opted, secondary) = await MirroredWithSecondaryAsync();
        var bystander = world.Ec2.Launch();
        world.Ec2.MoveInterface(secondary, bystander);

        await world.Reconciler.ReconcileAsync(null, 2, default);

        Assert.DoesNotContain(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
        Assert.Equal(world.Ec2.InterfacesOf(opted), world.OurSessions().Select(s => s.NetworkInterfaceId));
        Assert.False(world.Ec2.TagsOf(bystander).ContainsKey(SessionTags.Status), "the status tag is never written on an instance out of scope");
    }

    [Fact]
    public async Task ReconcileAll_InterfaceMovedToAnotherQualifyingInstance_IsMirroredUnderItsNewOwner()
    {
        var (world, _, secondary) = await MirroredWithSecondaryAsync();
        var standby = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "other" });
        await world.Reconciler.ReconcileInstanceAsync(standby, "t", null, true, default);
        world.Ec2.MoveInterface(secondary, standby);

        await world.Reconciler.ReconcileAsync(null, 2, default);

        var moved = Assert.Single(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
        Assert.Equal(standby, moved.Tags[SessionTags.InstanceId]);
        Assert.Equal("other", moved.Tags[SessionTags.Lab]);
    }

    [Fact]
    public async Task ReconcileAll_DetachedInterface_LosesItsSession()
    {
        var (world, opted, secondary) = await MirroredWithSecondaryAsync();
        world.Ec2.MoveInterface(secondary, null);

        var report = await world.Reconciler.ReconcileAsync(null, 2, default);

        Assert.DoesNotContain(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
        Assert.Single(world.OurSessions());
        Assert.Contains(report.Outcomes, o => o.InstanceId == opted);
    }

    [Fact]
    public async Task StopEventOfTheNewOwner_DeletesTheSessionOfTheInterfaceItReceived()
    {
        var (world, _, secondary) = await MirroredWithSecondaryAsync();
        var bystander = world.Ec2.Launch();
        world.Ec2.MoveInterface(secondary, bystander);
        world.Ec2.SetState(bystander, "stopped");

        var answer = await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, ConvergencePropertyTests.StateEvent(world, bystander, "stopped"));

        Assert.Contains("\"action\":\"detached\"", answer, StringComparison.Ordinal);
        Assert.DoesNotContain(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
    }

    [Fact]
    public async Task TerminatedOldOwner_LeavesTheSessionOfAnInterfaceNowServingAnotherOptedInInstance()
    {
        var (world, opted, secondary) = await MirroredWithSecondaryAsync();
        var standby = world.Ec2.Launch(Tagged);
        world.Ec2.MoveInterface(secondary, standby);
        world.Ec2.SetState(opted, "terminated");

        // The terminated instance's sessions are found by their instance-id tag: the moved one still names it.
        await world.Reconciler.ReconcileInstanceAsync(opted, "state-terminated", new StateHint("terminated", DateTimeOffset.UtcNow), true, default);
        Assert.Contains(world.OurSessions(), s => s.NetworkInterfaceId == secondary);

        // Unknown to EC2 altogether (long gone): the same guard.
        await world.Reconciler.DetachUnknownInstanceAsync(opted, default);
        Assert.Contains(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
    }

    [Fact]
    public async Task AttachEventOfTheNewOwner_RemakesTheMovedSessionUnderIt()
    {
        var (world, _, secondary) = await MirroredWithSecondaryAsync();
        var standby = world.Ec2.Launch();
        world.Ec2.MoveInterface(secondary, standby);
        world.Ec2.SetTag(standby, "automirror", "true");

        await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, ConvergencePropertyTests.TagEvent(world, standby, ["automirror"]));

        var moved = Assert.Single(world.OurSessions(), s => s.NetworkInterfaceId == secondary);
        Assert.Equal(standby, moved.Tags[SessionTags.InstanceId]);
        Assert.Equal(2, world.OurSessions().Count(s => s.Tags[SessionTags.InstanceId] == standby));
    }
}
