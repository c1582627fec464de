using AutoMirror.Testing.Fakes;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Ownership;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Bench.Burst;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;
using System.Text;
using AutoMirror.Functions.Tests.Integration;
using AutoMirror.Testing;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

// bench/burst: N instances launched at once against the local cloud with EC2's per-action token buckets enforced
// (time-scaled), on the stack template.yaml deploys. Running events go to the real EventHandler. In-process (the
// default) the Attach workflow runs over the real AttachSteps, each function "container" with its own AWS clients
// (and so its own client-side buckets), as on Lambda. With --deployed it is the deployed path: every event is an
// Invoke of the stack's EventFunction on the local Lambda host, which starts the stack's Attach state machine in the
// local Step Functions (aws-local-stepfunctions runs the ASL unchanged), whose Tasks invoke the stack's functions on
// the same host. Prints the time to all-mirrored against the lower bound the mutating bucket implies.
var deployedPath = args.Contains("--deployed");
var instances = Option("--instances", deployedPath ? 200 : 500);
// The Lambda host's clients pace in real time: the deployed path runs unscaled, so both sides agree on a second.
// The in-process path runs unscaled by default too: a time scale of k makes every real millisecond the local cloud
// and this machine spend count as k simulated ones, latency that is not AutoMirror's (measured at 500: 1.06 at
// scale 1, 1.10 at 2, 1.12-1.17 at 5). A larger --time-scale is for quick runs.
var scale = deployedPath ? 1.0 : Option("--time-scale", 1.0);
var containers = Option("--containers", 25);
var deadlineSeconds = Option("--deadline-seconds", 300.0);

using var cloud = new LocalCloud();
await cloud.InitializeAsync();
var lab = new LabDriver(cloud.Endpoint);
LocalStepFunctions? workflows = null;
if (deployedPath)
{
    workflows = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions { Definitions = new Dictionary<string, string>() });
}

// The stack template.yaml makes (as `sam deploy` does), its health poll shortened as a lab deploy would choose.
var stackParameters = new Dictionary<string, string> { ["HealthPollSeconds"] = "1", ["HealthMaxAttempts"] = "20" };
await using var stack = await DeployedStack.DeployAsync(cloud, stackParameters, workflows?.ClientEnvironment);
if (workflows is not null)
{
    await stack.InstallWorkflowAsync(workflows, stack.AttachStateMachineArn);
    await workflows.UseLambdaAsync(stack.LambdaEndpoint);
}

await cloud.SetFixedTargetHealthAsync(stack.TargetGroupArn, "healthy");
// The functions' own environment as the stack deployed it (EventFunction's adds the state machine ARN).
var variables = stack.FunctionEnvironment("EvaluateFunction").Concat(stack.FunctionEnvironment("EventFunction"))
    .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.First().Value);
var settings = AutoMirrorSettings.FromVariables(variables.GetValueOrDefault);

// EC2's bucket sizes (100/20 non-mutating, 50/5 mutating, 100/10 tags), refilled in simulated time.
await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: true, TimeScale: scale));
var time = new ScaledTimeProvider(scale);
var environment = new Dictionary<string, string>(cloud.ClientEnvironment);
var log = new CountingLog();
var failures = new ConcurrentBag<string>();
var executions = Channel();
var stepFunctions = new FakeStepFunctions { Runner = input => executions.Writer.WriteAsync(input).AsTask() };
var pool = Enumerable.Range(0, deployedPath ? 1 : containers).Select(_ =>
{
    var options = AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null, () => new BasicAWSCredentials("test", "test")) with { TimeProvider = time };
    var clients = new AwsClients(options);
    var services = new AutoMirrorServices(settings, clients.Ec2, clients.LoadBalancing, stepFunctions, time, log);
    return (Clients: clients, Events: new EventHandler(services), Workflow: new AttachWorkflowEmulator(new AttachSteps(services), 1.0 / scale));
}).ToList();

await cloud.ResetCallCountsAsync();
var clock = Stopwatch.StartNew();
// The stack's workload subnets are /24s (about 250 addresses each): the instances are spread over them.
var launched = new List<(string InstanceId, List<string> Interfaces)>();
var subnets = stack.WorkloadSubnetIds;
for (var s = 0; s < subnets.Count; s++)
{
    var share = instances / subnets.Count + (s < instances % subnets.Count ? 1 : 0);
    if (share > 0)
    {
        launched.AddRange(await lab.LaunchAsync(subnets[s], share, tags: new() { [settings.MirrorTagKey] = "true", [settings.LabTagKey] = "burst" }));
    }
}

var launchSeconds = clock.Elapsed.TotalSeconds;
// The clock starts when the instances exist: EC2 emits their "running" events then. moto's time to create 500
// instances is the local cloud's, not AutoMirror's, and is printed separately.
clock.Restart();
var ids = launched.Select(i => i.InstanceId).ToList();
var mirrored = new ConcurrentDictionary<string, bool>();

