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
        Assert.Equal(["Configure", "ListLabSessions", "ReportOnly", "Report"], run.States);
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
