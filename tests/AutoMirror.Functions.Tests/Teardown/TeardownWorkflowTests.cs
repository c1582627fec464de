using System.Diagnostics;
using System.Text.Json.Nodes;
using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Functions.Teardown;
using AutoMirror.LocalLambda;
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
    private const string StateMachine = "teardown";
    private const int LabSize = 50;
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private LocalLambdaServer? _lambda;
    private LocalStepFunctions? _stepFunctions;
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

        if (_lambda is not null)
        {
            await _lambda.DisposeAsync();
        }

        _clients.Dispose();
        _lab.Dispose();
    }

    [Fact]
    public async Task TeardownOfA50InstanceLab_UnderThrottling_LeavesNoAutoMirrorSessionInTheLab()
    {
        var (targetId, filterId) = await _lab.MirrorTargetAsync();
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
        var stepFunctions = await StartWorkflowAsync(targetId, filterId);

        // The schedule's decision, as IdleLabsFunction makes it: it starts the execution through the Step Functions API.
        var clock = Stopwatch.StartNew();
        var settings = new TeardownSettings { MirrorTargetId = targetId, StateMachineArn = LocalStepFunctions.StateMachineArn(StateMachine), Action = TeardownAction.Detach };
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
        var (targetId, filterId) = await _lab.MirrorTargetAsync();
        var members = await _lab.RunInstancesAsync(3, new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "mid" });
        foreach (var (instanceId, eniId) in members)
        {
            await _lab.CreateSessionAsync(eniId, targetId, filterId, 1, LocalCloudLab.OurSessionTags(instanceId, eniId, "mid"));
        }

        var before = await _lab.SessionIdsAsync();
        var stepFunctions = await StartWorkflowAsync(targetId, filterId);
        var input = new JsonObject
        {
            ["lab"] = "mid", ["action"] = action,
            ["reasons"] = new JsonObject { ["status"] = "expired", ["details"] = new JsonArray("expired at 2026-01-01T00:00:00Z"), ["requestedAction"] = action, ["notes"] = new JsonArray() },
        };

        var run = await stepFunctions.RunAsync(StateMachine, input.ToJsonString());

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        var states = run.States;
        var report = run.Output!;
        if (action == "report")
        {
            Assert.DoesNotContain("DeleteSessions", states);
            Assert.False(report["applied"]!.GetValue<bool>());
            Assert.Equal(3 * 0.015m, report["hourlyCostSaved"]!.GetValue<decimal>());
            Assert.Equal(before, await _lab.SessionIdsAsync());
            Assert.Equal("running", await _lab.StateAsync(members[0].InstanceId));
        }
        else
        {
            Assert.Equal(["Configure", "ListLabSessions", "ReportOnly", "DeleteSessions", "ActOnInstances", "InstanceAction", "Report", "TeardownComplete", "TornDown"],
                states.Where(s => s != "DeleteSession"));
            Assert.Equal(members.Select(m => m.InstanceId).Order(), report["stoppedInstanceIds"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
            Assert.Empty(await _lab.SessionIdsAsync());
            Assert.Contains(await _lab.StateAsync(members[2].InstanceId), new[] { "stopping", "stopped" });
        }
    }

    /// <summary>The local Lambda host serving template.yaml's handlers, and the local Step Functions endpoint calling it.</summary>
    private async Task<LocalStepFunctions> StartWorkflowAsync(string targetId, string filterId)
    {
        _lambda = await LocalLambdaServer.StartAsync(CommandLine.Parse([
            "--port", "0",
            "--template", Path.Combine(RepositoryRoot.Path, "template.yaml"),
            "--env", "AWS_REGION=us-east-1",
            "--env", "AWS_ACCESS_KEY_ID=test",
            "--env", "AWS_SECRET_ACCESS_KEY=test",
            "--env", "AWS_ENDPOINT_URL=" + cloud.Endpoint,
            "--env", "MIRROR_TARGET_ID=" + targetId,
            "--env", "MIRROR_FILTER_ID=" + filterId,
            "--env", "TEARDOWN_ACTION=detach",
        ]));
        var substitutions = new Dictionary<string, string> { ["MapConcurrency"] = "10" };
        foreach (var function in new[] { "ListLabSessionsFunction", "DeleteSessionFunction", "InstanceActionFunction", "TeardownReportFunction" })
        {
            substitutions[function + "Arn"] = $"arn:aws:lambda:{LocalCloud.Region}:{LocalCloud.AccountId}:function:{function}";
        }

        _stepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = new Dictionary<string, string> { [StateMachine] = Path.Combine("statemachine", "teardown.asl.json") },
            Substitutions = substitutions,
            RetryPause = TimeSpan.FromMilliseconds(50),
            LambdaEndpoint = _lambda.Address,
        });
        return _stepFunctions;
    }
}
