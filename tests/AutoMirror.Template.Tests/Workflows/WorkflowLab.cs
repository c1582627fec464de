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
/// A local account for the workflow tests: template.yaml deployed into the local cloud (moto + AutoMirror's
/// extension) as `sam deploy` does, the local Step Functions endpoint running the workflows the stack holds, and the
/// local Lambda host serving the stack's functions (its environment, the built code). The interpreter reaches the host
/// through AWS_ENDPOINT_URL_LAMBDA; the host's EventFunction starts executions through AWS_ENDPOINT_URL_SFN.
/// </summary>
public class WorkflowLab : IAsyncLifetime
{
    private static readonly TimeSpan ToolLimit = TimeSpan.FromMinutes(2);

    /// <summary>The stack's parameters for the waits the tests can afford (a deploy for tests would choose these).</summary>
    public static readonly IReadOnlyDictionary<string, string> StackParameters = new Dictionary<string, string>
    {
        ["HealthPollSeconds"] = "1",
        ["HealthMaxAttempts"] = "5",
        // The health-poll tests change the sensor's health between executions on one warm host: ask on every poll.
        ["SensorHealthMaxAgeSeconds"] = "0",
        ["TeardownConcurrency"] = "2",
    };

    private readonly IReadOnlyDictionary<string, string> _parameters;

    public WorkflowLab()
        : this(StackParameters)
    {
    }

    /// <summary>A lab whose stack was deployed with other parameters (the same waits, so the stack's workflow runs).</summary>
    protected WorkflowLab(IReadOnlyDictionary<string, string> parameters) => _parameters = parameters;

    public LocalCloud Cloud { get; } = new();

    public DeployedStack Stack { get; private set; } = null!;

    public Uri LambdaEndpoint => Stack.LambdaEndpoint;

    public string TargetGroupArn => Stack.TargetGroupArn;

    public string TargetId => Stack.MirrorTargetId;

    public string FilterId => Stack.MirrorFilterId;

    /// <summary>The state machine the EventFunction starts (its ATTACH_STATE_MACHINE_ARN): the stack's own.</summary>
    public string AttachStateMachine => Stack.AttachStateMachineArn.Split(':')[^1];

    public LocalStepFunctions StepFunctions { get; private set; } = null!;

    public AwsClients Aws { get; private set; } = null!;

