using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// A local account for the workflow tests: the local cloud (moto + AutoMirror's extension) seeded with what the stack
/// makes (sensor NLB, target group, mirror target and filter), the local Step Functions endpoint running the ASL
/// unchanged, and the local Lambda host serving template.yaml's functions against both. The interpreter reaches the
/// host through AWS_ENDPOINT_URL_LAMBDA; the host's EventFunction starts executions through AWS_ENDPOINT_URL_SFN.
/// </summary>
public sealed class WorkflowLab : IAsyncLifetime
{
    public const string FunctionArnPrefix = "arn:aws:lambda:us-east-1:123456789012:function:";
    /// <summary>The state machine the EventFunction starts (ATTACH_STATE_MACHINE_ARN), with the stack's substitutions.</summary>
    public const string AttachStateMachine = "AutoMirrorAttach";
    private static readonly TimeSpan ToolLimit = TimeSpan.FromMinutes(2);
    private readonly StringBuilder _hostLog = new();
    private Process? _host;

    public LocalCloud Cloud { get; } = new();

    public Uri LambdaEndpoint { get; private set; } = new("http://127.0.0.1:0");

    public JsonObject Lab { get; private set; } = [];

    public string TargetGroupArn => (string)Lab["targetGroupArn"]!;

    public string TargetId => (string)Lab["targetId"]!;

    public LocalStepFunctions StepFunctions { get; private set; } = null!;

    public AwsClients Aws { get; private set; } = null!;

    /// <summary>Between the interpreter and the Lambda host: injects Lambda's own errors into chosen invocations.</summary>
    public LambdaFaultProxy LambdaFaults { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        Lab = await SeedAsync("lab");
        // The Lambda host must know this endpoint before it starts, so the interpreter learns the host's afterwards.
        StepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = new Dictionary<string, string> { [AttachStateMachine] = "statemachine/attach.asl.json" },
            Substitutions = AttachSubstitutions(1, 3),
            // Retry pauses in ms instead of the ASL's seconds; the definition stays as deployed.
            RetryPause = TimeSpan.FromMilliseconds(20),
        });
        // The test's own client reads the local cloud's settings explicitly (the test process environment is not
        // touched): endpoint and region from them, dummy keys, never the instance metadata service.
        Aws = new AwsClients(AwsClientOptions.FromEnvironment(
            name => Cloud.ClientEnvironment.GetValueOrDefault(name),
            instanceMetadataRegion: () => null,
            credentials: () => new Amazon.Runtime.BasicAWSCredentials("testing", "testing")));
        await StartHostAsync();
        LambdaFaults = LambdaFaultProxy.Start(LambdaEndpoint);
        await StepFunctions.UseLambdaAsync(LambdaFaults.Address);
    }

    public async Task DisposeAsync()
    {
        if (_host is { HasExited: false })
        {
            _host.Kill(entireProcessTree: true);
            await _host.WaitForExitAsync();
        }

        _host?.Dispose();
        if (LambdaFaults is not null)
        {
            await LambdaFaults.DisposeAsync();
        }

        Aws?.Dispose();
        if (StepFunctions is not null)
        {
            await StepFunctions.DisposeAsync();
        }

        await Cloud.DisposeAsync();
    }

    /// <summary>A tagged source instance with <paramref name="interfaces"/> network interfaces.</summary>
    public async Task<(string InstanceId, IReadOnlyList<string> Interfaces)> LaunchSourceAsync(int interfaces, string lab = "lab-a")
    {
        var source = await SeedAsync("source", "--subnet", (string)Lab["labSubnetId"]!, "--interfaces", interfaces.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lab", lab);
        return ((string)source["instanceId"]!, source["networkInterfaceIds"]!.AsArray().Select(e => (string)e!).ToList());
    }

    public static Dictionary<string, string> AttachSubstitutions(int pollSeconds, int maxAttempts) => new()
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

    public static Dictionary<string, string> TeardownSubstitutions(int mapConcurrency) => new()
    {
        ["ListLabSessionsFunctionArn"] = FunctionArnPrefix + "ListLabSessionsFunction",
        ["DeleteSessionFunctionArn"] = FunctionArnPrefix + "DeleteSessionFunction",
        ["InstanceActionFunctionArn"] = FunctionArnPrefix + "InstanceActionFunction",
        ["TeardownReportFunctionArn"] = FunctionArnPrefix + "TeardownReportFunction",
        ["MapConcurrency"] = mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>One execution of the Teardown workflow for a lab, as IdleLabsFunction would start it.</summary>
    public async Task<WorkflowRun> RunTeardownAsync(string labName, string action, int mapConcurrency = 2)
    {
        // One state machine per variant of the stack's substitutions, as two stacks with other parameters would have.
        var machine = "AutoMirrorTeardown-map" + mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await StepFunctions.CreateStateMachineAsync(machine, "statemachine/teardown.asl.json", TeardownSubstitutions(mapConcurrency));
        return await RunAsync(machine, new JsonObject { ["lab"] = labName, ["action"] = action, ["reasons"] = new JsonObject { ["status"] = "idle-running" } });
    }

    /// <summary>Starts one execution of the Attach workflow; await the task for its outcome.</summary>
    public async Task<WorkflowRun> RunAttachAsync(string instanceId, int pollSeconds = 1, int maxAttempts = 5)
    {
        var machine = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"AutoMirrorAttach-poll{pollSeconds}-max{maxAttempts}");
        await StepFunctions.CreateStateMachineAsync(machine, "statemachine/attach.asl.json", AttachSubstitutions(pollSeconds, maxAttempts));
        return await RunAsync(machine, new JsonObject { ["instanceId"] = instanceId, ["trigger"] = "tag", ["eventId"] = "test-" + instanceId });
    }

    private async Task<WorkflowRun> RunAsync(string stateMachine, JsonObject input)
    {
        try
        {
            return await StepFunctions.RunAsync(stateMachine, input.ToJsonString(), TimeSpan.FromMinutes(3));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + "\nlambda host:\n" + HostLog(), e);
        }
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

    /// <summary>ListExecutions of the state machine the EventFunction starts.</summary>
    public Task<IReadOnlyList<JsonNode>> ExecutionsAsync() => StepFunctions.ListExecutionsAsync(AttachStateMachine);

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
            "--env", "ATTACH_STATE_MACHINE_ARN=" + LocalStepFunctions.StateMachineArn(AttachStateMachine),
        })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in Cloud.ClientEnvironment.Concat(StepFunctions.ClientEnvironment))
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
