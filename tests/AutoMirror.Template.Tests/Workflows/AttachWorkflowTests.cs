using AutoMirror.Core.Configuration;
using AutoMirror.Core.Ownership;
using System.Text.Json.Nodes;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Mirroring;
using AutoMirror.Template.Tests.CrossCheck;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// statemachine/attach.asl.json, unchanged, behind the local Step Functions endpoint (aws-local-stepfunctions); its
/// tasks are the real handlers in the local Lambda host, working against the local cloud. Each test launches its own
/// source instance and reads what happened from the execution's history, as one would on AWS.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AttachWorkflowTests(WorkflowLab lab) : IClassFixture<WorkflowLab>
{
    [Fact]
    public async Task HealthyTarget_CreatesOneManagedSessionPerInterface()
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "healthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 2);

        var run = await lab.RunAttachAsync(instance);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(1, run.Entered("CheckTargetHealth"));
        Assert.Equal(0, run.Entered("WaitForHealthySensor"));
        var sessions = await lab.SessionsOnAsync(interfaces);
        Assert.Equal(interfaces.Order(), sessions.Select(s => s.NetworkInterfaceId).Order());
        Assert.All(sessions, s =>
        {
            Assert.Equal(lab.TargetId, s.TrafficMirrorTargetId);
            Assert.Equal("true", s.Tags[SessionTags.Managed]);
            Assert.Equal(instance, s.Tags[SessionTags.InstanceId]);
        });
        Assert.Equal("mirrored", (string?)run.Output?["verified"]?["status"]);
    }

    [Fact]
    public async Task UnhealthyForTwoPolls_WaitsBetweenPolls_ThenCreatesTheSessions()
    {
        await lab.Cloud.SetTargetHealthAsync(lab.TargetGroupArn, unhealthyCalls: 2);
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 1);

        var run = await lab.RunAttachAsync(instance, pollSeconds: 1, maxAttempts: 5);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(3, run.Entered("CheckTargetHealth"));
        Assert.Equal(2, run.Entered("WaitForHealthySensor"));
        // Nothing is created before the gate opens: CreateSessions comes after the last poll.
        Assert.True(run.States.ToList().IndexOf("CreateSessions") > run.States.ToList().LastIndexOf("CheckTargetHealth"));
        Assert.Single(await lab.SessionsOnAsync(interfaces));
    }

    [Fact]
    public async Task NeverHealthy_FailsAfterTheBound_WithNothingLeftBehind()
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "unhealthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 2);
        await lab.Cloud.ResetCallCountsAsync();

        var run = await lab.RunAttachAsync(instance, pollSeconds: 1, maxAttempts: 3);

        Assert.Equal("FAILED", run.Status);
        Assert.Equal("SensorTargetUnhealthy", run.Error);
        Assert.Equal(3, run.Entered("CheckTargetHealth"));
        Assert.Equal(0, run.Entered("CreateSessions"));
        Assert.Empty(await lab.SessionsOnAsync(interfaces));
        var calls = await lab.Cloud.GetCallCountsAsync();
        Assert.Equal(3, calls.For("elasticloadbalancing", "DescribeTargetHealth"));
        Assert.Equal(0, calls.For("ec2", "CreateTrafficMirrorSession"));
    }

    [Fact]
    public async Task ThrottledCreate_IsRetriedByTheWorkflow_ToOneSessionPerInterface()
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "healthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 2);
        await lab.Cloud.ResetCallCountsAsync();
        // Five throttles use up the client's five attempts, so the handler fails with ThrottledException and the
        // workflow's Retry (backoff + jitter) takes over.
        await lab.Cloud.ScriptErrorsAsync("CreateTrafficMirrorSession", Enumerable.Repeat("RequestLimitExceeded", 5));

        var run = await lab.RunAttachAsync(instance);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        var failure = Assert.Single(run.EventsOf("LambdaFunctionFailed", "CreateSessions"));
        Assert.Equal("ThrottledException", (string?)failure["lambdaFunctionFailedEventDetails"]?["error"]);
        Assert.Equal(1, run.Retries("CreateSessions"));
        Assert.Equal(0, run.Entered("Cleanup"));
        // Retried creates reuse their ClientTokens: still exactly one session per interface.
        var sessions = await lab.SessionsOnAsync(interfaces);
        Assert.Equal(interfaces.Order(), sessions.Select(s => s.NetworkInterfaceId).Order());
        var calls = await lab.Cloud.GetCallCountsAsync();
        Assert.Equal(5, calls.Throttled["ec2"]["CreateTrafficMirrorSession"]);
    }

    [Fact]
    public async Task TransientLambdaServiceException_IsRetriedWithBackoff_AndTheSessionsAreMade()
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "healthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 1);
        // Lambda's service failed the invoke: the function never ran; the state sees Lambda.ServiceException.
        lab.LambdaFaults.Fail(lab.Stack.FunctionName("CreateSessionsFunction"), "Lambda.ServiceException");

        var run = await lab.RunAttachAsync(instance);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        var failure = Assert.Single(run.EventsOf("LambdaFunctionFailed", "CreateSessions"));
        Assert.Equal("Lambda.ServiceException", (string?)failure["lambdaFunctionFailedEventDetails"]?["error"]);
        Assert.Equal(1, run.Retries("CreateSessions"));
        Assert.Equal(0, run.Entered("Cleanup"));
        Assert.Single(await lab.SessionsOnAsync(interfaces));
    }

    [Fact]
    public async Task NumberTakenDuringTheHealthWait_IsAConflict_VerifyDescribesAndNeverGoesAheadOfIt()
    {
        // The sensor is unhealthy for the first poll: Evaluate has planned the last session number (32766) on both
        // interfaces by then, without describing them (create-first). While the workflow waits, another tool takes
        // 32766 on the second interface, so that create is refused; CreateSessions leaves it to Verify, which
        // describes the interfaces only then. Every number AutoMirror could take there would be evaluated ahead of the
        // other tool's session (lower numbers go first), so it takes none and says session-limit, instead of taking
        // the other tool's traffic. (Until create-first, this refusal failed the execution and Cleanup deleted the
        // half-made session; Cleanup itself: HandlerTests, CreateFirstAttachTests.)
        await lab.Cloud.SetTargetHealthAsync(lab.TargetGroupArn, unhealthyCalls: 1);
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 2);
        await lab.Cloud.ResetCallCountsAsync();

        var running = lab.RunAttachAsync(instance, pollSeconds: 3, maxAttempts: 5);
        await WaitUntilAsync(async () => (await lab.Cloud.GetCallCountsAsync()).For("elasticloadbalancing", "DescribeTargetHealth") >= 1, running);
        var foreign = await lab.Aws.Ec2.CreateTrafficMirrorSessionAsync(
            new CreateTrafficMirrorSessionRequest(interfaces[1], lab.TargetId, lab.FilterId, AutoMirrorSettings.MaxSessionNumber, null, null,
                "foreign-" + instance, new Dictionary<string, string> { ["owner"] = "someone-else" }),
            CancellationToken.None);
        var run = await running;

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(0, run.Entered("Cleanup"));
        Assert.Equal("session-limit", (string?)run.Output?["verified"]?["status"]);
        // Evaluate read the instance once and no session; Verify described because of the conflict.
        var calls = await lab.Cloud.GetCallCountsAsync();
        Assert.Equal(2, calls.For("ec2", "DescribeInstances"));
        Assert.True(calls.For("ec2", "DescribeTrafficMirrorSessions") >= 1);
        var left = await lab.SessionsOnAsync(interfaces);
        Assert.Contains(left, s => s.TrafficMirrorSessionId == foreign.TrafficMirrorSessionId && s.SessionNumber == AutoMirrorSettings.MaxSessionNumber);
        var ours = Assert.Single(left, s => s.Tags.ContainsKey(SessionTags.Managed));
        Assert.Equal(interfaces[0], ours.NetworkInterfaceId);
        Assert.Equal(AutoMirrorSettings.MaxSessionNumber, ours.SessionNumber);
    }

    [Fact]
    public async Task SameEventTwice_StartsOneExecution()
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "healthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 1);
        var running = FunctionScenarios.Fixture("ec2-state-running.json", instance);
        var eventId = (string)JsonNode.Parse(running)!["id"]!;

        var first = JsonNode.Parse(await lab.InvokeFunctionAsync("EventFunction", running))!;
        var second = JsonNode.Parse(await lab.InvokeFunctionAsync("EventFunction", running))!;

        Assert.Equal("attach-started", (string?)first["action"]);
        Assert.Equal("attach-started", (string?)second["action"]);
        // Both StartExecution calls reached the local Step Functions endpoint with the same name: one execution.
        var executions = (await lab.ExecutionsAsync()).Where(e => ((string)e["name"]!).Contains(eventId, StringComparison.Ordinal)).ToList();
        var execution = Assert.Single(executions);
        Assert.Equal("evt-" + eventId, (string?)execution["name"]);
        // And it is a real execution of the workflow: it attaches the instance (and ends before the next test counts calls).
        var run = await lab.StepFunctions.WaitAsync((string)execution["executionArn"]!);
        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Single(await lab.SessionsOnAsync(interfaces));
        // The event's id is the attach's correlation id, in the workflow's output as in every step's log lines.
        Assert.Equal(eventId, (string?)run.Output?["verified"]?["correlationId"]);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Task running)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.False(running.IsCompleted, "the workflow finished before the condition held");
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the workflow");
            await Task.Delay(50);
        }
    }
}