    /// <summary>Between the interpreter and the Lambda host: injects Lambda's own errors into chosen invocations.</summary>
    public LambdaFaultProxy LambdaFaults { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        StepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = new Dictionary<string, string>(),
            // Retry pauses in ms instead of the ASL's seconds; the definition stays as deployed.
            RetryPause = TimeSpan.FromMilliseconds(20),
        });
        // The test's own client reads the local cloud's settings explicitly (the test process environment is not
        // touched): endpoint and region from them, dummy keys, never the instance metadata service.
        Aws = new AwsClients(AwsClientOptions.FromEnvironment(
            name => Cloud.ClientEnvironment.GetValueOrDefault(name),
            instanceMetadataRegion: () => null,
            credentials: () => new Amazon.Runtime.BasicAWSCredentials("testing", "testing")));
        Stack = await DeployedStack.DeployAsync(Cloud, _parameters, StepFunctions.ClientEnvironment);
        // The workflows the stack holds (after DefinitionSubstitutions), under the stack's own names and ARNs.
        await Stack.InstallWorkflowAsync(StepFunctions, Stack.AttachStateMachineArn);
        await Stack.InstallWorkflowAsync(StepFunctions, Stack.TeardownStateMachineArn);

        LambdaFaults = LambdaFaultProxy.Start(LambdaEndpoint);
        await StepFunctions.UseLambdaAsync(LambdaFaults.Address);
    }

    public async Task DisposeAsync()
    {
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }

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
    public async Task<(string InstanceId, IReadOnlyList<string> Interfaces)> LaunchSourceAsync(int interfaces, string lab = "lab-a", int workloadSubnet = 0)
    {
        var source = await SeedAsync("source", "--subnet", Stack.WorkloadSubnetIds[workloadSubnet], "--interfaces", interfaces.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lab", lab);
        return ((string)source["instanceId"]!, source["networkInterfaceIds"]!.AsArray().Select(e => (string)e!).ToList());
    }

    /// <summary>
    /// DefinitionSubstitutions as the stack makes them — its own function ARNs — with other waits: the workflow a
    /// stack deployed with other HealthPollSeconds/HealthMaxAttempts would run.
    /// </summary>
    public Dictionary<string, string> AttachSubstitutions(int pollSeconds, int maxAttempts) => new()
    {
        ["EvaluateFunctionArn"] = Stack.FunctionArn("EvaluateFunction"),
        ["TargetHealthFunctionArn"] = Stack.FunctionArn("TargetHealthFunction"),
        ["CreateSessionsFunctionArn"] = Stack.FunctionArn("CreateSessionsFunction"),
        ["VerifyFunctionArn"] = Stack.FunctionArn("VerifyFunction"),
        ["CleanupFunctionArn"] = Stack.FunctionArn("CleanupFunction"),
        // Waits shortened by substitution, exactly where DefinitionSubstitutions puts the stack's values.
        ["HealthPollSeconds"] = pollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["HealthMaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public Dictionary<string, string> TeardownSubstitutions(int mapConcurrency) => new()
    {
        ["ListLabSessionsFunctionArn"] = Stack.FunctionArn("ListLabSessionsFunction"),
        ["DeleteSessionFunctionArn"] = Stack.FunctionArn("DeleteSessionFunction"),
        ["InstanceActionFunctionArn"] = Stack.FunctionArn("InstanceActionFunction"),
        ["TeardownReportFunctionArn"] = Stack.FunctionArn("TeardownReportFunction"),
        ["MapConcurrency"] = mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>One execution of the Teardown workflow for a lab, as IdleLabsFunction would start it.</summary>
    public async Task<WorkflowRun> RunTeardownAsync(string labName, string action, int mapConcurrency = 2)
    {
        // One state machine per variant of the stack's substitutions, as two stacks with other parameters would have.
        var machine = Stack.TeardownStateMachineArn.Split(':')[^1];
        if (mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture) != StackParameters["TeardownConcurrency"])
        {
            machine = "AutoMirrorTeardown-map" + mapConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await StepFunctions.CreateStateMachineAsync(machine, "statemachine/teardown.asl.json", TeardownSubstitutions(mapConcurrency));
        }

        return await RunAsync(machine, new JsonObject { ["lab"] = labName, ["action"] = action, ["reasons"] = new JsonObject { ["status"] = "idle-running" } });
    }

    /// <summary>Starts one execution of the Attach workflow; await the task for its outcome.</summary>
    public async Task<WorkflowRun> RunAttachAsync(string instanceId, int pollSeconds = 1, int maxAttempts = 5)
    {
        var machine = AttachStateMachine;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (pollSeconds.ToString(invariant) != StackParameters["HealthPollSeconds"] || maxAttempts.ToString(invariant) != StackParameters["HealthMaxAttempts"])
        {
            machine = string.Create(invariant, $"AutoMirrorAttach-poll{pollSeconds}-max{maxAttempts}");
            await StepFunctions.CreateStateMachineAsync(machine, "statemachine/attach.asl.json", AttachSubstitutions(pollSeconds, maxAttempts));
        }

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
        using var response = await http.PostAsync(new Uri(LambdaEndpoint, $"/2015-03-31/functions/{Stack.FunctionName(function)}/invocations"), content);
        var body = await response.Content.ReadAsStringAsync();
        if (response.Headers.Contains("X-Amz-Function-Error"))
        {
            throw new InvalidOperationException($"{function} failed: {body}");
        }

        return body;
    }

    /// <summary>ListExecutions of the state machine the EventFunction starts.</summary>
    public Task<IReadOnlyList<JsonNode>> ExecutionsAsync() => StepFunctions.ListExecutionsAsync(AttachStateMachine);

    public string HostLog() => Stack.HostLog;

    private async Task<JsonObject> SeedAsync(params string[] arguments)
    {
        var result = await ExternalTool.RunAsync("python3", ["tests/workflows/seed_lab.py", Cloud.Endpoint.ToString().TrimEnd('/'), .. arguments], ToolLimit);
        return result.ExitCode == 0
            ? JsonNode.Parse(result.StandardOutput)!.AsObject()
            : throw new InvalidOperationException("seed_lab " + arguments[0] + " failed: " + result.Describe());
    }
}
