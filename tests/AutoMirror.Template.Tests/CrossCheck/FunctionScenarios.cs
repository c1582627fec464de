using AutoMirror.Testing.Fakes;
using AutoMirror.Core.Composition;
using System.Collections.Concurrent;
using System.Text;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Testing;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

namespace AutoMirror.Template.Tests.CrossCheck;

/// <summary>
/// Runs each function's handler the way Lambda would: built from the environment the template gives that function
/// (resolved to plausible values), over the control engineer's fake account, with every port call recorded. The
/// scenarios walk each handler's branches (attach and detach, created and already there, failures).
/// </summary>
public sealed class FunctionScenarios
{
    private readonly SamTemplate _template;

    public FunctionScenarios(SamTemplate template) => _template = template;

    public static readonly IReadOnlyDictionary<string, Func<World, Task>> Scenarios = new Dictionary<string, Func<World, Task>>
    {
        ["EventFunction"] = EventScenarios,
        ["ReconcileFunction"] = ReconcileScenarios,
        ["EvaluateFunction"] = EvaluateScenarios,
        ["TargetHealthFunction"] = TargetHealthScenarios,
        ["CreateSessionsFunction"] = CreateSessionsScenarios,
        ["VerifyFunction"] = VerifyScenarios,
        ["CleanupFunction"] = CleanupScenarios,
    };

    /// <summary>The teardown functions run over the teardown engineer's world (labs, CloudWatch series).</summary>
    public static readonly IReadOnlyDictionary<string, Func<TeardownScenarios.World, Task>> TeardownFunctionScenarios =
        new Dictionary<string, Func<TeardownScenarios.World, Task>>
        {
            ["IdleLabsFunction"] = TeardownScenarios.IdleLabs,
            ["ListLabSessionsFunction"] = TeardownScenarios.ListLabSessions,
            ["DeleteSessionFunction"] = TeardownScenarios.DeleteSession,
            ["InstanceActionFunction"] = TeardownScenarios.InstanceAction,
            ["TeardownReportFunction"] = TeardownScenarios.Report,
            ["StackCleanupFunction"] = TeardownScenarios.StackCleanup,
        };

