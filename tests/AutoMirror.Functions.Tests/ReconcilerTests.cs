using AutoMirror.Core;
using AutoMirror.Core.Ownership;
using AutoMirror.Aws;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

public class ReconcilerTests
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    [Fact]
    public async Task ConcurrentInvocationsForOneInstance_EndWithOneSessionPerInterface()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, interfaces: 3);

        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => world.Reconciler.ReconcileInstanceAsync(id, "race", null, true, default))));

        var sessions = world.OurSessions();
        Assert.Equal(3, sessions.Count);
        Assert.Equal(3, sessions.Select(s => s.NetworkInterfaceId).Distinct().Count());
    }

    [Fact]
    public async Task RacingCreatesWithDifferentNumbers_AreDedupedKeepingTheLowestNumber()
    {
        // PREFERRED_SESSION_NUMBER=1: a foreign session can take our planned number and still leave numbers behind it.
        var world = new TestWorld(name => name == "PREFERRED_SESSION_NUMBER" ? "1" : null);
        var id = world.Ec2.Launch(Tagged);
        var eni = world.Ec2.InterfacesOf(id)[0];
        // Two plans made from different views of the interface: one before a foreign session took number 1.
        var planA = await world.Reconciler.EvaluateAsync(id, "a", null, default);
        var foreign = world.Ec2.AddForeignSession(eni, "tmt-foreign", 1);
        var planB = await world.Reconciler.EvaluateAsync(id, "b", null, default);
        Assert.Equal(1, planA.Sessions[0].SessionNumber);
        await world.Ec2.DeleteTrafficMirrorSessionAsync(foreign.TrafficMirrorSessionId, default);
        var createdA = await world.Reconciler.CreateSessionsAsync(planA, default);
        var createdB = await world.Reconciler.CreateSessionsAsync(planB, default);
        Assert.Equal(2, world.OurSessions().Count);

        var verified = await world.Reconciler.VerifyAsync(planB, createdB, default);

        var kept = Assert.Single(world.OurSessions());
        Assert.Equal(1, kept.SessionNumber);
        Assert.Equal(createdA.SessionIds[0], kept.TrafficMirrorSessionId);
        Assert.Single(verified.DeletedSessionIds);
    }

    [Fact]
    public async Task ForeignSessions_AreNeverModifiedOrDeleted_AndCountTowardsTheLimit()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, interfaces: 2);
        var enis = world.Ec2.InterfacesOf(id);
        var foreign = new[]
        {
            world.Ec2.AddForeignSession(enis[0], "tmt-foreign", 1),
            world.Ec2.AddForeignSession(enis[0], "tmt-foreign", 2),
            world.Ec2.AddForeignSession(enis[0], TestWorld.Target, 3),
            world.Ec2.AddForeignSession(enis[1], "tmt-foreign", 5),
        };

        var outcome = await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.RemoveTag(id, "automirror");
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.Equal(MirrorStatus.SessionLimit.ToWireName(), outcome.Reason);
        var remaining = world.Ec2.AllSessions();
        Assert.All(foreign, f => Assert.Contains(f, remaining));
        Assert.Empty(world.OurSessions());
    }

    [Theory]
    [InlineData("111111111111", false)]
    [InlineData("222222222222", true)]
    public async Task ScheduledReconcile_NeverDeletesASessionAnotherAccountMadeToOurSharedTarget(string sessionOwner, bool kept)
    {
        // A target shared through AWS RAM: EC2 lists a source account's sessions to the target's owner too, with the
        // tags AutoMirror in that account gave them. Its interface is not in this account, so an own session there
        // would be an orphan to delete; a source account's is not this account's to touch (and only it could).
        var world = new TestWorld(name => name == "ACCOUNT_ID" ? "111111111111" : null);
        var session = world.Ec2.AddSession("tms-0000000000000000c", "eni-0000000000000000d", TestWorld.Target,
            SessionTags.For("i-0000000000000000e", "eni-0000000000000000d", "red"), ownerId: sessionOwner);

        await world.Reconciler.ReconcileAsync(null, 4, default);

        Assert.Equal(kept, world.Ec2.AllSessions().Any(s => s.TrafficMirrorSessionId == session.TrafficMirrorSessionId));
    }

    [Fact]
    public async Task SessionLimit_IsReportedOnTheInstance()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var eni = world.Ec2.InterfacesOf(id)[0];
        for (var n = 1; n <= 3; n++)
        {
            world.Ec2.AddForeignSession(eni, "tmt-foreign", n);
        }

        var outcome = await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.Equal(InstanceOutcomeKind.SessionLimit, outcome.Outcome);
        Assert.Equal(MirrorStatus.SessionLimit.ToWireName(), world.Ec2.TagsOf(id)[SessionTags.Status]);
        Assert.Empty(world.OurSessions());
    }

    [Theory]
    [InlineData("m5.metal")]
    [InlineData("m6i.large")]
    [InlineData("t2.micro")]
    public async Task UnsupportedType_CreatesNothingAndSaysWhy(string type)
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, instanceType: type);

        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.Empty(world.OurSessions());
        Assert.Equal(0, world.Ec2.Calls.GetValueOrDefault("CreateTrafficMirrorSession"));
        Assert.Equal(MirrorStatus.UnsupportedInstanceType.ToWireName(), world.Ec2.TagsOf(id)[SessionTags.Status]);
    }

    [Fact]
    public async Task CreateRefusedByAwsForTheType_IsFinalAndRemembered()
    {
        var world = new TestWorld();
        world.Ec2.RefusedTypes.Add("m5.large");
        var first = world.Ec2.Launch(Tagged);
        var second = world.Ec2.Launch(Tagged);

        await world.Reconciler.ReconcileInstanceAsync(first, "t", null, true, default);
        await world.Reconciler.ReconcileInstanceAsync(second, "t", null, true, default);

        Assert.Empty(world.OurSessions());
        Assert.Equal(MirrorStatus.UnsupportedInstanceType.ToWireName(), world.Ec2.TagsOf(first)[SessionTags.Status]);
        Assert.Equal(MirrorStatus.UnsupportedInstanceType.ToWireName(), world.Ec2.TagsOf(second)[SessionTags.Status]);
        Assert.Equal(1, world.Ec2.Calls["CreateTrafficMirrorSession"]);
    }

    [Fact]
    public async Task InstanceTypes_AreDescribedOncePerContainer()
    {
        var world = new TestWorld();
        for (var i = 0; i < 5; i++)
        {
            await world.Reconciler.ReconcileInstanceAsync(world.Ec2.Launch(Tagged), "t", null, true, default);
        }

        Assert.Equal(1, world.Ec2.Calls["DescribeInstanceTypes"]);
    }

    [Fact]
    public async Task Labs_GetStableDistinctVnis_AndNoLabGetsTheDefault()
    {
        var world = new TestWorld(n => n == "DEFAULT_VNI" ? "4242" : TestWorld.Defaults(n));
        var a1 = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-a" });
        var a2 = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-a" });
        var b = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-b" });
        var none = world.Ec2.Launch(Tagged);
        foreach (var id in new[] { a1, a2, b, none })
        {
            await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        }

        int? VniOf(string id) => world.OurSessions().Single(s => s.Tags[SessionTags.InstanceId] == id).VirtualNetworkId;
        Assert.Equal(VniOf(a1), VniOf(a2));
        Assert.NotEqual(VniOf(a1), VniOf(b));
        Assert.Equal(4242, VniOf(none));
        Assert.Equal(SessionIdentity.HashVni("lab-a"), VniOf(a1));

        // A fresh container (a new run) finds the same VNIs.
        var again = new Reconciler(world.Ec2, world.LoadBalancing, world.Settings, TimeProvider.System, world.Log);
        var a3 = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-a" });
        await again.ReconcileInstanceAsync(a3, "t", null, true, default);
        Assert.Equal(VniOf(a1), VniOf(a3));
    }

    [Fact]
    public async Task RelabelledInstance_MovesToItsNewLabsVni()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-a" });
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.SetTag(id, "lab", "lab-b");

        var result = await TestWorld.InvokeAsync(new Handlers.EventHandler(world.Services).HandleAsync, LabTagEvent(id));

        Assert.Contains("attach-started", result, StringComparison.Ordinal);
        var session = Assert.Single(world.OurSessions());
        Assert.Equal("lab-b", session.Tags[SessionTags.Lab]);
        Assert.Equal(SessionIdentity.HashVni("lab-b"), session.VirtualNetworkId);
    }

    private static string LabTagEvent(string instanceId) =>
        "{\"version\":\"0\",\"id\":\"relabel-1\",\"detail-type\":\"Tag Change on Resource\",\"source\":\"aws.tag\",\"time\":\"2026-01-01T00:00:00Z\","
        + "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/" + instanceId + "\"],"
        + "\"detail\":{\"changed-tag-keys\":[\"lab\"],\"service\":\"ec2\",\"resource-type\":\"instance\",\"version\":4,\"tags\":{\"automirror\":\"true\",\"lab\":\"lab-b\"}}}";

    [Fact]
    public async Task ClonedLabWhoseHashCollides_GetsADifferentVni()
    {
        var world = new TestWorld();
        var original = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-a" });
        await world.Reconciler.ReconcileInstanceAsync(original, "t", null, true, default);
        // Simulate a session of another lab already holding lab-b's hash VNI.
        var squatter = world.Ec2.Launch();
        var eni = world.Ec2.InterfacesOf(squatter)[0];
        await world.Ec2.CreateTrafficMirrorSessionAsync(new(eni, TestWorld.Target, TestWorld.Filter, 1, SessionIdentity.HashVni("lab-b"), null, "tok",
            SessionTags.For(squatter, eni, "lab-z")), default);
        var clone = world.Ec2.Launch(new Dictionary<string, string>(Tagged) { ["lab"] = "lab-b" });

        await new Reconciler(world.Ec2, world.LoadBalancing, world.Settings, TimeProvider.System, world.Log).ReconcileInstanceAsync(clone, "t", null, true, default);

        var vni = world.OurSessions().Single(s => s.Tags[SessionTags.InstanceId] == clone).VirtualNetworkId;
        Assert.NotEqual(SessionIdentity.HashVni("lab-b"), vni);
    }

    [Fact]
    public async Task ReattachAfterDetach_SurvivesEc2ReturningTheDeletedSessionForAReusedToken()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.RemoveTag(id, "automirror");
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        Assert.Empty(world.OurSessions());
        world.Ec2.SetTag(id, "automirror", "true");

        var outcome = await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        var session = Assert.Single(world.OurSessions());
        Assert.Equal([session.TrafficMirrorSessionId], outcome.SessionIds);
        Assert.Contains(world.Log.Decisions, d => d.Action == "stale-client-token");
    }

    [Fact]
    public async Task InstanceUntaggedWhileCreating_EndsWithoutSessions()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var plan = await world.Reconciler.EvaluateAsync(id, "t", null, default);
        // The detach event for the untag is handled before our create lands.
        world.Ec2.RemoveTag(id, "automirror");
        await world.Reconciler.EvaluateAsync(id, "untag", null, default);
        var created = await world.Reconciler.CreateSessionsAsync(plan, default);
        Assert.Single(world.OurSessions());

        var verified = await world.Reconciler.VerifyAsync(plan, created, default);

        Assert.Empty(world.OurSessions());
        Assert.Single(verified.DeletedSessionIds);
    }

    [Fact]
    public async Task RunningTrigger_WhileEc2StillDescribesPending_Attaches()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        world.Ec2.SetState(id, "pending");

        var plan = await world.Reconciler.EvaluateAsync(id, "running", null, default);
        var reconciled = await world.Reconciler.EvaluateAsync(id, "reconcile", null, default);

        Assert.Equal(AttachDecision.Attach, plan.Decision);
        Assert.Equal("instance-pending", reconciled.Reason);
    }

    [Fact]
    public async Task ReconcileAll_InSteadyState_ReadsTheFleetInAFewCallsAndChangesNothing()
    {
        var world = new TestWorld();
        for (var i = 0; i < 30; i++)
        {
            world.Ec2.Launch(Tagged, interfaces: 1 + (i % 2));
        }

        world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "false" });
        await world.Reconciler.ReconcileAsync(null, 4, default);
        world.Ec2.Calls.Clear();

        var report = await world.Reconciler.ReconcileAsync(null, 4, default);

        Assert.Equal(30, report.Mirrored);
        Assert.Equal(1, report.Skipped);
        Assert.Equal(1, world.Ec2.Calls["DescribeInstances"]);
        Assert.Equal(2, world.Ec2.Calls["DescribeTrafficMirrorSessions"]);
        Assert.Equal(0, world.Ec2.MutatingCalls);
        Assert.Equal(3, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task Cleanup_LeavesTheSessionOfAConcurrentExecutionAlone()
    {
        // PREFERRED_SESSION_NUMBER=1: a foreign session can take our planned number and still leave numbers behind it.
        var world = new TestWorld(name => name == "PREFERRED_SESSION_NUMBER" ? "1" : null);
        var id = world.Ec2.Launch(Tagged);
        var eni = world.Ec2.InterfacesOf(id)[0];
        var failing = await world.Reconciler.EvaluateAsync(id, "a", null, default);
        // A concurrent execution, planned after a foreign session took number 1, made its session under number 2.
        var foreign = world.Ec2.AddForeignSession(eni, "tmt-foreign", 1);
        var succeeding = await world.Reconciler.EvaluateAsync(id, "b", null, default);
        await world.Reconciler.CreateSessionsAsync(succeeding, default);
        Assert.Equal(2, Assert.Single(world.OurSessions()).SessionNumber);

        var cleaned = await world.Reconciler.CleanupAsync(failing, "States.Timeout", default);

        Assert.Empty(cleaned.DeletedSessionIds);
        Assert.Single(world.OurSessions());
        Assert.Contains(foreign, world.Ec2.AllSessions());
    }

    [Fact]
    public async Task ExcludedInstance_LosesItsSessionsAndIsMarkedDetachedWithTheReason()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.SetTag(id, "automirror:exclude", "TRUE");

        var outcome = await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.Equal(InstanceOutcomeKind.Detached, outcome.Outcome);
        Assert.Empty(world.OurSessions());
        Assert.Equal("detached:excluded", world.Ec2.TagsOf(id)[SessionTags.Status]);

        // It stays detached (with its reason) while excluded: the survey agrees and does not re-queue it.
        world.Ec2.Calls.Clear();
        var again = await world.Reconciler.ReconcileAsync(null, 1, default);
        Assert.Equal(InstanceOutcomeKind.Skipped, Assert.Single(again.Outcomes).Outcome);
        Assert.Equal(0, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
        Assert.Equal("detached:excluded", world.Ec2.TagsOf(id)[SessionTags.Status]);
    }

    [Fact]
    public async Task UntaggedInstance_HasTheStatusTagRemoved()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        world.Ec2.RemoveTag(id, "automirror");

        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status));
    }

    [Fact]
    public async Task StatusTagOff_WritesNoInstanceTags()
    {
        var world = new TestWorld(n => n == "STATUS_TAG" ? "false" : TestWorld.Defaults(n));
        var id = world.Ec2.Launch(Tagged);

        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        Assert.Single(world.OurSessions());
        Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status));
        Assert.False(world.Ec2.Calls.ContainsKey("CreateTags"));
    }

    [Fact]
    public async Task Terminated_WithAnInterfaceThatOutlivesIt_DeletesThatInterfacesSessionToo()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged, interfaces: 2, survivingInterfaces: 1);
        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);
        Assert.Equal(2, world.OurSessions().Count);
        world.Ec2.SetState(id, "terminated");
        Assert.Single(world.OurSessions());

        var plan = await world.Reconciler.EvaluateAsync(id, "state-terminated", new StateHint("terminated", DateTimeOffset.MaxValue), default);

        Assert.Equal(AttachDecision.Detach, plan.Decision);
        Assert.Empty(world.OurSessions());
    }

    [Fact]
    public async Task NumberTakenByAnotherToolBetweenEvaluateAndCreate_FailsTheRun_AndTheNextRunPlansAroundIt()
    {
        // PREFERRED_SESSION_NUMBER=1: a foreign session can take our planned number and still leave numbers behind it.
        var world = new TestWorld(name => name == "PREFERRED_SESSION_NUMBER" ? "1" : null);
        var id = world.Ec2.Launch(Tagged, interfaces: 2);
        var plan = await world.Reconciler.EvaluateAsync(id, "t", null, default);
        var foreign = world.Ec2.AddForeignSession(world.Ec2.InterfacesOf(id)[1], "tmt-foreign", plan.Sessions[1].SessionNumber);

        var e = await Assert.ThrowsAsync<AwsServiceException>(() => world.Reconciler.CreateSessionsAsync(plan, default));
        await world.Reconciler.CleanupAsync(plan, e.ErrorCode, default);
        Assert.Empty(world.OurSessions());

        var next = await world.Reconciler.ReconcileInstanceAsync(id, "reconcile", null, true, default);

        Assert.Equal(InstanceOutcomeKind.Mirrored, next.Outcome);
        Assert.Equal(2, world.OurSessions().Count);
        Assert.DoesNotContain(world.OurSessions(), s => s.NetworkInterfaceId == foreign.NetworkInterfaceId && s.SessionNumber == foreign.SessionNumber);
        Assert.Contains(foreign, world.Ec2.AllSessions());
    }

    [Fact]
    public async Task PacketLength_WhenConfigured_IsSentAndOtherwiseOmitted()
    {
        var whole = new TestWorld();
        await whole.Reconciler.ReconcileInstanceAsync(whole.Ec2.Launch(Tagged), "t", null, true, default);
        var truncated = new TestWorld(n => n == "PACKET_LENGTH" ? "128" : TestWorld.Defaults(n));
        await truncated.Reconciler.ReconcileInstanceAsync(truncated.Ec2.Launch(Tagged), "t", null, true, default);

        Assert.Null(Assert.Single(whole.OurSessions()).PacketLength);
        Assert.Equal(128, Assert.Single(truncated.OurSessions()).PacketLength);
    }

    [Fact]
    public async Task Throttling_PropagatesAsThrottledExceptionForTheWorkflowToRetry()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        world.Ec2.ThrottleRate = 1.0;

        await Assert.ThrowsAsync<ThrottledException>(() => TestWorld.InvokeAsync(world.Steps.EvaluateAsync, "{\"instanceId\":\"" + id + "\"}"));
    }

    [Fact]
    public async Task ReconcileAll_WithSomeFailures_ReconcilesTheRestAndThenFails()
    {
        var world = new TestWorld();
        var ids = Enumerable.Range(0, 20).Select(_ => world.Ec2.Launch(Tagged)).ToList();
        world.Ec2.TransientRate = 0.05;

        var e = await Assert.ThrowsAsync<ReconcileFailedException>(() => world.Reconciler.ReconcileAsync(null, 4, default));

        Assert.True(e.Report.Failed > 0);
        Assert.Equal(e.Report.Instances, e.Report.Mirrored + e.Report.Failed);
        world.Ec2.TransientRate = 0;
        var report = await world.Reconciler.ReconcileAsync(null, 4, default);
        Assert.Equal(0, report.Failed);
        Assert.Equal(ids.Order(), world.OurSessions().Select(s => s.Tags[SessionTags.InstanceId]).Order());
    }
}
