using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>The outcome of one execution in aws-local-stepfunctions (tests/workflows/run-workflow.mjs).</summary>
public sealed record WorkflowRun(string Status, JsonNode? Output, string? Error, string? Cause, IReadOnlyList<string> States, JsonArray Events)
{
    public int Entered(string state) => States.Count(s => s == state);

    public IEnumerable<JsonNode> EventsOf(string type, string state) =>
        Events.Where(e => (string?)e!["type"] == type && (string?)e["state"] == state).Select(e => e!);

    public string Describe() => $"{Status} {Error}: {Cause}\nstates: {string.Join(" > ", States)}";
}

/// <summary>
/// A local account for the workflow tests: the local cloud (moto + AutoMirror's extension) seeded with what the stack
/// makes (sensor NLB, target group, mirror target and filter), and the local Lambda host serving template.yaml's
/// functions against it. The ASL runs unchanged in aws-local-stepfunctions; its Lambda client reaches the host
/// through AWS_ENDPOINT_URL_LAMBDA.
/// </summary>
public sealed class WorkflowLab : IAsyncLifetime
{
    public const string FunctionArnPrefix = "arn:aws:lambda:us-east-1:123456789012:function:";
    private static readonly TimeSpan ToolLimit = TimeSpan.FromMinutes(2);
    private readonly StringBuilder _hostLog = new();
    private Process? _host;

    public LocalCloud Cloud { get; } = new();

    public Uri LambdaEndpoint { get; private set; } = new("http://127.0.0.1:0");

    public JsonObject Lab { get; private set; } = [];

    public string TargetGroupArn => (string)Lab["targetGroupArn"]!;

    public string TargetId => (string)Lab["targetId"]!;

    public string AttachStateMachineArn { get; private set; } = "";

    public AwsClients Aws { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _ = ExternalTool.Node22;
        await Cloud.InitializeAsync();
        Lab = await SeedAsync("lab");
        // A Step Functions state machine in the local cloud, made from the same ASL, for the EventHandler's
        // StartExecution (execution-name idempotency is Step Functions' own rule).
        AttachStateMachineArn = (string)(await SeedAsync("statemachine", "--name", "AutoMirrorAttach", "--definition", "statemachine/attach.asl.json",
            "--substitutions", AttachSubstitutions(1, 3).ToJsonString()))["stateMachineArn"]!;
        // The test's own client reads the local cloud's settings explicitly (the test process environment is not
        // touched): endpoint and region from them, dummy keys, never the instance metadata service.
        Aws = new AwsClients(AwsClientOptions.FromEnvironment(
            name => Cloud.ClientEnvironment.GetValueOrDefault(name),
            instanceMetadataRegion: () => null,
            credentials: () => new Amazon.Runtime.BasicAWSCredentials("testing", "testing")));
        await StartHostAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is { HasExited: false })
        {
            _host.Kill(entireProcessTree: true);
            await _host.WaitForExitAsync();
        }

