using System.Text.Json;
using AutoMirror.Core;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Functions.Tests;

/// <summary>States and outcomes are enums in code and the contract's strings on the wire, in JSON and in tags alike.</summary>
public sealed class WireNameTests
{
    [Fact]
    public void Enums_SerializeAsTheContractsStrings_AndTheTagsUseTheSameSpelling()
    {
        Assert.Equal("\"attach\"", JsonSerializer.Serialize(AttachDecision.Attach, AutoMirrorJsonContext.Default.Options));
        Assert.Equal("\"session-limit\"", JsonSerializer.Serialize(InstanceOutcomeKind.SessionLimit, AutoMirrorJsonContext.Default.Options));
        Assert.Equal("\"attach-started\"", JsonSerializer.Serialize(EventAction.AttachStarted, AutoMirrorJsonContext.Default.Options));
        Assert.Equal("\"unsupported-instance-type\"", JsonSerializer.Serialize(MirrorStatus.UnsupportedInstanceType, AutoMirrorJsonContext.Default.Options));
        Assert.All(Enum.GetValues<MirrorStatus>(), s =>
            Assert.Equal(JsonSerializer.Serialize(s, AutoMirrorJsonContext.Default.Options), "\"" + s.ToWireName() + "\""));
    }

    [Fact]
    public void APlan_RoundTripsItsDecisionByName()
    {
        var plan = new AttachPlan("i-0abc", AttachDecision.Detach, "not-tagged", [], []);

        var json = JsonSerializer.Serialize(plan, AutoMirrorJsonContext.Default.AttachPlan);

        Assert.Contains("\"decision\":\"detach\"", json, StringComparison.Ordinal);
        Assert.Equal(AttachDecision.Detach, JsonSerializer.Deserialize(json, AutoMirrorJsonContext.Default.AttachPlan)!.Decision);
    }
}
