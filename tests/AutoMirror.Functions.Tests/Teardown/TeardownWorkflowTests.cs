using System.Diagnostics;
using System.Text.Json.Nodes;
using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Core.Teardown;
using AutoMirror.Testing;
using AutoMirror.Testing.Teardown;
using Xunit.Abstractions;

namespace AutoMirror.Functions.Tests.Teardown;

/// <summary>
/// statemachine/teardown.asl.json, unchanged, behind the local Step Functions endpoint (aws-local-stepfunctions). Its
/// Tasks call the local Lambda host, which runs the real handlers named in template.yaml against the local cloud,
/// where EC2 throttles. The 50-instance execution is the one IdleLabsFunction's service starts itself.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TeardownWorkflowTests(LocalCloud cloud, ITestOutputHelper log) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private const int LabSize = 50;
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private DeployedStack? _stack;
    private LocalStepFunctions? _stepFunctions;
    private string _stateMachine = "";
    private AwsClients _clients = null!;

    public async Task InitializeAsync()
    {
        await _lab.ControlAsync("reset", "{}");
        _clients = new AwsClients(new AwsClientOptions
        {
            Region = RegionEndpoint.USEast1,
            Credentials = new BasicAWSCredentials("test", "test"),
            EndpointUrl = cloud.Endpoint,
        });
    }

    public async Task DisposeAsync()
    {
        if (_stepFunctions is not null)
        {
            await _stepFunctions.DisposeAsync();
        }

        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }

        _clients.Dispose();
        _lab.Dispose();
    }

    [Fact]
    public async Task TeardownOfA50InstanceLab_UnderThrottling_LeavesNoAutoMirrorSessionInTheLab()
    {
        var (targetId, filterId) = await DeployAsync();
        var members = await _lab.RunInstancesAsync(LabSize, new Dictionary<string, string>
        {
            ["automirror"] = "true", ["lab"] = "big", ["automirror:expires-at"] = "2026-01-01T00:00:00Z",
        });
        foreach (var (instanceId, eniId) in members)
        {
            await _lab.CreateSessionAsync(eniId, targetId, filterId, 1, LocalCloudLab.OurSessionTags(instanceId, eniId, "big"));
        }

        var foreign = await _lab.CreateSessionAsync(members[0].EniId, targetId, filterId, 2, new Dictionary<string, string> { ["owner"] = "secops" });
        var (other, otherEni) = (await _lab.RunInstancesAsync(1, new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "small" }))[0];
        var otherSession = await _lab.CreateSessionAsync(otherEni, targetId, filterId, 1, LocalCloudLab.OurSessionTags(other, otherEni, "small"));

        // EC2 throttles: a small mutating bucket, and most DeleteTrafficMirrorSession calls refused outright, so
        // some outlast the client's five attempts and reach the workflow's Retry as ThrottledException.
        await _lab.ControlAsync("throttling", """{"enabled":true,"buckets":{"mutating":{"capacity":10,"refillPerSecond":5}}}""");
        await _lab.ControlAsync("faults", """{"seed":7,"throttleProbability":0.7,"services":["ec2"],"actions":["DeleteTrafficMirrorSession"]}""");
        var stepFunctions = await StartWorkflowAsync();

        // The schedule's decision, as IdleLabsFunction makes it: it starts the execution through the Step Functions API.
        var clock = Stopwatch.StartNew();
        var settings = new TeardownSettings { MirrorTargetId = targetId, StateMachineArn = _stack!.TeardownStateMachineArn, Action = TeardownAction.Detach };
        var idle = await new TeardownService(_clients.Ec2, _clients.CloudWatch, stepFunctions.Client, TimeProvider.System, settings)
            .StartIdleTeardownsAsync(default);
        var execution = Assert.Single(idle.Executions);
        var run = await stepFunctions.WaitAsync(execution.ExecutionArn!);
        clock.Stop();

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        var report = run.Output!;
        Assert.Equal("big", report["lab"]!.GetValue<string>());
        Assert.Equal("expired", report["status"]!.GetValue<string>());
        Assert.Equal(LabSize, report["deletedSessionIds"]!.AsArray().Count);
        Assert.Equal(LabSize * 0.015m, report["hourlyCostSaved"]!.GetValue<decimal>());
        var left = await _clients.Ec2.DescribeTrafficMirrorSessionsAsync([], default);
        var labEnis = members.Select(m => m.EniId).ToHashSet();
        Assert.DoesNotContain(left, s => labEnis.Contains(s.NetworkInterfaceId) && s.Tags.ContainsKey("automirror:managed"));
        Assert.Contains(left, s => s.TrafficMirrorSessionId == foreign);
        Assert.Contains(left, s => s.TrafficMirrorSessionId == otherSession);

        var calls = JsonNode.Parse(await new HttpClient().GetStringAsync(new Uri(cloud.Endpoint, "/_automirror/calls")))!;
        var throttled = calls["throttled"]!["ec2"]?["DeleteTrafficMirrorSession"]?.GetValue<int>() ?? 0;
        var workflowRetries = run.Retries();
        log.WriteLine($"50-instance teardown: {clock.Elapsed.TotalSeconds:0.0} s, {throttled} throttled DeleteTrafficMirrorSession answers, {workflowRetries} workflow-level retries");
        Assert.True(throttled > LabSize, $"only {throttled} throttled answers: the fault injection did not bite");
        Assert.True(workflowRetries > 0, "no DeleteSession reached the workflow's Retry");
    }

    [Theory]
    [InlineData("report")]
    [InlineData("stop")]
    public async Task TeardownWorkflow_ReportChangesNothing_StopDetachesThenStops(string action)
    {
        var (targetId, filterId) = await DeployAsync();
        var members = await _lab.RunInstancesAsync(3, new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "mid" });
        foreach (var (instanceId, eniId) in members)
        {
            await _lab.CreateSessionAsync(eniId, targetId, filterId, 1, LocalCloudLab.OurSessionTags(instanceId, eniId, "mid"));
        }

        var before = await _lab.SessionIdsAsync();
        var stepFunctions = await StartWorkflowAsync();
        var input = new JsonObject
        {
            ["lab"] = "mid", ["action"] = action,
            ["reasons"] = new JsonObject { ["status"] = "expired", ["details"] = new JsonArray("expired at 2026-01-01T00:00:00Z"), ["requestedAction"] = action, ["notes"] = new JsonArray() },
        };

        var run = await stepFunctions.RunAsync(_stateMachine, input.ToJsonString());

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        var states = run.States;
        var report = run.Output!;
        if (action == "report")
        {
            Assert.DoesNotContain("DeleteSessions", states);
            Assert.False(report["applied"]!.GetValue<bool>());
            Assert.Equal(0m, report["hourlyCostSaved"]!.GetValue<decimal>());
            Assert.Equal(3 * 0.015m, report["hourlyCostWouldSave"]!.GetValue<decimal>());
            Assert.Equal(3, report["wouldDelete"]!.AsArray().Count);
            Assert.All(report["wouldDelete"]!.AsArray(), n => Assert.Equal("mid", n!["lab"]!.GetValue<string>()));
            Assert.All(report["wouldDelete"]!.AsArray(), n => Assert.Contains(n!["instanceId"]!.GetValue<string>(), members.Select(m => m.InstanceId)));
            Assert.Equal(before, await _lab.SessionIdsAsync());
            Assert.Equal("running", await _lab.StateAsync(members[0].InstanceId));
        }
        else
        {
            Assert.Equal(["Configure", "ListLabSessions", "ReportOnly", "DeleteSessions", "ActOnInstances", "InstanceAction", "Report", "TeardownComplete", "TornDown"],
                states.Where(s => s != "DeleteSession"));
            Assert.Equal(members.Select(m => m.InstanceId).Order(), report["stoppedInstanceIds"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
            // A real run reports what it deleted, with instance and lab, and saves exactly that.
            var deleted = report["deleted"]!.AsArray();
            Assert.Equal(members.Select(m => m.InstanceId).Order(), deleted.Select(n => n!["instanceId"]!.GetValue<string>()).Order());
            Assert.All(deleted, n => Assert.Equal("mid", n!["lab"]!.GetValue<string>()));
            Assert.Equal(3 * 0.015m, report["hourlyCostSaved"]!.GetValue<decimal>());
            Assert.Null(report["wouldDelete"]);
            Assert.Empty(await _lab.SessionIdsAsync());
            Assert.Contains(await _lab.StateAsync(members[2].InstanceId), new[] { "stopping", "stopped" });
        }
    }

    /// <summary>
    /// template.yaml deployed as `sam deploy` would, with a teardown that detaches and deletes ten sessions at once:
    /// its mirror target and filter.
    /// </summary>
    private async Task<(string TargetId, string FilterId)> DeployAsync()
    {
        _stack = await DeployedStack.DeployAsync(cloud, new Dictionary<string, string>
        {
            ["TeardownAction"] = "detach",
            ["TeardownConcurrency"] = "10",
        });
        return (_stack.MirrorTargetId, _stack.MirrorFilterId);
    }

    /// <summary>The local Step Functions endpoint running the stack's Teardown workflow against the stack's functions.</summary>
    private async Task<LocalStepFunctions> StartWorkflowAsync()
    {
        _stepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = new Dictionary<string, string>(),
            RetryPause = TimeSpan.FromMilliseconds(50),
            LambdaEndpoint = _stack!.LambdaEndpoint,
        });
        _stateMachine = await _stack.InstallWorkflowAsync(_stepFunctions, _stack.TeardownStateMachineArn);
        return _stepFunctions;
    }
}
