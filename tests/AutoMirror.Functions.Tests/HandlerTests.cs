using AutoMirror.Core;
using AutoMirror.Core.Ownership;
using System.Text;
using System.Text.Json;
using AutoMirror.Functions.Handlers;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>The handlers as the Lambda runtime calls them: a Stream in, a Stream out, over the fake account.</summary>
public class HandlerTests
{
    private static string FixtureFor(string file, string instanceId, string? eventId = null)
    {
        var text = Encoding.UTF8.GetString(EventParserTests.Fixture(file)).Replace("i-1234567890abcdef0", instanceId, StringComparison.Ordinal);
        return eventId is null ? text : text.Replace("\"id\": \"", "\"id\": \"" + eventId, StringComparison.Ordinal);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public async Task Running_StartsAttachWorkflowNamedAfterTheEvent_AndMirrorsEveryInterface()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "lab-a" }, interfaces: 2);
        var handler = new EventHandler(world.Services);

        var result = Json(await TestWorld.InvokeAsync(handler.HandleAsync, FixtureFor("ec2-state-running.json", id)));

        Assert.Equal("attach-started", result.GetProperty("action").GetString());
        Assert.Equal("evt-7bf73129-1428-4cd3-a780-95db273d1602", Assert.Single(world.StepFunctions.Executions.Keys));
        var sessions = world.OurSessions();
        Assert.Equal(world.Ec2.InterfacesOf(id).Order(), sessions.Select(s => s.NetworkInterfaceId).Order());
        Assert.All(sessions, s =>
        {
            Assert.Equal(id, s.Tags[SessionTags.InstanceId]);
            Assert.Equal(s.NetworkInterfaceId, s.Tags[SessionTags.EniId]);
            Assert.Equal("lab-a", s.Tags[SessionTags.Lab]);
            Assert.Null(s.PacketLength);
        });
        // The status goes out with the container's batch (StatusTagBatch: within its MaxDelay, or once full).
        Assert.Equal(1, world.Reconciler.StatusBatch.Pending);
        await world.Reconciler.StatusBatch.FlushAsync(default);
        Assert.Equal(MirrorStatus.Mirrored.ToWireName(), world.Ec2.TagsOf(id)[SessionTags.Status]);
    }

    [Fact]
    public async Task SameEventTwice_StartsOneExecution_AndOneSessionPerInterface()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        var handler = new EventHandler(world.Services);
        var payload = FixtureFor("ec2-state-running.json", id);

        await TestWorld.InvokeAsync(handler.HandleAsync, payload);
        var second = Json(await TestWorld.InvokeAsync(handler.HandleAsync, payload));

        Assert.Equal("attach-started", second.GetProperty("action").GetString());
        Assert.Single(world.StepFunctions.Executions);
        Assert.Single(world.OurSessions());
    }

    [Theory]
    [InlineData("ec2-state-stopping.json")]
    [InlineData("ec2-state-stopped.json")]
    [InlineData("ec2-state-shutting-down.json")]
    [InlineData("ec2-state-terminated.json")]
    public async Task DetachStates_DeleteOurSessionsAtOnce_WithoutAWorkflow(string file)
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        await world.Reconciler.ReconcileInstanceAsync(id, "test", null, true, default);
        Assert.Single(world.OurSessions());
        // The event says it is stopping; EC2 describes it as running still (eventual consistency): the event wins.
        var handler = new EventHandler(world.Services);

        var result = Json(await TestWorld.InvokeAsync(handler.HandleAsync, FixtureFor(file, id).Replace("2021-11-11", "2027-01-01", StringComparison.Ordinal)));

        Assert.Equal("detached", result.GetProperty("action").GetString());
        Assert.Empty(world.OurSessions());
        Assert.Empty(world.StepFunctions.Executions);
    }

    [Fact]
    public async Task StoppedEventOlderThanTheLastStart_IsStaleAndKeepsSessions()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        await world.Reconciler.ReconcileInstanceAsync(id, "test", null, true, default);
        var handler = new EventHandler(world.Services);

        // The fixture's time (2021) is before the fake instance's launch (2026): it describes an earlier run.
        var result = Json(await TestWorld.InvokeAsync(handler.HandleAsync, FixtureFor("ec2-state-stopped.json", id)));

        Assert.Equal("ignored", result.GetProperty("action").GetString());
        Assert.Single(world.OurSessions());
    }

    [Theory]
    [InlineData("tag-change-v3-mirror-removed.json")]
    [InlineData("tag-change-v3-mirror-set-false.json")]
    [InlineData("tag-change-v4-mirror-removed.json")]
    [InlineData("tag-change-v4-excluded.json")]
    public async Task TagRemovedOrChanged_Detaches(string file)
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        await world.Reconciler.ReconcileInstanceAsync(id, "test", null, true, default);
        var tags = JsonDocument.Parse(FixtureFor(file, id)).RootElement.GetProperty("detail").GetProperty("tags");
        world.Ec2.RemoveTag(id, "automirror");
        foreach (var tag in tags.EnumerateObject())
        {
            world.Ec2.SetTag(id, tag.Name, tag.Value.GetString()!);
        }

        var result = Json(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, FixtureFor(file, id)));

        Assert.Equal("detached", result.GetProperty("action").GetString());
        Assert.Empty(world.OurSessions());
    }

    [Theory]
    [InlineData("tag-change-v3-mirror-added.json")]
    [InlineData("tag-change-v4-mirror-added.json")]
    public async Task TagAdded_Attaches(string file)
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });

        var result = Json(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, FixtureFor(file, id)));

        Assert.Equal("attach-started", result.GetProperty("action").GetString());
        Assert.Single(world.OurSessions());
    }

    [Fact]
    public async Task UnrelatedTagChange_IsIgnoredWithoutAnAwsCall()
    {
        var world = new TestWorld();
        var result = Json(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, FixtureFor("tag-change-v3-unrelated.json", "i-0abc1234")));

        Assert.Equal("ignored", result.GetProperty("action").GetString());
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Theory]
    [InlineData("malformed/detail-only.json")]
    [InlineData("malformed/not-json.txt")]
    [InlineData("malformed/unknown-state.json")]
    [InlineData("malformed/missing-instance-id.json")]
    [InlineData("malformed/tag-change-volume.json")]
    [InlineData("malformed/unexpected-source.json")]
    public async Task MalformedEvent_IsRejectedAndLoggedWithNoAwsCall(string file)
    {
        var world = new TestWorld();

        var result = Json(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, Encoding.UTF8.GetString(EventParserTests.Fixture(file))));

        Assert.Equal("rejected", result.GetProperty("action").GetString());
        Assert.Equal(0, world.Ec2.TotalCalls);
        Assert.Equal(0, world.StepFunctions.Starts);
        var logged = Assert.Single(world.Log.Decisions);
        Assert.Equal("error", logged.Level);
        Assert.Equal(result.GetProperty("reason").GetString(), logged.Reason);
    }

    [Theory]
    [InlineData("scheduled-reconcile.json")]
    [InlineData("reconcile-all.json")]
    public async Task Reconcile_All_MirrorsQualifyingAndRemovesSessionsOfUntaggedInstances(string file)
    {
        var world = new TestWorld();
        var tagged = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        var untagged = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        await world.Reconciler.ReconcileInstanceAsync(untagged, "test", null, true, default);
        world.Ec2.RemoveTag(untagged, "automirror");
        var bystander = world.Ec2.Launch();

        var report = Json(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, Encoding.UTF8.GetString(EventParserTests.Fixture(file))));

        Assert.Equal(0, report.GetProperty("failed").GetInt32());
        Assert.Equal([tagged], world.OurSessions().Select(s => s.Tags[SessionTags.InstanceId]));
        Assert.DoesNotContain(bystander, report.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reconcile_WithNoHealthySensor_CreatesNothing_SaysItWaits_AndStillDetaches()
    {
        var world = new TestWorld();
        var waiting = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        // An untagged instance still holding our session (made earlier; no health check has run in this container).
        var leaving = world.Ec2.Launch();
        var leavingEni = world.Ec2.InterfacesOf(leaving)[0];
        world.Ec2.AddSession("tms-0000000000000leave", leavingEni, TestWorld.Target, SessionTags.For(leaving, leavingEni, null));
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new("i-sensor", 4789, "unhealthy", "Target.FailedHealthChecks", null));

        var report = Json(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, "{\"all\":true}"));

        Assert.Empty(world.OurSessions());
        Assert.Equal(1, report.GetProperty("waitingForSensor").GetInt32());
        Assert.Equal(1, report.GetProperty("detached").GetInt32());
        var outcome = report.GetProperty("outcomes").EnumerateArray().Single(o => o.GetProperty("instanceId").GetString() == waiting);
        Assert.Equal(("skipped", "waiting-for-healthy-sensor"), (outcome.GetProperty("outcome").GetString(), outcome.GetProperty("reason").GetString()));
        Assert.Contains(world.Log.Decisions, d => d.Action == "wait-for-sensor" && d.InstanceId == waiting && d.Level == "warn");

        // The sensor comes up: the next scheduled run mirrors the instance.
        world.LoadBalancing.Targets[0] = world.LoadBalancing.Targets[0] with { State = "healthy" };
        var next = Json(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, "{\"all\":true}"));

        Assert.Equal(0, next.GetProperty("waitingForSensor").GetInt32());
        Assert.Equal([waiting], world.OurSessions().Select(s => s.Tags[SessionTags.InstanceId]));
    }

    [Fact]
    public async Task Reconcile_ListOfIds_WaitsOutNotFoundAfterLaunch()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, invisibleDescribes: 2);

        var report = Json(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, "{\"instanceIds\":[\"" + id + "\"]}"));

        Assert.Equal(1, report.GetProperty("mirrored").GetInt32());
        Assert.Single(world.OurSessions());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"instanceIds\":[]}")]
    [InlineData("{\"instanceIds\":[\"vol-1\"]}")]
    [InlineData("[1,2]")]
    [InlineData("nonsense")]
    public async Task Reconcile_BadInput_IsRejectedWithNoAwsCall(string payload)
    {
        var world = new TestWorld();
        var result = Json(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, payload));

        Assert.Equal("rejected", result.GetProperty("outcome").GetString());
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task Evaluate_RightAfterLaunch_ThrowsInstanceNotFoundForTheWorkflowToRetry()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, invisibleDescribes: 1);

        await Assert.ThrowsAsync<InstanceNotFoundException>(() => TestWorld.InvokeAsync(world.Steps.EvaluateAsync, "{\"instanceId\":\"" + id + "\",\"trigger\":\"running\",\"eventId\":\"e\"}"));
        var plan = Json(await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, "{\"instanceId\":\"" + id + "\",\"trigger\":\"running\",\"eventId\":\"e\"}"));

        Assert.Equal("attach", plan.GetProperty("decision").GetString());
        var session = Assert.Single(plan.GetProperty("sessions").EnumerateArray().ToList());
        // The last number: behind every session anyone else makes on the interface, now or later.
        Assert.Equal(32766, session.GetProperty("sessionNumber").GetInt32());
        // The workflow plans create-first, under a token of this attach (the event's id), not am1-'s interface-and-number one.
        Assert.StartsWith("am3-", session.GetProperty("clientToken").GetString(), StringComparison.Ordinal);
        Assert.True(plan.GetProperty("createFirst").GetBoolean());
        Assert.True(session.TryGetProperty("virtualNetworkId", out _));
        Assert.True(session.TryGetProperty("networkInterfaceId", out _));
        Assert.Equal(0, plan.GetProperty("existingSessionIds").GetArrayLength());
    }

    [Theory]
    [InlineData("{\"trigger\":\"running\"}")]
    [InlineData("{\"instanceId\":42}")]
    [InlineData("not json")]
    public async Task Evaluate_BadPayload_ThrowsInvalidPayload(string payload) =>
        await Assert.ThrowsAsync<InvalidPayloadException>(() => TestWorld.InvokeAsync(new TestWorld().Steps.EvaluateAsync, payload));

    [Fact]
    public async Task CheckTargetHealth_ReportsHealthyTargets_AndSeesARecoveryAtTheNextPoll()
    {
        var world = new TestWorld();
        world.LoadBalancing.Targets.Clear();
        world.LoadBalancing.Targets.Add(new("i-2", 4789, "unhealthy", "Target.FailedHealthChecks", null));
        Assert.False(Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, "{}")).GetProperty("healthy").GetBoolean());

        // An unhealthy answer is not reused (SensorHealth): the workflow's next poll sees the sensor come up.
        world.LoadBalancing.Targets.Add(new("i-sensor", 4789, "healthy", null, null));
        var health = Json(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, "{}"));

        Assert.Equal(1, health.GetProperty("healthyTargets").GetInt32());
        Assert.True(health.GetProperty("healthy").GetBoolean());
    }

    [Fact]
    public async Task Cleanup_DeletesOnlyWhatThisRunMade()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, interfaces: 2);
        var eni = world.Ec2.InterfacesOf(id);
        var foreign = world.Ec2.AddForeignSession(eni[0], "tmt-foreign", 32766);
        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, "{\"instanceId\":\"" + id + "\",\"trigger\":\"running\",\"eventId\":\"e\"}");
        await TestWorld.InvokeAsync(world.Steps.CreateSessionsAsync, plan);
        // Create-first: the create on eni[0] met the foreign session's number (a conflict left to Verify), the other made one.
        var made = Assert.Single(world.OurSessions());
        Assert.Equal(eni[1], made.NetworkInterfaceId);

        var result = Json(await TestWorld.InvokeAsync(world.Steps.CleanupAsync, "{\"plan\":" + plan + ",\"error\":{\"Error\":\"States.Timeout\"}}"));

        Assert.Equal(1, result.GetProperty("deletedSessionIds").GetArrayLength());
        Assert.Empty(world.OurSessions());
        Assert.Contains(world.Ec2.AllSessions(), s => s.TrafficMirrorSessionId == foreign.TrafficMirrorSessionId);
        Assert.Equal(MirrorStatus.Error.ToWireName(), world.Ec2.TagsOf(id)[SessionTags.Status]);
    }
}