        _host?.Dispose();
        Aws?.Dispose();
        await Cloud.DisposeAsync();
    }

    /// <summary>A tagged source instance with <paramref name="interfaces"/> network interfaces.</summary>
    public async Task<(string InstanceId, IReadOnlyList<string> Interfaces)> LaunchSourceAsync(int interfaces, string lab = "lab-a")
    {
        var source = await SeedAsync("source", "--subnet", (string)Lab["labSubnetId"]!, "--interfaces", interfaces.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lab", lab);
        return ((string)source["instanceId"]!, source["networkInterfaceIds"]!.AsArray().Select(e => (string)e!).ToList());
    }

    public static JsonObject AttachSubstitutions(int pollSeconds, int maxAttempts) => new()
    {
        ["EvaluateFunctionArn"] = FunctionArnPrefix + "EvaluateFunction",
        ["TargetHealthFunctionArn"] = FunctionArnPrefix + "TargetHealthFunction",
        ["CreateSessionsFunctionArn"] = FunctionArnPrefix + "CreateSessionsFunction",
        ["VerifyFunctionArn"] = FunctionArnPrefix + "VerifyFunction",
        ["CleanupFunctionArn"] = FunctionArnPrefix + "CleanupFunction",
        // Waits shortened by substitution, exactly where DefinitionSubstitutions puts the stack's values.
        ["HealthPollSeconds"] = pollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["HealthMaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static JsonObject TeardownSubstitutions(int mapConcurrency) => new()
    {
        ["ListLabSessionsFunctionArn"] = FunctionArnPrefix + "ListLabSessionsFunction",
        ["DeleteSessionFunctionArn"] = FunctionArnPrefix + "DeleteSessionFunction",
        ["InstanceActionFunctionArn"] = FunctionArnPrefix + "InstanceActionFunction",
        ["TeardownReportFunctionArn"] = FunctionArnPrefix + "TeardownReportFunction",
        ["MapConcurrency"] = mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>One execution of the Teardown workflow for a lab, as IdleLabsFunction would start it.</summary>
    public Task<WorkflowRun> RunTeardownAsync(string labName, string action, int mapConcurrency = 2) =>
        RunAsync("statemachine/teardown.asl.json", TeardownSubstitutions(mapConcurrency),
            new JsonObject { ["lab"] = labName, ["action"] = action, ["reasons"] = new JsonObject { ["status"] = "idle-running" } });

    /// <summary>Starts one execution of the Attach workflow; await the task for its outcome.</summary>
    public Task<WorkflowRun> RunAttachAsync(string instanceId, int pollSeconds = 1, int maxAttempts = 5) =>
        RunAsync("statemachine/attach.asl.json", AttachSubstitutions(pollSeconds, maxAttempts),
            new JsonObject { ["instanceId"] = instanceId, ["trigger"] = "tag", ["eventId"] = "test-" + instanceId });

    public async Task<WorkflowRun> RunAsync(string definition, JsonObject substitutions, JsonObject input)
    {
        var result = await ExternalTool.RunAsync(
            ExternalTool.Node22,
            [
                Path.Combine(RepositoryRoot.Path, "tests", "workflows", "run-workflow.mjs"),
                "--definition", definition,
                "--substitutions", substitutions.ToJsonString(),
                "--input", input.ToJsonString(),
                // Retry pauses in ms instead of the ASL's seconds; the definition stays as deployed.
                "--retry-ms", "20",
            ],
            TimeSpan.FromMinutes(3),
            new Dictionary<string, string>
            {
                ["AWS_ENDPOINT_URL_LAMBDA"] = LambdaEndpoint.ToString().TrimEnd('/'),
                ["AWS_REGION"] = LocalCloud.Region,
                ["AWS_ACCESS_KEY_ID"] = "testing",
                ["AWS_SECRET_ACCESS_KEY"] = "testing",
            });
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("run-workflow failed: " + result.Describe() + "\nlambda host:\n" + HostLog());
        }

        var report = JsonNode.Parse(result.StandardOutput)!.AsObject();
        return new WorkflowRun(
            (string)report["status"]!,
            report["output"]?.DeepClone(),
            (string?)report["error"],
            (string?)report["cause"],
            report["states"]!.AsArray().Select(s => (string)s!).ToList(),
            report["events"]!.AsArray());
    }

    /// <summary>Every session in the account on these interfaces.</summary>
    public async Task<IReadOnlyList<TrafficMirrorSession>> SessionsOnAsync(IReadOnlyList<string> interfaces) =>
        await Aws.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", interfaces)], CancellationToken.None);

    public async Task<string> InvokeFunctionAsync(string function, string payload)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        using var content = new StringContent(payload, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(LambdaEndpoint, $"/2015-03-31/functions/{function}/invocations"), content);
        var body = await response.Content.ReadAsStringAsync();
        if (response.Headers.Contains("X-Amz-Function-Error"))
        {
            throw new InvalidOperationException($"{function} failed: {body}");
        }

        return body;
    }

    public async Task<JsonArray> ExecutionsAsync() =>
        (await SeedAsync("executions", "--state-machine", AttachStateMachineArn))["executions"]!.AsArray();

    public string HostLog()
    {
        lock (_hostLog)
        {
            return _hostLog.ToString();
        }
    }

    private async Task<JsonObject> SeedAsync(params string[] arguments)
    {
        var result = await ExternalTool.RunAsync("python3", ["tests/workflows/seed_lab.py", Cloud.Endpoint.ToString().TrimEnd('/'), .. arguments], ToolLimit);
        return result.ExitCode == 0
            ? JsonNode.Parse(result.StandardOutput)!.AsObject()
            : throw new InvalidOperationException("seed_lab " + arguments[0] + " failed: " + result.Describe());
    }

    private async Task StartHostAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        foreach (var argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "AutoMirror.LocalLambda.dll"),
            "--port", "0",
            "--template", Path.Combine(RepositoryRoot.Path, "template.yaml"),
            // What CloudFormation would resolve from the stack's resources.
            "--env", "MIRROR_TARGET_ID=" + TargetId,
            "--env", "MIRROR_FILTER_ID=" + (string)Lab["filterId"]!,
            "--env", "SENSOR_TARGET_GROUP_ARN=" + TargetGroupArn,
            "--env", "SENSOR_SUBNET_IDS=" + (string)Lab["sensorSubnetId"]!,
            "--env", "ATTACH_STATE_MACHINE_ARN=" + AttachStateMachineArn,
        })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in Cloud.ClientEnvironment)
        {
            start.Environment[name] = value;
        }

        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        _host = Process.Start(start) ?? throw new InvalidOperationException("the local Lambda host did not start");
        _host.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            Append(e.Data);
            const string prefix = "automirror-locallambda ready ";
            if (e.Data.StartsWith(prefix, StringComparison.Ordinal))
            {
                ready.TrySetResult(new Uri(e.Data[prefix.Length..].Split(' ')[0]));
            }
        };
        _host.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(e.Data);
            }
        };
        _host.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("the local Lambda host exited:\n" + HostLog()));
        _host.EnableRaisingEvents = true;
        _host.BeginOutputReadLine();
        _host.BeginErrorReadLine();
        LambdaEndpoint = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private void Append(string line)
    {
        lock (_hostLog)
        {
            // Bounded: a long run must not grow memory without limit.
            if (_hostLog.Length < 1_000_000)
            {
                _hostLog.AppendLine(line);
            }
        }
    }
}
