using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>The Attach workflow's create-first path: a correlation id (the event's) in, one describe per instance.</summary>
public class CreateFirstAttachTests
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true", ["lab"] = "red" };

    private static async Task<(AttachPlan Plan, CreatedSessions Created, Verified Verified)> AttachAsync(TestWorld world, string id, string eventId)
    {
        var plan = await world.Reconciler.EvaluateAsync(id, "running", null, default, eventId);
        var created = await world.Reconciler.CreateSessionsAsync(plan, default);
        var verified = await world.Reconciler.VerifyAsync(plan, created, default);
        return (plan, created, verified);
    }

    [Fact]
    public async Task NewInstance_CostsOneDescribeInstancesAndOneCreatePerInterface_AndNoSessionDescribe()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, interfaces: 2);
        // The container's one-time reads (target, types, the lab's VNI) happen on its first attach.
        await AttachAsync(world, world.Ec2.Launch(Tagged), "evt-warm");
        world.Ec2.Calls.Clear();

        var (plan, _, verified) = await AttachAsync(world, id, "evt-1");

        Assert.True(plan.CreateFirst);
        Assert.Equal(1, world.Ec2.Calls.GetValueOrDefault("DescribeInstances"));
        Assert.Equal(2, world.Ec2.Calls.GetValueOrDefault("CreateTrafficMirrorSession"));
        Assert.Equal(0, world.Ec2.Calls.GetValueOrDefault("DescribeTrafficMirrorSessions"));
        Assert.Equal("mirrored", verified.Status);
        Assert.Equal(2, world.OurSessions().Count(s => s.Tags[SessionTags.InstanceId] == id));
        Assert.All(world.OurSessions().Where(s => s.Tags[SessionTags.InstanceId] == id), s => Assert.Equal("evt-1", s.Tags[SessionTags.CorrelationId]));
    }

    [Fact]
    public async Task AnotherToolsSession_StaysAhead_OfTheLastNumberCreateFirstTakes_WithoutADescribe()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var eni = world.Ec2.InterfacesOf(id)[0];
        var foreign = world.Ec2.AddForeignSession(eni, "tmt-foreign", 5);

        var (_, created, verified) = await AttachAsync(world, id, "evt-1");

        var ours = Assert.Single(world.OurSessions());
        Assert.Equal(32766, ours.SessionNumber);
        Assert.True(ours.SessionNumber > foreign.SessionNumber);
        Assert.Single(created.SessionIds);
        Assert.DoesNotContain(world.Log.Decisions, d => d.Reason == "conflict-describe-in-verify");
        Assert.Equal("mirrored", verified.Status);
    }

    [Fact]
    public async Task LastNumberTakenByAnotherTool_IsAConflict_Described_AndNothingGoesAheadOfIt()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var eni = world.Ec2.InterfacesOf(id)[0];
        var foreign = world.Ec2.AddForeignSession(eni, "tmt-foreign", 32766);

        var (_, created, verified) = await AttachAsync(world, id, "evt-1");

        Assert.Empty(created.SessionIds);
        Assert.Contains(world.Log.Decisions, d => d.Action == "create-session" && d.Reason == "conflict-describe-in-verify");
        // No number is left behind the user's session: AutoMirror says so instead of taking its packets.
        Assert.Empty(world.OurSessions());
        Assert.Equal("session-limit", verified.Status);
        Assert.Contains(world.Ec2.AllSessions(), s => s.TrafficMirrorSessionId == foreign.TrafficMirrorSessionId);
    }

    [Fact]
    public async Task SecondEventForAMirroredInstance_MeetsItsSessionAtTheNumber_AndKeepsIt()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var first = await AttachAsync(world, id, "evt-running");

        var second = await AttachAsync(world, id, "evt-tag");

        var kept = Assert.Single(world.OurSessions());
        Assert.Equal(first.Created.SessionIds[0], kept.TrafficMirrorSessionId);
        Assert.Equal([kept.TrafficMirrorSessionId], second.Verified.SessionIds);
        Assert.Empty(second.Verified.DeletedSessionIds);
    }

    [Fact]
    public async Task ConcurrentExecutionsOfTwoEvents_EndWithOneSessionPerInterface()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, interfaces: 3);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(n => Task.Run(() => AttachAsync(world, id, "evt-" + n))));

        var sessions = world.OurSessions();
        Assert.Equal(3, sessions.Count);
        Assert.Equal(3, sessions.Select(s => s.NetworkInterfaceId).Distinct().Count());
    }

    [Fact]
    public async Task RetriedCreateOfOneExecution_IsIdempotent()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var plan = await world.Reconciler.EvaluateAsync(id, "running", null, default, "evt-1");

        var once = await world.Reconciler.CreateSessionsAsync(plan, default);
        var again = await world.Reconciler.CreateSessionsAsync(plan, default);

        Assert.Equal(once.SessionIds, again.SessionIds);
        Assert.Single(world.OurSessions());
    }

    [Fact]
    public async Task ReattachAfterDetach_UnderANewEvent_GetsALiveSessionFromTheCreateAlone()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var first = await AttachAsync(world, id, "evt-1");
        world.Ec2.RemoveTag(id, "automirror");
        await world.Reconciler.EvaluateAsync(id, "tag-removed", null, default);
        Assert.Empty(world.OurSessions());
        world.Ec2.SetTag(id, "automirror", "true");

        var second = await AttachAsync(world, id, "evt-2");

        var live = Assert.Single(world.OurSessions());
        Assert.NotEqual(first.Created.SessionIds[0], live.TrafficMirrorSessionId);
        Assert.Equal([live.TrafficMirrorSessionId], second.Verified.SessionIds);
    }

    [Fact]
    public async Task Cleanup_DeletesItsOwnExecutionsSession_NotAConcurrentOnesOnTheSameNumber()
    {
        var world = new TestWorld();
        var a = world.Ec2.Launch(Tagged);
        var planA = await world.Reconciler.EvaluateAsync(a, "running", null, default, "evt-a");
        var planB = await world.Reconciler.EvaluateAsync(a, "tag", null, default, "evt-b");
        await world.Reconciler.CreateSessionsAsync(planB, default);

        var cleaned = await world.Reconciler.CleanupAsync(planA, "SessionVerificationException", default);

        Assert.Empty(cleaned.DeletedSessionIds);
        var kept = Assert.Single(world.OurSessions());
        Assert.Equal("evt-b", kept.Tags[SessionTags.CorrelationId]);

        var own = await world.Reconciler.CleanupAsync(planB, "SessionVerificationException", default);
        Assert.Equal([kept.TrafficMirrorSessionId], own.DeletedSessionIds);
    }

    [Fact]
    public async Task MirroredVerdict_IsStatusTaggedByTheContainersBatch()
    {
        var world = new TestWorld();
        var ids = Enumerable.Range(0, 3).Select(_ => world.Ec2.Launch(Tagged)).ToList();
        foreach (var id in ids)
        {
            await AttachAsync(world, id, "evt-" + id);
        }

        Assert.Equal(3, world.Reconciler.StatusBatch.Pending);
        await world.Reconciler.StatusBatch.FlushAsync(default);

        Assert.Equal(1, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
        Assert.All(ids, id => Assert.Equal("mirrored", world.Ec2.TagsOf(id)[SessionTags.Status]));
    }
}