public class EventFilterTests
{
    [Fact]
    public async Task Running_ForAnUntaggedInstance_EndsAtEvaluateWithNothingMade()
    {
        var world = new AutoMirror.Functions.Tests.Fakes.TestWorld();
        var id = world.Ec2.Launch();
        var payload = System.Text.Encoding.UTF8.GetString(EventParserTests.Fixture("ec2-state-running.json")).Replace("i-1234567890abcdef0", id, StringComparison.Ordinal);

        await AutoMirror.Functions.Tests.Fakes.TestWorld.InvokeAsync(new AutoMirror.Functions.Handlers.EventHandler(world.Services).HandleAsync, payload);

        Assert.Empty(world.Ec2.AllSessions());
        Assert.Equal(0, world.Ec2.MutatingCalls);
        Assert.Contains(world.Log.Decisions, d => d.Action == "skip" && d.Reason == "not-tagged");
    }

    [Fact]
    public async Task LabChange_OnAnUntaggedInstance_IsIgnoredWithNoAwsCall()
    {
        var world = new AutoMirror.Functions.Tests.Fakes.TestWorld();
        var payload = "{\"version\":\"0\",\"id\":\"l-1\",\"detail-type\":\"Tag Change on Resource\",\"source\":\"aws.tag\",\"time\":\"2026-01-01T00:00:00Z\","
            + "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc1234\"],"
            + "\"detail\":{\"changed-tag-keys\":[\"lab\"],\"service\":\"ec2\",\"resource-type\":\"instance\",\"version\":3,\"tags\":{\"lab\":\"x\"}}}";

        var result = await AutoMirror.Functions.Tests.Fakes.TestWorld.InvokeAsync(new AutoMirror.Functions.Handlers.EventHandler(world.Services).HandleAsync, payload);

        Assert.Contains("\"action\":\"ignored\"", result, StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }
}