    /// <summary>
    /// What the template's stack settles for a scenario that needs a stack-level choice: terminate exists only in a
    /// stack deployed with AllowTerminate=true (and then the role's conditional grant exists too).
    /// </summary>
    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> StackChoices =
        new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["InstanceActionFunction"] = new Dictionary<string, string> { ["ALLOW_TERMINATE"] = "true" },
            // The zone-local gate (and its conditional DescribeInstances grant) exists with ZoneLocalDelivery=true.
            ["TargetHealthFunction"] = new Dictionary<string, string> { ["ZONE_LOCAL_DELIVERY"] = "true" },
            ["ReconcileFunction"] = new Dictionary<string, string> { ["ZONE_LOCAL_DELIVERY"] = "true" },
        };

    public static IEnumerable<string> FunctionsWithScenarios => Scenarios.Keys.Concat(TeardownFunctionScenarios.Keys);

    /// <summary>The settings the function would read in Lambda: its template environment, resolved.</summary>
    public AutoMirrorSettings SettingsFor(string functionId)
    {
        var environment = _template.Environment(functionId).ToDictionary(p => p.Key, p => TemplateValues.Resolve(_template, p.Value));
        foreach (var (name, value) in StackChoices.GetValueOrDefault(functionId) ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        return AutoMirrorSettings.FromVariables(name => environment.GetValueOrDefault(name));
    }

    /// <summary>Runs the function's scenarios and returns the IAM actions its code called.</summary>
    public async Task<IReadOnlySet<string>> RecordAsync(string functionId)
    {
        if (TeardownFunctionScenarios.TryGetValue(functionId, out var teardown))
        {
            var labs = new TeardownScenarios.World(SettingsFor(functionId));
            await teardown(labs);
            return labs.Calls.ToHashSet(StringComparer.Ordinal);
        }

        var world = new World(SettingsFor(functionId));
        await Scenarios[functionId](world);
        return world.Calls.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Invokes the function's handler, named as in the template, on <paramref name="payload"/> over a fresh fake world:
    /// the handler type is built with the constructor that takes its services, as the runtime constructor would.
    /// </summary>
    public async Task<string> InvokeHandlerAsync(string functionId, string payload)
    {
        var parts = _template.Handler(functionId).Split("::");
        var type = typeof(AutoMirror.Functions.Handlers.AttachSteps).Assembly.GetType(parts[1], throwOnError: true)!;
        object handler;
        if (TeardownFunctionScenarios.ContainsKey(functionId))
        {
            var labs = new TeardownScenarios.World(SettingsFor(functionId));
            handler = Activator.CreateInstance(type, labs.Service, labs.Log, (TimeSpan?)null)!;
        }
        else
        {
            handler = Activator.CreateInstance(type, new World(SettingsFor(functionId)).Recorded)!;
        }

        var method = type.GetMethod(parts[2], [typeof(Stream)])!;
        try
        {
            return await InvokeAsync(input => (Task<Stream>)method.Invoke(handler, [input])!, payload);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    /// <summary>A fake account seen two ways: through recording proxies (the function under test) and directly (to
    /// set the scene without the function's grants counting).</summary>
    public sealed class World
    {
        public World(AutoMirrorSettings settings)
        {
            Settings = settings;
            Recorded = new AutoMirrorServices(
                settings,
                RecordingProxy<IEc2Client>.Wrap(Ec2, Calls),
                RecordingProxy<ILoadBalancingClient>.Wrap(LoadBalancing, Calls),
                RecordingProxy<IStepFunctionsClient>.Wrap(StepFunctions, Calls),
                TimeProvider.System,
                new RecordingLog(),
                [TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero]);
            Unrecorded = new AutoMirrorServices(settings, Ec2, LoadBalancing, StepFunctions, TimeProvider.System, new RecordingLog(), [TimeSpan.Zero]);
        }

        public AutoMirrorSettings Settings { get; }

        public ConcurrentBag<string> Calls { get; } = [];

        public FakeEc2 Ec2 { get; } = new();

        public FakeLoadBalancing LoadBalancing { get; } = new();

        public FakeStepFunctions StepFunctions { get; } = new();

        public AutoMirrorServices Recorded { get; }

        public AutoMirrorServices Unrecorded { get; }

        public string LaunchTagged(int interfaces = 1) =>
            Ec2.Launch(new Dictionary<string, string> { [Settings.MirrorTagKey] = "true", [Settings.LabTagKey] = "lab-a" }, interfaces: interfaces);

        /// <summary>Attach an instance the way the workflow does (status tag included), without recording.</summary>
        public async Task<(string Plan, string Created)> AttachAsync(string instanceId)
        {
            var steps = new AttachSteps(Unrecorded);
            var plan = await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{instanceId}}","trigger":"manual","eventId":"setup"}""");
            var created = await InvokeAsync(steps.CreateSessionsAsync, plan);
            await InvokeAsync(steps.VerifyAsync, $$$"""{"plan":{{{plan}}},"created":{{{created}}}}""");
            // The container's status batch goes out as it would within its delay.
            await Unrecorded.Reconciler.StatusBatch.FlushAsync(CancellationToken.None);
            return (plan, created);
        }

        public async Task<string> PlanAsync(string instanceId) =>
            await InvokeAsync(new AttachSteps(Unrecorded).EvaluateAsync, $$"""{"instanceId":"{{instanceId}}","trigger":"manual","eventId":"setup"}""");
    }

    public static async Task<string> InvokeAsync(Func<Stream, Task<Stream>> handler, string payload)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(payload));
        await using var output = await handler(input);
        using var reader = new StreamReader(output, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    /// <summary>An events/ fixture (owned by the Functions' tests) about another instance.</summary>
    public static string Fixture(string file, string instanceId) =>
        File.ReadAllText(Path.Combine(RepositoryRoot.Path, "events", file)).Replace("i-1234567890abcdef0", instanceId, StringComparison.Ordinal);

    private static async Task<string> Swallow(Func<Task<string>> call)
    {
        // A scenario may drive a handler into a typed failure (its calls still count); anything else is a bug here.
        try
        {
            return await call();
        }
        catch (Exception e) when (e is InstanceNotFoundException or SessionVerificationException)
        {
            return e.GetType().Name;
        }
    }

    private static async Task EventScenarios(World world)
    {
        var handler = new EventHandler(world.Recorded);
        var started = world.LaunchTagged();
        await InvokeAsync(handler.HandleAsync, Fixture("ec2-state-running.json", started));
        await InvokeAsync(handler.HandleAsync, Fixture("tag-change-v3-mirror-added.json", started));

        var untagged = world.LaunchTagged(interfaces: 2);
        await world.AttachAsync(untagged);
        world.Ec2.RemoveTag(untagged, world.Settings.MirrorTagKey);
        await InvokeAsync(handler.HandleAsync, Fixture("tag-change-v3-mirror-removed.json", untagged));

        var stopped = world.LaunchTagged();
        await world.AttachAsync(stopped);
        world.Ec2.SetState(stopped, "stopped");
        await InvokeAsync(handler.HandleAsync, Fixture("ec2-state-stopped.json", stopped));

        var excluded = world.LaunchTagged();
        await world.AttachAsync(excluded);
        world.Ec2.SetTag(excluded, world.Settings.ExcludeTagKey, "true");
        await InvokeAsync(handler.HandleAsync, Fixture("tag-change-v4-excluded.json", excluded));

        var terminated = world.LaunchTagged();
        await world.AttachAsync(terminated);
        world.Ec2.SetState(terminated, "terminated");
        await InvokeAsync(handler.HandleAsync, Fixture("ec2-state-terminated.json", terminated));

        // A stop event that arrives after the instance was started again: it still qualifies, so its type is checked.
        var restarted = world.LaunchTagged();
        await world.AttachAsync(restarted);
        await InvokeAsync(handler.HandleAsync, Fixture("ec2-state-stopped.json", restarted));
    }

    // A sensor instance's id in AWS's format (i- and 17 hex digits): the zone-local gate describes only real ids.
    private const string SensorId = "i-05e05000000000001";

    private static async Task ReconcileScenarios(World world)
    {
        var handler = new ReconcileHandler(world.Recorded);
        // The zone-local gate (ZONE_LOCAL_DELIVERY for this function) finds a healthy sensor in the sources' zone.
        var sensor = world.Ec2.AddInstance(SensorId, "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a").InstanceId;
        world.LoadBalancing.Targets.Add(new(sensor, 4789, "healthy", null, null));
        world.LaunchTagged(interfaces: 2);
        var untagged = world.LaunchTagged();
        await world.AttachAsync(untagged);
        world.Ec2.RemoveTag(untagged, world.Settings.MirrorTagKey);
        var stopped = world.LaunchTagged();
        await world.AttachAsync(stopped);
        world.Ec2.SetState(stopped, "stopped");
        world.Ec2.Launch(new Dictionary<string, string> { [world.Settings.MirrorTagKey] = "true" }, instanceType: "t2.micro");

        await InvokeAsync(handler.HandleAsync, """{"all":true}""");
        await InvokeAsync(handler.HandleAsync, Fixture("scheduled-reconcile.json", "i-0"));
        await InvokeAsync(handler.HandleAsync, $$"""{"instanceIds":["{{untagged}}"]}""");
    }

    private static async Task EvaluateScenarios(World world)
    {
        var steps = new AttachSteps(world.Recorded);
        var tagged = world.LaunchTagged(interfaces: 2);
        await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{tagged}}","trigger":"tag","eventId":"e1"}""");
        await world.AttachAsync(tagged);
        await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{tagged}}","trigger":"tag","eventId":"e2"}""");
        var untagged = world.Ec2.Launch(new Dictionary<string, string>());
        await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{untagged}}","trigger":"tag","eventId":"e3"}""");
        var wasMirrored = world.LaunchTagged();
        await world.AttachAsync(wasMirrored);
        world.Ec2.RemoveTag(wasMirrored, world.Settings.MirrorTagKey);
        await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{wasMirrored}}","trigger":"tag","eventId":"e6"}""");
        var unsupported = world.Ec2.Launch(new Dictionary<string, string> { [world.Settings.MirrorTagKey] = "true" }, instanceType: "t2.micro");
        await InvokeAsync(steps.EvaluateAsync, $$"""{"instanceId":"{{unsupported}}","trigger":"tag","eventId":"e4"}""");
        await Swallow(() => InvokeAsync(steps.EvaluateAsync, """{"instanceId":"i-00000000000000404","trigger":"tag","eventId":"e5"}"""));
    }

    private static async Task TargetHealthScenarios(World world)
    {
        var steps = new AttachSteps(world.Recorded);
        var plan = await world.PlanAsync(world.LaunchTagged());
        await InvokeAsync(steps.CheckTargetHealthAsync, plan);
        // Zone-local (ZONE_LOCAL_DELIVERY for this function): an instance target carries no zone in DescribeTargetHealth,
        // so the gate describes the sensor to learn it.
        world.Ec2.AddInstance(SensorId, "running", new Dictionary<string, string>(), availabilityZone: "us-east-1a");
        world.LoadBalancing.Targets.Add(new(SensorId, 4789, "healthy", null, null));
        await InvokeAsync(steps.CheckTargetHealthAsync, plan);
        world.LoadBalancing.Targets.Clear();
        await InvokeAsync(steps.CheckTargetHealthAsync, plan);
    }

    private static async Task CreateSessionsScenarios(World world)
    {
        var steps = new AttachSteps(world.Recorded);
        var plan = await world.PlanAsync(world.LaunchTagged(interfaces: 2));
        await InvokeAsync(steps.CreateSessionsAsync, plan);
        // The same plan again: ClientToken makes it a no-op.
        await InvokeAsync(steps.CreateSessionsAsync, plan);
        var refused = world.Ec2.Launch(new Dictionary<string, string> { [world.Settings.MirrorTagKey] = "true" }, instanceType: "m5.xlarge");
        world.Ec2.RefusedTypes.Add("m5.xlarge");
        await InvokeAsync(steps.CreateSessionsAsync, await world.PlanAsync(refused));
    }

    private static async Task VerifyScenarios(World world)
    {
        var steps = new AttachSteps(world.Recorded);
        // Every interface's create met a conflict, so CreateSessions left it to Verify: Verify's describing path.
        // (When every create was answered, Verify makes no call: CreateFirstAttachTests.)
        const string created = """{"sessionIds":[],"sessions":[]}""";
        var instance = world.LaunchTagged(interfaces: 2);
        var plan = await world.PlanAsync(instance);
        await InvokeAsync(new AttachSteps(world.Unrecorded).CreateSessionsAsync, plan);
        await InvokeAsync(steps.VerifyAsync, $$"""{"plan":{{plan}},"created":{{created}}}""");
        foreach (var session in world.Ec2.AllSessions())
        {
            await world.Ec2.DeleteTrafficMirrorSessionAsync(session.TrafficMirrorSessionId, CancellationToken.None);
        }

        await Swallow(() => InvokeAsync(steps.VerifyAsync, $$"""{"plan":{{plan}},"created":{{created}}}"""));

        // A racing create left a second AutoMirror session on an interface: Verify keeps one.
        var raced = world.LaunchTagged();
        var (racedPlan, _) = await world.AttachAsync(raced);
        var eni = world.Ec2.InterfacesOf(raced)[0];
        var ours = world.Ec2.AllSessions().First(s => s.NetworkInterfaceId == eni);
        world.Ec2.AddForeignSession(eni, ours.TrafficMirrorTargetId, ours.SessionNumber - 1, ours.Tags);
        await InvokeAsync(steps.VerifyAsync, $$$"""{"plan":{{{racedPlan}}},"created":{{{created}}}}""");

        // Untagged between Evaluate and Verify: its sessions go and its status changes.
        var untagged = world.LaunchTagged();
        var (untaggedPlan, _) = await world.AttachAsync(untagged);
        world.Ec2.RemoveTag(untagged, world.Settings.MirrorTagKey);
        await InvokeAsync(steps.VerifyAsync, $$$"""{"plan":{{{untaggedPlan}}},"created":{{{created}}}}""");
    }

    private static async Task CleanupScenarios(World world)
    {
        var steps = new AttachSteps(world.Recorded);
        var instance = world.LaunchTagged(interfaces: 2);
        var (plan, _) = await world.AttachAsync(instance);
        await InvokeAsync(steps.CleanupAsync, $$$"""{"plan":{{{plan}}},"error":{"Error":"SessionVerificationException","Cause":"missing"}}""");
        // Nothing left to delete: still a clean answer.
        await InvokeAsync(steps.CleanupAsync, $$$"""{"plan":{{{plan}}},"error":{"Error":"States.Timeout","Cause":"late"}}""");
    }
}
