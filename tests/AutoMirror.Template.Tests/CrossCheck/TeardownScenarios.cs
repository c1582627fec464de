using AutoMirror.Testing.Fakes;
using System.Collections.Concurrent;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Teardown;

using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.CrossCheck;

/// <summary>
/// The teardown functions over the teardown engineer's fakes (instances, sessions, CloudWatch series), recorded
/// the same way: lab "red" stopped hours ago with AutoMirror sessions, lab "blue" busy, a foreign session.
/// </summary>
public static class TeardownScenarios
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public sealed class World
    {
        public World(AutoMirrorSettings settings)
        {
            Ec2.AddInstance("i-0000e001", "stopped", Tags(("lab", "red")), StoppedAgo(TimeSpan.FromHours(3)));
            Ec2.AddInstance("i-0000e002", "stopped", Tags(("lab", "red")), StoppedAgo(TimeSpan.FromHours(4)));
            Ec2.AddInstance("i-0000b001", "running", Tags(("lab", "blue")));
            Ec2.AddInstance("i-0000c001", "running", Tags(("lab", "green"), (settings.MirrorTagKey, "true")));
            Ec2.AddInstance("i-0000d001", "running", Tags(("lab", "purple"), (TeardownSettings.AllowTerminateTagKey, "true")));
            Ec2.AddSession("tms-0000e001", "eni-0000e001", settings.MirrorTargetId, Ours("i-0000e001", "red"));
            Ec2.AddSession("tms-0000e002", "eni-0000e002", settings.MirrorTargetId, Ours("i-0000e002", "red"));
            Ec2.AddSession("tms-0000b001", "eni-0000b001", settings.MirrorTargetId, Ours("i-0000b001", "blue"));
            Ec2.AddSession("tms-foreign", "eni-0000e001", settings.MirrorTargetId, Tags(("team", "secops")));
            CloudWatch.Fill("i-0000b001", Now.AddHours(-2), Now, 4096);
            Service = new TeardownService(
                RecordingProxy<IEc2Client>.Wrap(Ec2, Calls),
                RecordingProxy<ICloudWatchClient>.Wrap(CloudWatch, Calls),
                RecordingProxy<IStepFunctionsClient>.Wrap(StepFunctions, Calls),
                new ManualTimeProvider(Now),
                TeardownSettings.From(settings));
        }

        public ConcurrentBag<string> Calls { get; } = [];

        public FakeEc2 Ec2 { get; } = new();

        public FakeCloudWatch CloudWatch { get; } = new();

        public FakeStepFunctions StepFunctions { get; } = new();

        public TeardownService Service { get; }

        public TeardownLog Log { get; } = new(TextWriter.Null, TimeProvider.System);
    }

    public static async Task IdleLabs(World world)
    {
        var handler = new IdleLabsHandler(world.Service, world.Log);
        await FunctionScenarios.InvokeAsync(handler.HandleAsync, FunctionScenarios.Fixture("scheduled-reconcile.json", "i-0"));
    }

    public static async Task ListLabSessions(World world)
    {
        var steps = new TeardownSteps(world.Service, world.Log);
        await FunctionScenarios.InvokeAsync(steps.ListLabSessionsAsync, """{"lab":"red","action":"detach","reasons":{}}""");
        await FunctionScenarios.InvokeAsync(steps.ListLabSessionsAsync, """{"lab":"empty","action":"detach","reasons":{}}""");
    }

    public static async Task DeleteSession(World world)
    {
        var steps = new TeardownSteps(world.Service, world.Log);
        await FunctionScenarios.InvokeAsync(steps.DeleteSessionAsync, """{"sessionId":"tms-0000e001","instanceId":"i-0000e001","networkInterfaceId":"eni-0000e001"}""");
        // Already gone (a retried Map item): still an answer, not a failure.
        await FunctionScenarios.InvokeAsync(steps.DeleteSessionAsync, """{"sessionId":"tms-0000e001","instanceId":"i-0000e001","networkInterfaceId":"eni-0000e001"}""");
    }

    /// <summary>Detach (marks running instances excluded), stop, and terminate for a lab whose every instance opted
    /// in (the stack opted in too).</summary>
    public static async Task InstanceAction(World world)
    {
        var steps = new TeardownSteps(world.Service, world.Log);
        await FunctionScenarios.InvokeAsync(steps.InstanceActionAsync, """{"lab":"green","action":"detach","instanceIds":["i-0000c001"]}""");
        await FunctionScenarios.InvokeAsync(steps.InstanceActionAsync, """{"lab":"green","action":"stop","instanceIds":["i-0000c001"]}""");
        await FunctionScenarios.InvokeAsync(steps.InstanceActionAsync, """{"lab":"purple","action":"terminate","instanceIds":["i-0000d001"]}""");
    }

    /// <summary>The stack's custom resource: Create changes nothing; Delete removes AutoMirror's sessions to the
    /// stack's target (the foreign one on the same target stays) and answers the ResponseURL.</summary>
    public static async Task StackCleanup(World world)
    {
        using var catcher = ResponseUrlCatcher.Start();
        var handler = new StackCleanupHandler(world.Service, world.Log);
        foreach (var requestType in new[] { "Create", "Delete" })
        {
            await FunctionScenarios.InvokeAsync(handler.HandleAsync, new System.Text.Json.Nodes.JsonObject
            {
                ["RequestType"] = requestType,
                ["ResponseURL"] = catcher.Url.ToString(),
                ["StackId"] = "arn:aws:cloudformation:us-east-1:123456789012:stack/automirror/1",
                ["RequestId"] = "r-" + requestType,
                ["LogicalResourceId"] = "StackCleanup",
                ["ResourceType"] = "Custom::AutoMirrorSessionCleanup",
                ["ResourceProperties"] = new System.Text.Json.Nodes.JsonObject(),
            }.ToJsonString());
        }
    }

    public static async Task Report(World world)
    {
        var steps = new TeardownSteps(world.Service, world.Log);
        await FunctionScenarios.InvokeAsync(steps.ReportAsync, """
            {"lab":"red","action":"detach","reasons":{"status":"idle-stopped"},
             "found":{"name":"red","sessions":[{"sessionId":"tms-0000e001","instanceId":"i-0000e001","networkInterfaceId":"eni-0000e001"}],"instanceIds":["i-0000e001"]},
             "deleted":[{"sessionId":"tms-0000e001","outcome":"deleted"}]}
            """);
    }

    private static Dictionary<string, string> Tags(params (string Key, string Value)[] tags) => tags.ToDictionary(t => t.Key, t => t.Value);

    private static Dictionary<string, string> Ours(string instanceId, string lab) =>
        Tags(("automirror:managed", "true"), ("automirror:instance-id", instanceId), ("automirror:lab", lab));

    private static string StoppedAgo(TimeSpan ago) => $"User initiated ({(Now - ago).UtcDateTime:yyyy-MM-dd HH:mm:ss} GMT)";
}
