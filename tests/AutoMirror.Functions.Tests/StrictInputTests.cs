using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Tests.Fakes;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// Every field taken from an event, a workflow payload or a reconcile request is checked against AWS's formats and
/// bounds before any AWS call, and the error names the field.
/// </summary>
public class StrictInputTests
{
    public static TheoryData<string> BadInstanceIds => new()
    {
        "i-1",                                  // too short
        "i-0123456789abcdef",                   // 16 digits: neither 8 nor 17
        "i-0123456789ABCDEF0",                  // upper case
        "i-0123456789abcdefg",                  // not hex
        "x-0123456789abcdef0",
        "i-" + new string('a', 5000),           // any length used to be accepted
    };

    private static string StateEvent(string instanceId, string id = "7bf73129-1428-4cd3-a780-95db273d1602") => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["version"] = "0",
        ["id"] = id,
        ["detail-type"] = "EC2 Instance State-change Notification",
        ["source"] = "aws.ec2",
        ["time"] = "2026-01-01T00:00:00Z",
        ["resources"] = new[] { "arn:aws:ec2:us-east-1:123456789012:instance/" + instanceId },
        ["detail"] = new Dictionary<string, string> { ["instance-id"] = instanceId, ["state"] = "running" },
    });

    [Theory]
    [MemberData(nameof(BadInstanceIds))]
    public async Task StateEvent_WithAMalformedInstanceId_IsRejectedNamingTheField_WithNoAwsCall(string instanceId)
    {
        var world = new TestWorld();

        var result = JsonNode.Parse(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, StateEvent(instanceId)))!;

        Assert.Equal("rejected", result["action"]!.GetValue<string>());
        Assert.StartsWith("detail.instance-id must be an instance id", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
        Assert.Empty(world.StepFunctions.Executions);
    }

    [Theory]
    [InlineData("i-0123abcd")]
    [InlineData("i-0123456789abcdef0")]
    public void InstanceIds_OfBothAwsLengthsAreAccepted(string id) => Assert.True(InstanceIds.IsInstanceId(id));

    [Fact]
    public async Task Event_WithAnOverlongId_IsRejectedBeforeItBecomesAnExecutionName()
    {
        var world = new TestWorld();

        var result = JsonNode.Parse(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, StateEvent("i-0123456789abcdef0", new string('e', 300))))!;

        Assert.Equal("rejected", result["action"]!.GetValue<string>());
        Assert.StartsWith("id must be 1 to 128", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task TagEvent_WithATagKeyLongerThanEc2Allows_IsRejectedNamingTheField()
    {
        var world = new TestWorld();
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["version"] = "0",
            ["id"] = "t-1",
            ["detail-type"] = "Tag Change on Resource",
            ["source"] = "aws.tag",
            ["time"] = "2026-01-01T00:00:00Z",
            ["resources"] = new[] { "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0" },
            ["detail"] = new Dictionary<string, object>
            {
                ["changed-tag-keys"] = new[] { new string('k', 128) },
                ["service"] = "ec2",
                ["resource-type"] = "instance",
                ["tags"] = new Dictionary<string, string> { ["automirror"] = "true" },
            },
        });

        var result = JsonNode.Parse(await TestWorld.InvokeAsync(new EventHandler(world.Services).HandleAsync, payload))!;

        Assert.Equal("rejected", result["action"]!.GetValue<string>());
        Assert.Contains("detail.changed-tag-keys[] is 128 characters", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Theory]
    [InlineData("""{"instanceId":"i-1","trigger":"running","eventId":"e"}""", "instanceId must be an instance id")]
    [InlineData("""{"instanceId":"i-0123456789abcdef0","trigger":"whenever","eventId":"e"}""", "trigger must be one of running | tag | reconcile | manual")]
    [InlineData("""{"instanceId":"i-0123456789abcdef0","trigger":"tag","eventId":""}""", "eventId must be 1 to 128")]
    public async Task AttachInput_WithABadField_FailsNamingIt_WithNoAwsCall(string input, string problem)
    {
        var world = new TestWorld();

        var error = await Assert.ThrowsAsync<InvalidPayloadException>(() => TestWorld.InvokeAsync(world.Steps.EvaluateAsync, input));

        Assert.StartsWith(problem, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Theory]
    [InlineData("sessionNumber", "0", "plan.sessions[0].sessionNumber must be a session number from 1 to 32766")]
    [InlineData("sessionNumber", "32767", "plan.sessions[0].sessionNumber must be a session number from 1 to 32766")]
    [InlineData("virtualNetworkId", "16777216", "plan.sessions[0].virtualNetworkId must be a VXLAN network id")]
    [InlineData("networkInterfaceId", "\"eni-zz\"", "plan.sessions[0].networkInterfaceId must be a network interface id")]
    [InlineData("clientToken", "\"am1-0123456789012345678901234567890123456789012345678901234567890\"", "plan.sessions[0].clientToken must be 1 to 64")]
    public async Task Plan_WithAFieldOutsideAwsBounds_IsRefusedBeforeCreateSessionsCallsEc2(string field, string value, string problem)
    {
        var world = new TestWorld();
        var plan = JsonNode.Parse(File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "events", "attach-plan.json")))!;
        plan["sessions"]![0]![field] = JsonNode.Parse(value);

        var error = await Assert.ThrowsAsync<InvalidPayloadException>(() => TestWorld.InvokeAsync(world.Steps.CreateSessionsAsync, plan.ToJsonString()));

        Assert.StartsWith(problem, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task Verify_WithACreatedSessionIdThatIsNotOne_IsRefusedNamingIt()
    {
        var world = new TestWorld();
        var plan = File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "events", "attach-plan.json"));

        var error = await Assert.ThrowsAsync<InvalidPayloadException>(() =>
            TestWorld.InvokeAsync(world.Steps.VerifyAsync, "{\"plan\":" + plan + ",\"created\":{\"sessionIds\":[\"tms-0123456789abcdef0\",\"sess; drop\"]}}"));

        Assert.StartsWith("created.sessionIds[1] must be a traffic mirror session id", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public async Task ReconcileRequest_WithAMalformedId_IsRejectedNamingItsPosition_WithNoAwsCall()
    {
        var world = new TestWorld();

        var result = JsonNode.Parse(await TestWorld.InvokeAsync(new ReconcileHandler(world.Services).HandleAsync, """{"instanceIds":["i-0123456789abcdef0","i-12"]}"""))!;

        Assert.Equal("rejected", result["outcome"]!.GetValue<string>());
        Assert.StartsWith("instanceIds[1] must be an instance id", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, world.Ec2.TotalCalls);
    }

    [Fact]
    public void WorkflowPayload_AboveStepFunctions256KiB_IsNamedAndMeasuredInUtf8Bytes()
    {
        var fits = "\"" + new string('a', AwsInput.MaxWorkflowPayloadBytes - 2) + "\"";
        Assert.Null(AwsInput.WorkflowPayload("the input", fits));

        // 'é' is two bytes in UTF-8: the limit is on bytes, not characters.
        var tooLarge = "\"" + new string('é', (AwsInput.MaxWorkflowPayloadBytes / 2) + 1) + "\"";
        var problem = AwsInput.WorkflowPayload("the teardown input for lab red", tooLarge);
        Assert.StartsWith("the teardown input for lab red is 262148 bytes, above Step Functions' limit of 262144 bytes", problem, StringComparison.Ordinal);
        Assert.Equal(262148, Encoding.UTF8.GetByteCount(tooLarge));
    }

    [Fact]
    public void LabName_LongerThanATagValue_IsRefusedNamingTheField() =>
        Assert.StartsWith("lab is 257 characters, above EC2's tag limit of 256", AwsInput.LabName("lab", new string('l', 257)), StringComparison.Ordinal);
}
