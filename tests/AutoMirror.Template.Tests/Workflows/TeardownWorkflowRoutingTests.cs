using System.Text.Json.Nodes;
using AutoMirror.Aws.Ec2;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// statemachine/teardown.asl.json's routing, unchanged, behind the local Step Functions endpoint, over the real handlers: report touches nothing; detach deletes
/// the lab's AutoMirror sessions (Map) and then marks its running instances excluded, so the scheduled reconcile
/// does not attach them again. (The 50-instance throttled teardown lives with the teardown handlers' tests.)
/// </summary>
[Trait("Category", "Integration")]
public sealed class TeardownWorkflowRoutingTests(WorkflowLab lab) : IClassFixture<WorkflowLab>
{
    [Fact]
    public async Task Report_ListsTheLabsSessions_AndChangesNothing()
    {
        var (instance, interfaces) = await AttachedLabInstanceAsync("lab-report");

        var run = await lab.RunTeardownAsync("lab-report", "report");

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(["Configure", "ListLabSessions", "ReportOnly", "Report", "TeardownComplete", "TornDown"], run.States);
        Assert.Equal(interfaces.Count, (await lab.SessionsOnAsync(interfaces)).Count);
        Assert.Equal("lab-report", (string?)run.Output?["lab"]);
        Assert.False((await TagsOfAsync(instance)).ContainsKey("automirror:exclude"));
    }

    [Fact]
    public async Task Detach_DeletesEveryAutoMirrorSessionOfTheLab_ThenMarksItsInstancesExcluded()
    {
        var (instance, interfaces) = await AttachedLabInstanceAsync("lab-detach");
        var (other, otherInterfaces) = await AttachedLabInstanceAsync("lab-kept");

        var run = await lab.RunTeardownAsync("lab-detach", "detach", mapConcurrency: 1);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(interfaces.Count, run.Entered("DeleteSession"));
        Assert.True(run.States.ToList().IndexOf("InstanceAction") > run.States.ToList().LastIndexOf("DeleteSession"));
        Assert.Empty(await lab.SessionsOnAsync(interfaces));
        Assert.Equal("true", (await TagsOfAsync(instance))["automirror:exclude"]);
        Assert.Contains(instance, run.Output!["excludedInstanceIds"]!.AsArray().Select(i => (string?)i));
        // Another lab is not touched.
        Assert.Equal(otherInterfaces.Count, (await lab.SessionsOnAsync(otherInterfaces)).Count);
        Assert.False((await TagsOfAsync(other)).ContainsKey("automirror:exclude"));
    }

    [Fact]
    public async Task TransientLambdaServiceException_InTheMap_IsRetried_AndEverySessionIsDeleted()
    {
        var (_, interfaces) = await AttachedLabInstanceAsync("lab-transient");
        lab.LambdaFaults.Fail(lab.Stack.FunctionName("DeleteSessionFunction"), "Lambda.ServiceException");

        var run = await lab.RunTeardownAsync("lab-transient", "detach", mapConcurrency: 1);

        Assert.True(run.Status == "SUCCEEDED", run.Describe());
        Assert.Equal(1, run.Retries("DeleteSession"));
        Assert.Empty(await lab.SessionsOnAsync(interfaces));
        Assert.Empty(run.Output!["failures"]!.AsArray());
    }

    [Fact]
    public async Task DeleteThatKeepsFailing_EndsInTheReport_NamingWhatWasAndWasNotDeleted_AndTheExecutionFails()
    {
        var (instance, interfaces) = await AttachedLabInstanceAsync("lab-halfway");
        // The first delete is refused for good (not a retryable error); the second one works.
        await lab.Cloud.ScriptErrorsAsync("DeleteTrafficMirrorSession", ["UnauthorizedOperation"]);

        var run = await lab.RunTeardownAsync("lab-halfway", "detach", mapConcurrency: 1);

        Assert.Equal("FAILED", run.Status);
        Assert.Equal("TeardownIncomplete", run.Error);
        Assert.Equal(1, run.Entered("DeleteFailed"));
        // The other delete and the instance action still ran, and the report says exactly what is left.
        Assert.Equal(1, run.Entered("InstanceAction"));
        var report = ReportOf(run);
        var left = Assert.Single(await lab.SessionsOnAsync(interfaces));
        Assert.Equal([left.TrafficMirrorSessionId], report["notDeletedSessionIds"]!.AsArray().Select(s => (string?)s));
        var deleted = Assert.Single(report["deletedSessionIds"]!.AsArray());
        Assert.NotEqual(left.TrafficMirrorSessionId, (string?)deleted);
        var failure = (string)Assert.Single(report["failures"]!.AsArray())!;
        Assert.StartsWith(left.TrafficMirrorSessionId + ": ", failure, StringComparison.Ordinal);
        Assert.Contains("UnauthorizedOperation", failure, StringComparison.Ordinal);
        Assert.Equal(failure, run.Cause);
        Assert.Equal("true", (await TagsOfAsync(instance))["automirror:exclude"]);
    }

    [Fact]
    public async Task ListingThatFails_EndsInTheReport_SayingNothingWasDeleted_AndTheExecutionFails()
    {
        var (_, interfaces) = await AttachedLabInstanceAsync("lab-unlisted");
        await lab.Cloud.ScriptErrorsAsync("DescribeTrafficMirrorSessions", ["UnauthorizedOperation"]);

        var run = await lab.RunTeardownAsync("lab-unlisted", "detach");

        Assert.Equal("FAILED", run.Status);
        Assert.Equal("TeardownIncomplete", run.Error);
        Assert.Equal(["Configure", "ListLabSessions", "Report", "TeardownComplete", "TeardownIncomplete"], run.States);
        var report = ReportOf(run);
        Assert.Empty(report["deletedSessionIds"]!.AsArray());
        Assert.StartsWith("ListLabSessions: ", (string?)Assert.Single(report["failures"]!.AsArray()), StringComparison.Ordinal);
        Assert.Contains("nothing was deleted", report["notes"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(interfaces.Count, (await lab.SessionsOnAsync(interfaces)).Count);
    }

    /// <summary>The Report step's answer, from the history: a failed execution has no output of its own.</summary>
    private static JsonNode ReportOf(AutoMirror.Testing.WorkflowRun run)
    {
        var exited = Assert.Single(run.EventsOf("TaskStateExited", "Report"));
        return JsonNode.Parse((string)exited["stateExitedEventDetails"]!["output"]!)!;
    }

    private async Task<(string Instance, IReadOnlyList<string> Interfaces)> AttachedLabInstanceAsync(string labName)
    {
        await lab.Cloud.SetFixedTargetHealthAsync(lab.TargetGroupArn, "healthy");
        var (instance, interfaces) = await lab.LaunchSourceAsync(interfaces: 2, lab: labName);
        var attach = await lab.RunAttachAsync(instance);
        Assert.True(attach.Status == "SUCCEEDED", attach.Describe());
        Assert.Equal(2, (await lab.SessionsOnAsync(interfaces)).Count);
        return (instance, interfaces);
    }

    private async Task<IReadOnlyDictionary<string, string>> TagsOfAsync(string instanceId) =>
        (await lab.Aws.Ec2.DescribeInstancesAsync([instanceId], CancellationToken.None)).Single().Tags;
}
