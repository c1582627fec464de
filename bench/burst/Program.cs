using AutoMirror.Testing.Fakes;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Ownership;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
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
// (time-scaled). Running events go to the real EventHandler; the Attach workflow runs in-process over the real
// AttachSteps; every function "container" has its own AWS clients (and so its own client-side buckets), as on
// Lambda. Prints the time to all-mirrored against the lower bound the mutating bucket implies.
var instances = Option("--instances", 500);
var scale = Option("--time-scale", 5.0);
var containers = Option("--containers", 25);
var deadlineSeconds = Option("--deadline-seconds", 150.0);

using var cloud = new LocalCloud();
await cloud.InitializeAsync();
var lab = new LabDriver(cloud.Endpoint);
var seed = await lab.RunAsync("seed");
string Seeded(string name) => seed.GetProperty(name).GetString()!;
await cloud.SetFixedTargetHealthAsync(Seeded("targetGroupArn"), "healthy");
var settings = AutoMirrorSettings.FromVariables(name => name switch
{
    "MIRROR_TARGET_ID" => Seeded("mirrorTargetId"),
    "MIRROR_FILTER_ID" => Seeded("mirrorFilterId"),
    "SENSOR_TARGET_GROUP_ARN" => Seeded("targetGroupArn"),
    "SENSOR_SUBNET_IDS" => Seeded("sensorSubnetId"),
    "ATTACH_STATE_MACHINE_ARN" => "arn:aws:states:us-east-1:123456789012:stateMachine:AutoMirrorAttach",
    _ => null,
});

// EC2's bucket sizes (100/20 non-mutating, 50/5 mutating, 100/10 tags), refilled in simulated time.
await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: true, TimeScale: scale));
var time = new ScaledTimeProvider(scale);
var environment = new Dictionary<string, string>(cloud.ClientEnvironment);
var log = new CountingLog();
var failures = new ConcurrentBag<string>();
var executions = Channel();
var stepFunctions = new FakeStepFunctions { Runner = input => executions.Writer.WriteAsync(input).AsTask() };
var pool = Enumerable.Range(0, containers).Select(_ =>
{
    var options = AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null, () => new BasicAWSCredentials("test", "test")) with { TimeProvider = time };
    var clients = new AwsClients(options);
    var services = new AutoMirrorServices(settings, clients.Ec2, clients.LoadBalancing, stepFunctions, time, log);
    return (Clients: clients, Events: new EventHandler(services), Workflow: new AttachWorkflowEmulator(new AttachSteps(services), 1.0 / scale));
}).ToList();

await cloud.ResetCallCountsAsync();
var clock = Stopwatch.StartNew();
var launched = await lab.LaunchAsync(Seeded("subnetId"), instances, tags: new() { ["automirror"] = "true", ["lab"] = "burst" });
var launchSeconds = clock.Elapsed.TotalSeconds;
// The clock starts when the instances exist: EC2 emits their "running" events then. moto's time to create 500
// instances is the local cloud's, not AutoMirror's, and is printed separately.
clock.Restart();
var ids = launched.Select(i => i.InstanceId).ToList();
var mirrored = new ConcurrentDictionary<string, bool>();

// EventBridge delivers one "running" event per instance, all at once; each container takes one invocation at a time.
var events = new ConcurrentQueue<string>(ids.Select(RunningEvent));
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
var elapsed = clock.Elapsed.TotalSeconds;
var counts = await cloud.GetCallCountsAsync();

// The end state, read back after the clock stopped: every instance has exactly one AutoMirror session.
await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: false));
var sessions = await pool[0].Clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-target-id", settings.MirrorTargetId)], default);
var perInstance = sessions.Where(s => SessionTags.IsOurs(s, settings.MirrorTargetId)).GroupBy(s => s.Tags[SessionTags.InstanceId]).ToDictionary(g => g.Key, g => g.Count());
var notMirrored = ids.Count(id => perInstance.GetValueOrDefault(id) != 1);
var failureCount = Math.Max(failures.Count, notMirrored);

// Lower bound: every action has its own bucket; the slowest bucket to drain the calls that must succeed sets it.
// One create per interface is the minimum the mutating bucket (50 burst, 5/s) must admit.
var creates = launched.Sum(i => i.Interfaces.Count);
var boundSimulated = Math.Max(0, (creates - 50) / 5.0);
var elapsedSimulated = elapsed * scale;
var functionCalls = counts.Total - counts.For("ec2", "RunInstances");
var acceptedCalls = functionCalls - counts.Throttled.Values.SelectMany(a => a.Values).Sum();
var callsPerInstance = (double)functionCalls / ids.Count;

Console.WriteLine($"instances={ids.Count} interfaces={creates} containers={containers} time_scale={scale}");
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

Console.WriteLine($"api_calls={functionCalls} accepted={acceptedCalls} decisions_logged={log.Count} sessions={sessions.Count}");
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
