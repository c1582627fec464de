using AutoMirror.Testing.Fakes;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AutoMirror.Aws;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Teardown;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.Teardown;

/// <summary>
/// The stack's custom resource (StackCleanup): on Delete it removes AutoMirror's own sessions to the stack's target so
/// CloudFormation can delete the target and filter, never a session it did not create, and it always answers the
/// ResponseURL, FAILED with the reason when it could not finish.
/// </summary>
public sealed class StackCleanupHandlerTests
{
    private readonly FakeEc2 _ec2 = new();
    private readonly StringWriter _log = new();

    private StackCleanupHandler Handler() => new(
        new TeardownService(_ec2, new FakeCloudWatch(), new FakeStepFunctions(), TimeProvider.System,
            new TeardownSettings { MirrorTargetId = "tmt-ours", AccountId = "123456789012", StateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:t" }),
        new TeardownLog(_log, TimeProvider.System));

    private static Dictionary<string, string> Ours(string instanceId) =>
        new() { ["automirror:managed"] = "true", ["automirror:instance-id"] = instanceId };

    private static string Request(string requestType, Uri responseUrl) => new JsonObject
    {
        ["RequestType"] = requestType,
        ["ResponseURL"] = responseUrl.ToString(),
        ["StackId"] = "arn:aws:cloudformation:us-east-1:123456789012:stack/automirror/1",
        ["RequestId"] = "req-" + requestType,
        ["LogicalResourceId"] = "StackCleanup",
        ["PhysicalResourceId"] = "StackCleanup-automirror-cleanup",
        ["ResourceType"] = "Custom::AutoMirrorSessionCleanup",
        ["ResourceProperties"] = new JsonObject(),
    }.ToJsonString();

    private static async Task InvokeAsync(StackCleanupHandler handler, string payload)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(payload));
        await handler.HandleAsync(input);
    }

    [Fact]
    public async Task Delete_RemovesOnlyAutoMirrorSessionsToTheStacksTarget_AndAnswersSuccess()
    {
        _ec2.AddSession("tms-ours-1", "eni-1", "tmt-ours", Ours("i-1"));
        _ec2.AddSession("tms-ours-2", "eni-2", "tmt-ours", Ours("i-2"));
        _ec2.AddSession("tms-user", "eni-1", "tmt-ours", new Dictionary<string, string> { ["team"] = "secops" });
        _ec2.AddSession("tms-other-stack", "eni-3", "tmt-other", Ours("i-3"));
        // A source account's session to our target shared through AWS RAM: listed to us, but its account's to delete.
        _ec2.AddSession("tms-source-account", "eni-4", "tmt-ours", Ours("i-4"), ownerId: "210987654321");
        using var catcher = ResponseUrlCatcher.Start();

        await InvokeAsync(Handler(), Request("Delete", catcher.Url));

        Assert.Equal(["tms-other-stack", "tms-source-account", "tms-user"], _ec2.AllSessions().Select(s => s.TrafficMirrorSessionId).Order());
        var response = JsonNode.Parse(Assert.Single(catcher.Bodies))!;
        Assert.Equal("SUCCESS", (string?)response["Status"]);
        Assert.Equal(2, (int?)response["Data"]!["Deleted"]);
        Assert.Equal("StackCleanup-automirror-cleanup", (string?)response["PhysicalResourceId"]);
        Assert.Equal("req-Delete", (string?)response["RequestId"]);
        Assert.Contains("\"sessionIds\":[\"tms-ours-1\",\"tms-ours-2\"]", _log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ChangesNothing_AndAnswersSuccess()
    {
        _ec2.AddSession("tms-ours-1", "eni-1", "tmt-ours", Ours("i-1"));
        using var catcher = ResponseUrlCatcher.Start();

        await InvokeAsync(Handler(), Request("Create", catcher.Url));

        Assert.Single(_ec2.AllSessions());
        Assert.Equal(0, _ec2.TotalCalls);
        Assert.Equal("SUCCESS", (string?)JsonNode.Parse(Assert.Single(catcher.Bodies))!["Status"]);
    }

    [Fact]
    public async Task Delete_ThatFails_AnswersFailedWithTheReason_InsteadOfLeavingTheStackWaiting()
    {
        _ec2.AddSession("tms-ours-1", "eni-1", "tmt-ours", Ours("i-1"));
        _ec2.FailDeletesWith = new AwsServiceException("UnauthorizedOperation", "not allowed", null, HttpStatusCode.Forbidden);
        using var catcher = ResponseUrlCatcher.Start();

        await InvokeAsync(Handler(), Request("Delete", catcher.Url));

        var response = JsonNode.Parse(Assert.Single(catcher.Bodies))!;
        Assert.Equal("FAILED", (string?)response["Status"]);
        Assert.Contains("UnauthorizedOperation", (string?)response["Reason"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WithoutResponseUrl_IsRefusedWithTheFieldsName()
    {
        var payload = JsonNode.Parse(Request("Delete", new Uri("http://127.0.0.1:9/")))!.AsObject();
        payload.Remove("ResponseURL");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => InvokeAsync(Handler(), payload.ToJsonString()));
        Assert.Contains("ResponseURL", error.Message, StringComparison.Ordinal);
    }
}
