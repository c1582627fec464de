using AutoMirror.Testing.Fakes;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Tests.Teardown;

public class TeardownServiceTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private const string Arn = "arn:aws:states:us-east-1:123456789012:stateMachine:teardown";

    private readonly FakeEc2 _ec2 = new();
    private readonly FakeCloudWatch _cloudWatch = new();
    private readonly FakeStepFunctions _sfn = new();
    private readonly ManualTimeProvider _clock = new(Now);

    private TeardownService Service(TeardownSettings? settings = null) => new(_ec2, _cloudWatch, _sfn, _clock,
        settings ?? new TeardownSettings { MirrorTargetId = "tmt-ours", StateMachineArn = Arn, Action = TeardownAction.Detach });

    private static Dictionary<string, string> Tags(params (string, string)[] tags) => tags.ToDictionary(t => t.Item1, t => t.Item2);

    private static Dictionary<string, string> Ours(string instanceId) =>
        Tags(("automirror:managed", "true"), ("automirror:instance-id", instanceId));

    private static string StoppedAgo(TimeSpan ago) => $"User initiated ({(Now - ago).UtcDateTime:yyyy-MM-dd HH:mm:ss} GMT)";

    /// <summary>Lab "red" stopped 3 h ago with our sessions; lab "blue" busy; an untagged instance and a foreign session.</summary>
    private void World()
    {
        _ec2.AddInstance("i-0000e001", "stopped", Tags(("lab", "red")), StoppedAgo(TimeSpan.FromHours(3)));
        _ec2.AddInstance("i-0000e002", "stopped", Tags(("lab", "red")), StoppedAgo(TimeSpan.FromHours(4)));
        _ec2.AddInstance("i-0000b001", "running", Tags(("lab", "blue")));
        _ec2.AddInstance("i-0000f001", "running", Tags(("automirror", "true")));
        _ec2.AddSession("tms-0000e001", "eni-0000e001", "tmt-ours", Ours("i-0000e001"));
        _ec2.AddSession("tms-0000e002", "eni-0000e002", "tmt-ours", Ours("i-0000e002"));
        _ec2.AddSession("tms-0000b001", "eni-0000b001", "tmt-ours", Ours("i-0000b001"));
        _ec2.AddSession("tms-0000f001", "eni-0000f001", "tmt-ours", Ours("i-0000f001"));
        _ec2.AddSession("tms-foreign", "eni-0000e001", "tmt-ours", Tags(("team", "secops")));
        _ec2.AddSession("tms-othertarget", "eni-0000e002", "tmt-other", Ours("i-0000e002"));
        _cloudWatch.Fill("i-0000b001", Now.AddHours(-2), Now, 4096);
    }

    [Fact]
    public async Task StartIdleTeardowns_StartsOneExecutionPerIdleLabWithItsReasons()
    {
        World();

        var result = await Service().StartIdleTeardownsAsync(default);

        var started = Assert.Single(result.Executions);
        Assert.Equal("red", started.Lab);
        Assert.Equal("teardown-red-20261122T1200", started.Name);
        var input = JsonNode.Parse(_sfn.Executions[started.Name])!;
        Assert.Equal("red", input["lab"]!.GetValue<string>());
        Assert.Equal("detach", input["action"]!.GetValue<string>());
        Assert.Equal("idle-stopped", input["reasons"]!["status"]!.GetValue<string>());
        Assert.Equal(["blue", "red", null], result.Labs.Select(l => l.Lab));
        Assert.Equal("active", result.Labs[0].Status);
        Assert.Equal(["tms-0000e001", "tms-0000e002"], result.Labs[1].SessionIds);
        Assert.Equal("not-a-lab", result.Labs[2].Status);
        Assert.Equal(1, _cloudWatch.Calls);
        Assert.Empty(_ec2.Mutations);
    }

    [Fact]
    public async Task StartIdleTeardowns_RunTwiceInOneWindow_StartsTheLabOnce()
    {
        World();
        var service = Service();

        var first = await service.StartIdleTeardownsAsync(default);
        _clock.SetUtcNow(Now.AddMinutes(15));
        // A third stopped member changes the reasons, so the input differs: AWS answers ExecutionAlreadyExists.
        _ec2.AddInstance("i-0000e003", "stopped", Tags(("lab", "red")), StoppedAgo(TimeSpan.FromHours(6)));
        var second = await service.StartIdleTeardownsAsync(default);

        Assert.Single(_sfn.Executions);
        Assert.False(first.Executions[0].AlreadyStarted);
        Assert.True(second.Executions[0].AlreadyStarted);
        Assert.Equal(first.Executions[0].Name, second.Executions[0].Name);
    }

    [Theory]
    [InlineData("red")]
    [InlineData("red team/α")]
    [InlineData("a-lab-name-that-is-far-longer-than-forty-characters-allow")]
    public void ExecutionName_IsValidForStepFunctionsAndStableWithinTheWindow(string lab)
    {
        var window = TimeSpan.FromMinutes(120);

        var name = TeardownService.ExecutionName(lab, Now.AddMinutes(1), window);

        Assert.Matches("^[A-Za-z0-9_-]{1,80}$", name);
        Assert.Equal(name, TeardownService.ExecutionName(lab, Now.AddMinutes(119), window));
        Assert.NotEqual(name, TeardownService.ExecutionName(lab, Now.AddMinutes(121), window));
        Assert.NotEqual(name, TeardownService.ExecutionName(lab + "x", Now.AddMinutes(1), window));
    }

    [Fact]
    public async Task StartIdleTeardowns_IdleLabWithNothingLeft_StartsNoExecution()
    {
        _ec2.AddInstance("i-0000c001", "stopped", Tags(("lab", "gone")), StoppedAgo(TimeSpan.FromDays(3)));

        var result = await Service().StartIdleTeardownsAsync(default);

        Assert.Empty(result.Executions);
        var lab = Assert.Single(result.Labs);
        Assert.Equal("idle-stopped", lab.Status);
        Assert.Contains("nothing left to tear down", lab.Notes);
    }

    [Fact]
    public async Task StartIdleTeardowns_WithoutTheStateMachineArn_FailsNamingTheVariable()
    {
        var error = await Assert.ThrowsAsync<AutoMirror.Core.Configuration.ConfigurationException>(() =>
            Service(new TeardownSettings { MirrorTargetId = "tmt-ours" }).StartIdleTeardownsAsync(default));

        Assert.Contains("TEARDOWN_STATE_MACHINE_ARN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListLabSessions_ListsOnlyAutoMirrorSessionsToOurTarget()
    {
        World();

        var list = await Service().ListLabSessionsAsync("red", default);

        Assert.Equal("red", list.Name);
        Assert.Equal(["tms-0000e001", "tms-0000e002"], list.Sessions.Select(s => s.SessionId));
        Assert.Equal(["i-0000e001", "i-0000e002"], list.InstanceIds);
    }

    [Theory]
    [InlineData("tms-foreign", "not-automirror")]
    [InlineData("tms-othertarget", "not-automirror")]
    [InlineData("tms-nope", "already-gone")]
    [InlineData("tms-0000e001", "deleted")]
    public async Task DeleteSession_DeletesOnlyWhatAutoMirrorMade(string sessionId, string outcome)
    {
        World();

        var result = await Service().DeleteSessionAsync(sessionId, default);

        Assert.Equal(outcome, result.Outcome);
        Assert.Equal(outcome == "deleted" ? ["DeleteTrafficMirrorSession " + sessionId] : [], _ec2.Mutations);
    }

    [Fact]
    public async Task InstanceAction_LeavesInstancesOutsideTheLabAlone()
    {
        World();
        _ec2.SetState("i-0000e001", "running");

        var result = await Service().InstanceActionAsync(new InstanceActionRequest("red", "stop", ["i-0000e001", "i-0000b001", "i-0000f001"]), dryRun: false, default);

        Assert.Equal(["i-0000e001"], result.StoppedInstanceIds);
        Assert.Equal(["StopInstances i-0000e001"], _ec2.Mutations);
        Assert.Contains(result.Notes, n => n.Contains("i-0000b001, i-0000f001", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InstanceAction_TerminateWithoutEveryInstanceOptingIn_Stops()
    {
        _ec2.AddInstance("i-1", "running", Tags(("lab", "red"), ("automirror:allow-terminate", "true")));
        _ec2.AddInstance("i-2", "running", Tags(("lab", "red")));
        var settings = new TeardownSettings { MirrorTargetId = "tmt-ours", AllowTerminate = true };

        var result = await Service(settings).InstanceActionAsync(new InstanceActionRequest("red", "terminate", ["i-1"]), dryRun: false, default);

        Assert.Equal("stop", result.Action);
        Assert.Equal(["StopInstances i-1"], _ec2.Mutations);
    }

    [Fact]
    public async Task InstanceAction_TerminateWithBothOptIns_Terminates()
    {
        _ec2.AddInstance("i-1", "stopped", Tags(("lab", "red"), ("automirror:allow-terminate", "true")));
        _ec2.AddInstance("i-2", "running", Tags(("lab", "red"), ("automirror:allow-terminate", "TRUE")));
        var settings = new TeardownSettings { MirrorTargetId = "tmt-ours", AllowTerminate = true };

        var result = await Service(settings).InstanceActionAsync(new InstanceActionRequest("red", "terminate", ["i-1", "i-2"]), dryRun: false, default);

        Assert.Equal(["i-1", "i-2"], result.TerminatedInstanceIds);
        Assert.Equal(["TerminateInstances i-1,i-2"], _ec2.Mutations);
    }

    [Fact]
    public async Task TeardownLab_Detach_DeletesTheLabsSessionsAndNothingElse()
    {
        World();

        var report = await Service().TeardownLabAsync("red", TeardownAction.Detach, dryRun: false, default);

        Assert.Equal(["tms-0000e001", "tms-0000e002"], report.DeletedSessionIds);
        Assert.Equal(0.030m, report.HourlyCostSaved);
        Assert.Equal(["tms-0000b001", "tms-0000f001", "tms-foreign", "tms-othertarget"], _ec2.AllSessions().Select(s => s.TrafficMirrorSessionId));
        Assert.DoesNotContain(_ec2.Mutations, m => m.Contains("Instances", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TeardownLab_DetachOfARunningLab_MarksItExcludedBeforeDeleting()
    {
        _ec2.AddInstance("i-1", "running", Tags(("lab", "red"), ("automirror", "TRUE")));
        _ec2.AddInstance("i-2", "running", Tags(("lab", "red"), ("automirror", "true"), ("automirror:exclude", "true")));
        _ec2.AddInstance("i-3", "stopped", Tags(("lab", "red"), ("automirror", "true")), StoppedAgo(TimeSpan.FromMinutes(5)));
        _ec2.AddInstance("i-4", "running", Tags(("lab", "red")));
        _ec2.AddSession("tms-1", "eni-1", "tmt-ours", Ours("i-1"));

        var report = await Service().TeardownLabAsync("red", TeardownAction.Detach, dryRun: false, default);

        // Only the running opted-in instance not yet excluded is marked; a stopped one is mirrored again when it
        // starts, and a lab member that never opted in (i-4) is not AutoMirror's to tag.
        Assert.Equal(["i-1"], report.ExcludedInstanceIds);
        Assert.Equal(["CreateTags i-1 automirror:exclude=true", "DeleteTrafficMirrorSession tms-1"], _ec2.Mutations);
        Assert.Contains(report.Notes, n => n.Contains("remove the tag to mirror again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TeardownLab_DryRun_ChangesNothingAndSaysWhatWouldHappen()
    {
        World();

        var report = await Service().TeardownLabAsync("red", TeardownAction.Stop, dryRun: true, default);

        Assert.False(report.Applied);
        Assert.Equal("stop", report.Action);
        Assert.Equal(["tms-0000e001", "tms-0000e002"], report.SessionIds);
        Assert.Empty(report.DeletedSessionIds);
        Assert.Empty(_ec2.Mutations);
    }

    [Fact]
    public async Task TeardownSteps_RunAsTheWorkflowWould_DetachAndReport()
    {
        World();
        var log = new StringWriter();
        var steps = new TeardownSteps(Service(), new TeardownLog(log, _clock));
        var state = JsonNode.Parse("""{"lab":"red","action":"stop","reasons":{"status":"idle-stopped","details":["all 2 instances stopped"],"requestedAction":"stop","notes":[]}}""")!.AsObject();

        // The template's ASL: ListLabSessions at $.found, the Map's outcomes at $.deleted, the action at $.instanceAction.
        state["found"] = await Call(steps.ListLabSessionsAsync, new JsonObject { ["lab"] = "red", ["action"] = "stop" });
        var deletions = new JsonArray();
        foreach (var session in state["found"]!["sessions"]!.AsArray())
        {
            deletions.Add(await Call(steps.DeleteSessionAsync, session!));
        }

        state["deleted"] = deletions;
        state["instanceAction"] = await Call(steps.InstanceActionAsync, new JsonObject
        {
            ["lab"] = "red", ["action"] = "stop", ["instanceIds"] = state["found"]!["instanceIds"]!.DeepClone(),
        });
        var report = await Call(steps.ReportAsync, state);

        Assert.Equal("red", report["lab"]!.GetValue<string>());
        Assert.Equal("idle-stopped", report["status"]!.GetValue<string>());
        Assert.True(report["applied"]!.GetValue<bool>());
        Assert.Equal(["tms-0000e001", "tms-0000e002"], report["deletedSessionIds"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(0.030m, report["hourlyCostSaved"]!.GetValue<decimal>());
        var line = JsonNode.Parse(log.ToString().Trim())!;
        Assert.Equal("red", line["lab"]!.GetValue<string>());
        Assert.Equal(2, line["deletedSessions"]!.GetValue<int>());
        Assert.Equal(4, _ec2.AllSessions().Count);
    }

    [Fact]
    public async Task TeardownSteps_MalformedInput_FailsWithAClearError()
    {
        var steps = new TeardownSteps(Service(), new TeardownLog(TextWriter.Null, _clock));

        var notJson = await Assert.ThrowsAsync<InvalidPayloadException>(() => steps.DeleteSessionAsync(Stream("{oops")));
        var noLab = await Assert.ThrowsAsync<InvalidPayloadException>(() => steps.ListLabSessionsAsync(Stream("""{"action":"detach"}""")));

        Assert.Contains("not JSON", notJson.Message, StringComparison.Ordinal);
        Assert.Contains("\"lab\"", noLab.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeardownSteps_FieldsOutsideAwsFormats_FailNamingTheField_WithNoAwsCall()
    {
        var steps = new TeardownSteps(Service(), new TeardownLog(TextWriter.Null, _clock));

        var session = await Assert.ThrowsAsync<InvalidPayloadException>(() => steps.DeleteSessionAsync(Stream("""{"sessionId":"tms-1; rm"}""")));
        var instance = await Assert.ThrowsAsync<InvalidPayloadException>(() =>
            steps.InstanceActionAsync(Stream("""{"lab":"red","action":"stop","instanceIds":["i-0000e001","i-?"]}""")));
        var lab = await Assert.ThrowsAsync<InvalidPayloadException>(() => steps.ListLabSessionsAsync(Stream("{\"lab\":\"" + new string('r', 300) + "\"}")));

        Assert.StartsWith("sessionId must be a traffic mirror session id", session.Message, StringComparison.Ordinal);
        Assert.StartsWith("instanceIds[1] must be an instance id", instance.Message, StringComparison.Ordinal);
        Assert.StartsWith("lab is 300 characters", lab.Message, StringComparison.Ordinal);
        Assert.Empty(_ec2.Mutations);
        Assert.Equal(0, _ec2.TotalCalls);
    }

    private static MemoryStream Stream(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<JsonNode> Call(Func<Stream, Task<Stream>> step, JsonNode input)
    {
        var output = await step(Stream(input.ToJsonString()));
        return (await JsonNode.ParseAsync(output))!;
    }
}
