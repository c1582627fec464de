using System.Text.Json;
using AutoMirror.Core.Logging;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

public class DecisionLogTests
{
    [Fact]
    public void Write_EmitsOneJsonLinePerDecisionWithStableKeys()
    {
        using var writer = new StringWriter();
        var log = new JsonLinesDecisionLog(writer, TimeProvider.System);

        log.Write(new Decision("create-session", "i-1", "planned") { EniId = "eni-1", SessionId = "tms-1", SessionNumber = 2, Vni = 7 });
        log.Write(new Decision("rejected", null, "detail.state \"x\"\nis bad") { Level = "error" });

        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("create-session", first.GetProperty("action").GetString());
        Assert.Equal("i-1", first.GetProperty("instanceId").GetString());
        Assert.Equal("eni-1", first.GetProperty("eniId").GetString());
        Assert.Equal("tms-1", first.GetProperty("sessionId").GetString());
        Assert.Equal("planned", first.GetProperty("reason").GetString());
        Assert.Equal(2, first.GetProperty("sessionNumber").GetInt32());
        Assert.Equal("detail.state \"x\"\nis bad", JsonDocument.Parse(lines[1]).RootElement.GetProperty("reason").GetString());
        Assert.Equal("error", JsonDocument.Parse(lines[1]).RootElement.GetProperty("level").GetString());
    }

    [Fact]
    public async Task Attach_LogsOneLinePerDecisionNotPerApiCall()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, interfaces: 2);

        await world.Reconciler.ReconcileInstanceAsync(id, "t", null, true, default);

        var actions = world.Log.Decisions.Select(d => d.Action).ToList();
        Assert.Equal(["plan-session", "plan-session", "create-session", "create-session", "verified"], actions);
        Assert.True(world.Ec2.TotalCalls > actions.Count);
    }
}