// EventBridge delivers one "running" event per instance, all at once; each container takes one invocation at a time.
var events = new ConcurrentQueue<string>(ids.Select(RunningEvent));
if (deployedPath)
{
    using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
    var invoke = new Uri(stack.LambdaEndpoint, $"/2015-03-31/functions/{stack.FunctionName("EventFunction")}/invocations");
    await Task.WhenAll(Enumerable.Range(0, containers).Select(_ => Task.Run(async () =>
    {
        while (events.TryDequeue(out var e))
        {
            // Lambda retries a failed asynchronous (EventBridge) invocation twice.
            for (var attempt = 1; ; attempt++)
            {
                using var content = new StringContent(e, Encoding.UTF8, "application/json");
                using var answer = await http.PostAsync(invoke, content);
                if (!answer.Headers.Contains("X-Amz-Function-Error") || attempt >= 3)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromSeconds(60) / scale);
            }
        }
    })));

    // Every execution the events started, until none is RUNNING (or the deadline).
    var machine = stack.AttachStateMachineArn.Split(':')[^1];
    var deadline = Stopwatch.StartNew();
    IReadOnlyList<JsonNode> listed = [];
    while (deadline.Elapsed.TotalSeconds < deadlineSeconds)
    {
        listed = await ListAllExecutionsAsync(workflows!, LocalStepFunctions.StateMachineArn(machine));
        if (listed.Count >= ids.Count && listed.All(x => (string?)x["status"] != "RUNNING"))
        {
            break;
        }

        await Task.Delay(200);
    }

    foreach (var execution in listed)
    {
        var described = await workflows!.CallAsync("DescribeExecution", new JsonObject { ["executionArn"] = (string)execution["executionArn"]! });
        var input = JsonNode.Parse((string)described["input"]!)!;
        var instanceId = (string)input["instanceId"]!;
        var output = described["output"] is { } text ? JsonNode.Parse((string)text!) : null;
        if ((string?)described["status"] == "SUCCEEDED" && (string?)output?["verified"]?["status"] == "mirrored")
        {
            mirrored[instanceId] = true;
        }
        else
        {
            failures.Add($"{instanceId}: {described["status"]} {described["error"]} {described["cause"]} {output?["plan"]?["reason"]}");
        }
    }

    if (listed.Count < ids.Count)
    {
        failures.Add($"{ids.Count - listed.Count} instances started no execution");
    }
}
else
{
    var eventWorkers = pool.Select(container => Task.Run(async () =>
    {
        while (events.TryDequeue(out var e))
        {
            // Lambda retries a failed asynchronous (EventBridge) invocation twice.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await InvokeAsync(container.Events.HandleAsync, e);
                    break;
                }
                catch (AwsServiceException) when (attempt < 3)
                {
                    await Task.Delay(TimeSpan.FromSeconds(60) / scale);
                }
            }
        }
    })).ToList();
    var workflowWorkers = pool.Select(container => Task.Run(async () =>
    {
        await foreach (var input in executions.Reader.ReadAllAsync())
        {
            var instanceId = JsonDocument.Parse(input).RootElement.GetProperty("instanceId").GetString()!;
            try
            {
                var outcome = await container.Workflow.RunAsync(input);
                if (outcome == "attached")
                {
                    mirrored[instanceId] = true;
                }
                else
                {
                    failures.Add($"{instanceId}: {outcome}");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{instanceId}: {e.GetType().Name}: {e.Message}");
            }

            if (mirrored.Count + failures.Count >= ids.Count)
            {
                executions.Writer.TryComplete();
            }
        }
    })).ToList();

    await Task.WhenAll(eventWorkers);
    await Task.WhenAny(Task.WhenAll(workflowWorkers), Task.Delay(TimeSpan.FromSeconds(deadlineSeconds)));
    executions.Writer.TryComplete();
}

var elapsed = clock.Elapsed.TotalSeconds;

// Verdicts of create-first attaches are status-tagged in batches within StatusTagBatch.MaxDelay: wait that out (in
// simulated time), so the batched CreateTags are counted and the tags can be checked below.
await Task.Delay((StatusTagBatch.DefaultMaxDelay + TimeSpan.FromSeconds(5)) / scale);
var counts = await cloud.GetCallCountsAsync();

// The end state, read back after the clock stopped: every instance has exactly one AutoMirror session.
await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: false));
var sessions = await pool[0].Clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-target-id", settings.MirrorTargetId)], default);
var perInstance = sessions.Where(s => SessionTags.IsOurs(s, settings.MirrorTargetId)).GroupBy(s => s.Tags[SessionTags.InstanceId]).ToDictionary(g => g.Key, g => g.Count());
var notMirrored = ids.Count(id => perInstance.GetValueOrDefault(id) != 1);
var readBack = await pool[0].Clients.Ec2.DescribeInstancesAsync(ids, default);
var statusTagged = settings.StatusTag
    ? readBack.Count(i => i.Tags.GetValueOrDefault(SessionTags.Status) == "mirrored")
    : ids.Count;
