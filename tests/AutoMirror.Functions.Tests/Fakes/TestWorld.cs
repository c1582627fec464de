using AutoMirror.Testing.Fakes;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Ownership;
using System.Text;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Tests.Fakes;

/// <summary>A fake account with AutoMirror's services wired to it, the way a function container wires the real ones.</summary>
public sealed class TestWorld
{
    public const string Target = "tmt-0000000000000000a";
    public const string Filter = "tmf-0000000000000000b";

    public TestWorld(Func<string, string?>? environment = null, int seed = 1)
    {
        Ec2 = new FakeEc2(seed);
        Settings = AutoMirrorSettings.FromVariables(name => environment?.Invoke(name) ?? Defaults(name));
        Services = new AutoMirrorServices(Settings, Ec2, LoadBalancing, StepFunctions, TimeProvider.System, Log, [TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero]);
        Steps = new AttachSteps(Services);
        // The Attach workflow, inline: Evaluate → (gate) → CreateSessions → Verify, Catch → Cleanup. A failed
        // execution is recorded, not thrown at the event's sender, as with Step Functions.
        StepFunctions.Runner = async input =>
        {
            try
            {
                await RunAttachWorkflowAsync(input);
            }
            catch (SessionVerificationException e)
            {
                FailedExecutions.Enqueue(e.Message);
            }
        };
    }

    public FakeEc2 Ec2 { get; }

    public FakeLoadBalancing LoadBalancing { get; } = new();

    public FakeStepFunctions StepFunctions { get; } = new();

    public RecordingLog Log { get; } = new();

    public System.Collections.Concurrent.ConcurrentQueue<string> FailedExecutions { get; } = new();

    public AutoMirrorSettings Settings { get; }

    public AutoMirrorServices Services { get; }

    public AttachSteps Steps { get; }

    public Reconciler Reconciler => Services.Reconciler;

    public static string? Defaults(string name) => name switch
    {
        "MIRROR_TARGET_ID" => Target,
        "MIRROR_FILTER_ID" => Filter,
        "SENSOR_TARGET_GROUP_ARN" => "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sensor/1",
        "ATTACH_STATE_MACHINE_ARN" => "arn:aws:states:us-east-1:123456789012:stateMachine:AutoMirrorAttach",
        _ => null,
    };

    public IReadOnlyList<Aws.Ec2.TrafficMirrorSession> OurSessions() =>
        Ec2.AllSessions().Where(s => SessionTags.IsOurs(s, Target)).ToList();

    public async Task RunAttachWorkflowAsync(string inputJson)
    {
        var plan = await InvokeAsync(Steps.EvaluateAsync, inputJson);
        if (!plan.Contains("\"decision\":\"attach\"", StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            var health = await InvokeAsync(Steps.CheckTargetHealthAsync, plan);
            if (!health.Contains("\"healthy\":true", StringComparison.Ordinal))
            {
                return;
            }

            var created = await InvokeAsync(Steps.CreateSessionsAsync, plan);
            await InvokeAsync(Steps.VerifyAsync, "{\"plan\":" + plan + ",\"created\":" + created + "}");
        }
        catch (SessionVerificationException e)
        {
            await InvokeAsync(Steps.CleanupAsync, "{\"plan\":" + plan + ",\"error\":{\"Error\":\"" + e.GetType().Name + "\"}}");
            throw;
        }
    }

    public static async Task<string> InvokeAsync(Func<Stream, Task<Stream>> handler, string payload)
    {
        ArgumentNullException.ThrowIfNull(handler);
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(payload));
        await using var output = await handler(input);
        using var reader = new StreamReader(output, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }
}
