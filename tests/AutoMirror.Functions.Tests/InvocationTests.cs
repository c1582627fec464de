using System.Diagnostics;
using System.Text.Json.Nodes;
using AutoMirror.Aws;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

/// <summary>What every handler does around its Core call: the function's deadline and the attach's correlation id.</summary>
public sealed class InvocationTests
{
    [Fact]
    public async Task AStep_WhenAnAwsCallOutlivesTheFunctionsTimeout_FailsAsTransientServiceExceptionBeforeTheTimeout()
    {
        // A 2 s function keeps a 1 s margin: the slow call is cut after about 1 s, as the error the workflow retries.
        var world = new TestWorld(name => name == "FUNCTION_TIMEOUT_SECONDS" ? "2" : null);
        world.LoadBalancing.Latency = TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TransientServiceException>(() => TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, "{}"));

        Assert.Equal("FunctionDeadline", error.ErrorCode);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(1.9));
    }

    [Fact]
    public async Task AStep_WithoutAConfiguredTimeout_WaitsForTheCall()
    {
        var world = new TestWorld();
        world.LoadBalancing.Latency = TimeSpan.FromMilliseconds(200);

        var health = JsonNode.Parse(await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, "{}"))!;

        Assert.True((bool)health["healthy"]!);
    }

    [Fact]
    public async Task Attach_CarriesTheEventIdFromEvaluateToVerify_InEveryLogLineAndTheOutput()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, interfaces: 1);

        var plan = await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, $$"""{"instanceId":"{{id}}","trigger":"running","eventId":"evt-42"}""");
        await TestWorld.InvokeAsync(world.Steps.CheckTargetHealthAsync, plan);
        var created = await TestWorld.InvokeAsync(world.Steps.CreateSessionsAsync, plan);
        var verified = JsonNode.Parse(await TestWorld.InvokeAsync(world.Steps.VerifyAsync, "{\"plan\":" + plan + ",\"created\":" + created + "}"))!;

        Assert.Equal("evt-42", (string?)JsonNode.Parse(plan)!["correlationId"]);
        Assert.Equal("evt-42", (string?)verified["correlationId"]);
        Assert.Equal("mirrored", (string?)verified["status"]);
        Assert.NotEmpty(world.Log.CorrelationIds);
        Assert.All(world.Log.CorrelationIds, c => Assert.Equal("evt-42", c));
    }
}