var failureCount = Math.Max(failures.Count, notMirrored) + (ids.Count - statusTagged);

// Lower bound: every action has its own bucket; the slowest bucket to drain the calls that must succeed sets it.
// One create per interface is the minimum the mutating bucket (50 burst, 5/s) must admit.
var creates = launched.Sum(i => i.Interfaces.Count);
var boundSimulated = Math.Max(0, (creates - 50) / 5.0);
var elapsedSimulated = elapsed * scale;
// The functions' calls: every EC2 and ELB call after the reset, less the launch itself.
var functionCalls = counts.ForService("ec2") + counts.ForService("elasticloadbalancing") - counts.For("ec2", "RunInstances");
var acceptedCalls = functionCalls - new[] { "ec2", "elasticloadbalancing" }.Sum(service => counts.Throttled.GetValueOrDefault(service)?.Values.Sum() ?? 0);
var callsPerInstance = (double)functionCalls / ids.Count;

Console.WriteLine($"mode={(deployedPath ? "deployed" : "in-process")} instances={ids.Count} interfaces={creates} containers={(deployedPath ? "lambda-host" : containers)} time_scale={scale}");
Console.WriteLine($"launch_seconds={launchSeconds:F1} (RunInstances of {ids.Count}, real)");
Console.WriteLine($"all_mirrored_seconds={elapsedSimulated:F1} simulated ({elapsed:F1} real)");
Console.WriteLine($"lower_bound_seconds={boundSimulated:F1} simulated (CreateTrafficMirrorSession bucket: ({creates}-50)/5)");
foreach (var (service, actions) in counts.Calls.OrderBy(kv => kv.Key, StringComparer.Ordinal))
{
    foreach (var (action, n) in actions.OrderBy(kv => kv.Key, StringComparer.Ordinal))
    {
        var throttled = counts.Throttled.GetValueOrDefault(service)?.GetValueOrDefault(action) ?? 0;
        Console.WriteLine($"  {service} {action}: {n} calls, {throttled} throttled");
    }
}

Console.WriteLine($"api_calls={functionCalls} accepted={acceptedCalls} decisions_logged={log.Count} sessions={sessions.Count} status_tagged={statusTagged}/{ids.Count}");
foreach (var failure in failures.Take(10))
{
    Console.WriteLine("failure: " + failure);
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"burst_time_over_bound={(boundSimulated > 0 ? elapsedSimulated / boundSimulated : double.NaN):F2} api_calls_per_instance={callsPerInstance:F2} failures={failureCount}"));
foreach (var container in pool)
{
    container.Clients.Dispose();
}

if (workflows is not null)
{
    await workflows.DisposeAsync();
}

return failureCount == 0 ? 0 : 1;

T Option<T>(string name, T fallback) where T : IParsable<T>
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? T.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static async Task<string> InvokeAsync(Func<Stream, Task<Stream>> handler, string payload)
{
    using var input = new MemoryStream(Encoding.UTF8.GetBytes(payload));
    await using var output = await handler(input);
    using var reader = new StreamReader(output, Encoding.UTF8);
    return await reader.ReadToEndAsync();
}

static async Task<IReadOnlyList<JsonNode>> ListAllExecutionsAsync(LocalStepFunctions workflows, string stateMachineArn)
{
    var all = new List<JsonNode>();
    string? next = null;
    do
    {
        var request = new JsonObject { ["stateMachineArn"] = stateMachineArn, ["maxResults"] = 1000 };
        if (next is not null)
        {
            request["nextToken"] = next;
        }

        var page = await workflows.CallAsync("ListExecutions", request);
        all.AddRange(page["executions"]!.AsArray().Select(e => e!.DeepClone()));
        next = (string?)page["nextToken"];
    }
    while (next is not null);
    return all;
}

static System.Threading.Channels.Channel<string> Channel() => System.Threading.Channels.Channel.CreateUnbounded<string>();

static string RunningEvent(string instanceId) => JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["version"] = "0",
    ["id"] = Guid.NewGuid().ToString(),
    ["detail-type"] = "EC2 Instance State-change Notification",
    ["source"] = "aws.ec2",
    ["account"] = "123456789012",
    ["time"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
    ["region"] = "us-east-1",
    ["resources"] = new[] { "arn:aws:ec2:us-east-1:123456789012:instance/" + instanceId },
    ["detail"] = new Dictionary<string, string> { ["instance-id"] = instanceId, ["state"] = "running" },
});

/// <summary>Counts decision lines instead of printing 500 instances' worth of them.</summary>
internal sealed class CountingLog : IDecisionLog
{
    private int _count;

    public int Count => _count;

    public void Write(Decision decision)
    {
        Interlocked.Increment(ref _count);
        if (decision.Level == "error")
        {
            Console.Error.WriteLine(JsonLinesDecisionLog.Format(decision, DateTimeOffset.UtcNow));
        }
    }
}
