using AutoMirror.Testing.Fakes;
using System.Text;
using System.Text.Json.Nodes;
using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Teardown;
using AutoMirror.Testing;
using AutoMirror.Testing.Teardown;

namespace AutoMirror.Functions.Tests.Teardown;

/// <summary>
/// The scheduled teardown against the local cloud (moto + extension) with the real AWS clients: the schedule's
/// handler decides and starts executions, then the workflow's steps run in the ASL's order through their
/// handlers. The clock is the test's; EC2 stop times and CloudWatch datapoints are real data in the local cloud.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TeardownLocalCloudTests(LocalCloud cloud) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private AwsClients _clients = null!;
    private string _targetId = "";
    private string _filterId = "";
    private string _stateMachineArn = "";
    private DeployedStack? _stack;

    public async Task InitializeAsync()
    {
        // Every resource, throttling, faults and call counts back to a fresh account.
        await _lab.ControlAsync("reset", "{}");
        _clients = new AwsClients(new AwsClientOptions
        {
            Region = RegionEndpoint.USEast1,
            Credentials = new BasicAWSCredentials("test", "test"),
            EndpointUrl = cloud.Endpoint,
        });
        // The stack as `sam deploy` makes it: its mirror target and filter, its Teardown state machine.
        _stack = await DeployedStack.DeployAsync(cloud);
        (_targetId, _filterId, _stateMachineArn) = (_stack.MirrorTargetId, _stack.MirrorFilterId, _stack.TeardownStateMachineArn);
    }

    public async Task DisposeAsync()
    {
        _clients.Dispose();
        _lab.Dispose();
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }

    private TeardownService Service(TeardownAction action, TimeProvider clock, bool allowTerminate = false) =>
        new(_clients.Ec2, _clients.CloudWatch, _clients.StepFunctions, clock, new TeardownSettings
        {
            MirrorTargetId = _targetId,
            StateMachineArn = _stateMachineArn,
            Action = action,
            AllowTerminate = allowTerminate,
            IdlePeriod = TimeSpan.FromMinutes(120),
        });

    /// <summary>A lab of <paramref name="count"/> instances, each with one AutoMirror session to our target.</summary>
    private async Task<IReadOnlyList<(string InstanceId, string EniId, string SessionId)>> LabAsync(
        string lab, int count, params (string Key, string Value)[] extraTags)
    {
        var tags = new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = lab };
        foreach (var (key, value) in extraTags)
        {
            tags[key] = value;
        }

        var members = new List<(string, string, string)>();
        foreach (var (instanceId, eniId) in await _lab.RunInstancesAsync(count, tags))
        {
            members.Add((instanceId, eniId, await _lab.CreateSessionAsync(eniId, _targetId, _filterId, 1, LocalCloudLab.OurSessionTags(instanceId, eniId, lab))));
        }

        return members;
    }

    /// <summary>The schedule fires: IdleLabsFunction, then each started execution's steps in the ASL's order.</summary>
    private async Task<(JsonNode Assessment, List<JsonNode> Reports)> RunScheduleAsync(TeardownService service)
    {
        var log = new StringWriter();
        var teardownLog = new TeardownLog(log, TimeProvider.System);
        var assessment = await Call(new IdleLabsHandler(service, teardownLog).HandleAsync, new JsonObject { ["detail-type"] = "Scheduled Event" });
        var steps = new TeardownSteps(service, teardownLog);
        var reports = new List<JsonNode>();
        foreach (var execution in assessment["executions"]!.AsArray())
        {
            var started = await _clients.StepFunctions.DescribeExecutionAsync(execution!["executionArn"]!.GetValue<string>(), default);
            var state = JsonNode.Parse(started.Input!)!.AsObject();
            state["found"] = await Call(steps.ListLabSessionsAsync, new JsonObject { ["lab"] = state["lab"]!.DeepClone(), ["action"] = state["action"]!.DeepClone() });
            var action = state["action"]!.GetValue<string>();
            if (action != "report")
            {
                var deleted = new JsonArray();
                foreach (var session in state["found"]!["sessions"]!.AsArray())
                {
                    deleted.Add(await Call(steps.DeleteSessionAsync, session!));
                }

                state["deleted"] = deleted;
            }

            if (action is "stop" or "terminate")
            {
                state["instanceAction"] = await Call(steps.InstanceActionAsync, new JsonObject
                {
                    ["lab"] = state["lab"]!.DeepClone(), ["action"] = action, ["instanceIds"] = state["found"]!["instanceIds"]!.DeepClone(),
                });
            }

            reports.Add(await Call(steps.ReportAsync, state));
        }

        // One log line per lab from the assessment, one per report.
        Assert.Equal(assessment["labs"]!.AsArray().Count + reports.Count, log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        return (assessment, reports);
    }

    private static JsonNode Lab(JsonNode assessment, string lab) =>
        assessment["labs"]!.AsArray().Single(l => l!["lab"]?.GetValue<string>() == lab)!;

    private static async Task<JsonNode> Call(Func<Stream, Task<Stream>> step, JsonNode input)
    {
        var output = await step(new MemoryStream(Encoding.UTF8.GetBytes(input.ToJsonString())));
        return (await JsonNode.ParseAsync(output))!;
    }

    [Fact]
    public async Task ActiveLab_IsLeftAlone()
    {
        var now = DateTimeOffset.UtcNow;
        var members = await LabAsync("busy", 3);
        foreach (var member in members)
        {
            await _lab.PutMirrorMetricsAsync(member.InstanceId, now.AddHours(-2), now, member == members[0] ? 4096 : 0);
        }

        var (assessment, reports) = await RunScheduleAsync(Service(TeardownAction.Stop, new ManualTimeProvider(now)));

        Assert.Equal("active", Lab(assessment, "busy")["status"]!.GetValue<string>());
        Assert.Empty(reports);
        Assert.Equal(members.Select(m => m.SessionId).Order(), await _lab.SessionIdsAsync());
        foreach (var member in members)
        {
            Assert.Equal("running", await _lab.StateAsync(member.InstanceId));
        }
    }

    [Fact]
    public async Task StoppedLab_IsDetachedAfterTheIdlePeriodAndNotBefore()
    {
        var members = await LabAsync("quiet", 2);
        await _lab.StopInstancesAsync(members.Select(m => m.InstanceId));
        var stoppedAt = DateTimeOffset.UtcNow;
        var clock = new ManualTimeProvider(stoppedAt.AddMinutes(119));
        var service = Service(TeardownAction.Detach, clock);

        var (early, earlyReports) = await RunScheduleAsync(service);
        Assert.Equal("active", Lab(early, "quiet")["status"]!.GetValue<string>());
        Assert.Empty(earlyReports);
        Assert.Equal(2, (await _lab.SessionIdsAsync()).Count);

        clock.SetUtcNow(stoppedAt.AddMinutes(121));
        var (late, reports) = await RunScheduleAsync(service);

        Assert.Equal("idle-stopped", Lab(late, "quiet")["status"]!.GetValue<string>());
        var report = Assert.Single(reports);
        Assert.Equal("detach", report["action"]!.GetValue<string>());
        Assert.Equal(members.Select(m => m.SessionId).Order(), report["deletedSessionIds"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
        Assert.Equal(0.030m, report["hourlyCostSaved"]!.GetValue<decimal>());
        Assert.Empty(await _lab.SessionIdsAsync());
        Assert.Equal("stopped", await _lab.StateAsync(members[0].InstanceId));
    }

    [Fact]
    public async Task ExpiredLab_IsTornDownEvenWithTraffic()
    {
        var now = DateTimeOffset.UtcNow;
        var members = await LabAsync("old", 2, ("automirror:expires-at", now.AddHours(-1).ToString("O", System.Globalization.CultureInfo.InvariantCulture)));
        await _lab.PutMirrorMetricsAsync(members[0].InstanceId, now.AddHours(-2), now, 9000);

        var (assessment, reports) = await RunScheduleAsync(Service(TeardownAction.Stop, new ManualTimeProvider(now)));

        Assert.Equal("expired", Lab(assessment, "old")["status"]!.GetValue<string>());
        var report = Assert.Single(reports);
        Assert.Equal(members.Select(m => m.InstanceId).Order(), report["stoppedInstanceIds"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
        Assert.Empty(await _lab.SessionIdsAsync());
        Assert.Contains(await _lab.StateAsync(members[1].InstanceId), new[] { "stopping", "stopped" });
    }

    [Fact]
    public async Task UnknownMetrics_NeverCauseATeardown()
    {
        var now = DateTimeOffset.UtcNow;
        var dark = await LabAsync("dark", 2);
        var partial = await LabAsync("partial", 1);
        await _lab.PutMirrorMetricsAsync(partial[0].InstanceId, now.AddMinutes(-30), now, 0);
        var quiet = await LabAsync("zero", 1);
        await _lab.PutMirrorMetricsAsync(quiet[0].InstanceId, now.AddHours(-2), now, 0);

        var (assessment, reports) = await RunScheduleAsync(Service(TeardownAction.Stop, new ManualTimeProvider(now)));

        Assert.Equal("unknown-metrics", Lab(assessment, "dark")["status"]!.GetValue<string>());
        Assert.Equal("unknown-metrics", Lab(assessment, "partial")["status"]!.GetValue<string>());
        // The contrast: zeros over the whole window are evidence, and that lab alone goes.
        Assert.Equal("idle-no-traffic", Lab(assessment, "zero")["status"]!.GetValue<string>());
        Assert.Equal(["zero"], reports.Select(r => r["lab"]!.GetValue<string>()));
        Assert.Equal(dark.Concat(partial).Select(m => m.SessionId).Order(), await _lab.SessionIdsAsync());
        Assert.Equal("running", await _lab.StateAsync(dark[0].InstanceId));
        Assert.Equal("running", await _lab.StateAsync(partial[0].InstanceId));
    }

    [Theory]
    [InlineData(TeardownAction.Report)]
    [InlineData(TeardownAction.Detach)]
    [InlineData(TeardownAction.Stop)]
    [InlineData(TeardownAction.Terminate)]
    public async Task ForeignSessionsAndUntaggedInstances_SurviveEveryAction(TeardownAction action)
    {
        var now = DateTimeOffset.UtcNow;
        var members = await LabAsync("doomed", 2, ("automirror:expires-at", "2020-01-01T00:00:00Z"), ("automirror:allow-terminate", "true"));
        var (otherTarget, otherFilter) = await _lab.MirrorTargetAsync();
        var foreign = await _lab.CreateSessionAsync(members[0].EniId, _targetId, _filterId, 2, new Dictionary<string, string> { ["team"] = "secops" });
        var ourTagsOtherTarget = await _lab.CreateSessionAsync(members[1].EniId, otherTarget, otherFilter, 3,
            LocalCloudLab.OurSessionTags(members[1].InstanceId, members[1].EniId, "doomed"));
        var (untagged, untaggedEni) = (await _lab.RunInstancesAsync(1, new Dictionary<string, string> { ["automirror"] = "true" }))[0];
        var untaggedSession = await _lab.CreateSessionAsync(untaggedEni, _targetId, _filterId, 1, LocalCloudLab.OurSessionTags(untagged, untaggedEni, null));
        await _lab.PutMirrorMetricsAsync(untagged, now.AddHours(-2), now, 0);

        var (assessment, reports) = await RunScheduleAsync(Service(action, new ManualTimeProvider(now), allowTerminate: true));

        var report = Assert.Single(reports);
        Assert.Equal(action.ToName(), report["action"]!.GetValue<string>());
        var notALab = assessment["labs"]!.AsArray().Single(l => l!["status"]!.GetValue<string>() == "not-a-lab")!;
        Assert.Equal([untaggedSession], notALab["sessionIds"]!.AsArray().Select(n => n!.GetValue<string>()));
        var survivors = await _lab.SessionIdsAsync();
        Assert.Contains(untaggedSession, survivors);
        // AutoMirror deleted exactly the lab's two sessions by API. Terminating an instance deletes its interfaces,
        // and AWS deletes every session on a deleted interface with it: that is the opted-in instance action.
        Assert.Equal(action == TeardownAction.Report ? 0 : 2, await _lab.CallsAsync("DeleteTrafficMirrorSession"));
        if (action != TeardownAction.Terminate)
        {
            Assert.Contains(foreign, survivors);
            Assert.Contains(ourTagsOtherTarget, survivors);
        }

        Assert.Equal("running", await _lab.StateAsync(untagged));
        var labSessionsLeft = members.Select(m => m.SessionId).Intersect(survivors).Count();
        Assert.Equal(action == TeardownAction.Report ? 2 : 0, labSessionsLeft);
        var expectedState = action switch
        {
            TeardownAction.Stop => new[] { "stopping", "stopped" },
            TeardownAction.Terminate => ["shutting-down", "terminated"],
            _ => ["running"],
        };
        Assert.Contains(await _lab.StateAsync(members[0].InstanceId), expectedState);
    }

    [Fact]
    public async Task Report_ChangesNothingAndSaysWhatWouldBeSaved()
    {
        var now = DateTimeOffset.UtcNow;
        var members = await LabAsync("spent", 3, ("automirror:expires-at", now.AddMinutes(-5).ToString("O", System.Globalization.CultureInfo.InvariantCulture)));
        var before = await _lab.SessionIdsAsync();

        var (assessment, reports) = await RunScheduleAsync(Service(TeardownAction.Report, new ManualTimeProvider(now)));

        var report = Assert.Single(reports);
        Assert.False(report["applied"]!.GetValue<bool>());
        Assert.Equal("report", report["action"]!.GetValue<string>());
        Assert.Equal(3, report["sessionIds"]!.AsArray().Count);
        Assert.Empty(report["deletedSessionIds"]!.AsArray());
        // Nothing was done, so nothing was saved; what a real run would save is labelled as such, and each session it
        // would delete is listed with its instance and lab.
        Assert.Equal(0m, report["hourlyCostSaved"]!.GetValue<decimal>());
        Assert.Equal(0.045m, report["hourlyCostWouldSave"]!.GetValue<decimal>());
        Assert.Equal(0m, Lab(assessment, "spent")["hourlyCostSaved"]!.GetValue<decimal>());
        Assert.Equal(0.045m, Lab(assessment, "spent")["hourlyCostWouldSave"]!.GetValue<decimal>());
        var wouldDelete = report["wouldDelete"]!.AsArray();
        Assert.Equal(report["sessionIds"]!.AsArray().Select(n => n!.GetValue<string>()).Order(), wouldDelete.Select(n => n!["sessionId"]!.GetValue<string>()).Order());
        Assert.Equal(members.Select(m => m.InstanceId).Order(), wouldDelete.Select(n => n!["instanceId"]!.GetValue<string>()).Order());
        Assert.All(wouldDelete, n => Assert.Equal("spent", n!["lab"]!.GetValue<string>()));
        Assert.Null(report["deleted"]);
        Assert.Equal(before, await _lab.SessionIdsAsync());
        foreach (var member in members)
        {
            Assert.Equal("running", await _lab.StateAsync(member.InstanceId));
        }
    }

    [Fact]
    public async Task ScheduleRunTwiceInOneWindow_StartsOneExecutionPerLab()
    {
        var now = DateTimeOffset.UtcNow;
        await LabAsync("twice", 1, ("automirror:expires-at", "2020-01-01T00:00:00Z"));
        var clock = new ManualTimeProvider(now);
        var service = Service(TeardownAction.Report, clock);

        var first = await service.StartIdleTeardownsAsync(default);
        var second = await service.StartIdleTeardownsAsync(default);

        Assert.Equal(first.Executions.Single().Name, second.Executions.Single().Name);
        Assert.Equal(first.Executions.Single().ExecutionArn, second.Executions.Single().ExecutionArn ?? first.Executions.Single().ExecutionArn);
    }
}
