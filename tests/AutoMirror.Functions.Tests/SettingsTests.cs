using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

public class SettingsTests
{
    private static AutoMirrorSettings With(string name, string value) =>
        AutoMirrorSettings.FromVariables(n => n == name ? value : TestWorld.Defaults(n));

    [Fact]
    public void FromVariables_WithOnlyRequired_UsesContractDefaults()
    {
        var settings = AutoMirrorSettings.FromVariables(TestWorld.Defaults);

        Assert.Equal("automirror", settings.MirrorTagKey);
        Assert.Contains("TRUE", (IReadOnlySet<string>)settings.MirrorTagValues);
        Assert.Equal("automirror:exclude", settings.ExcludeTagKey);
        Assert.Equal("lab", settings.LabTagKey);
        Assert.Null(settings.PacketLength);
        Assert.Null(settings.PreferredSessionNumber);
        Assert.True(settings.StatusTag);
        Assert.Empty(settings.VpcIds);
    }

    [Theory]
    [InlineData("MIRROR_TARGET_ID")]
    [InlineData("MIRROR_FILTER_ID")]
    public void FromVariables_WhenRequiredMissing_NamesTheVariable(string missing)
    {
        var e = Assert.Throws<ConfigurationException>(() => AutoMirrorSettings.FromVariables(n => n == missing ? null : TestWorld.Defaults(n)));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("25")]
    [InlineData("63")]
    [InlineData("8501")]
    [InlineData("whole")]
    public void FromVariables_WhenPacketLengthOutOfRange_RefusesAtStartUp(string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => With("PACKET_LENGTH", value));
        Assert.Contains("PACKET_LENGTH", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromVariables_WithPacketLength64_Accepts() => Assert.Equal(64, With("PACKET_LENGTH", "64").PacketLength);

    [Theory]
    [InlineData("PREFERRED_SESSION_NUMBER", "0")]
    [InlineData("PREFERRED_SESSION_NUMBER", "32767")]
    [InlineData("DEFAULT_VNI", "16777216")]
    [InlineData("STATUS_TAG", "yes")]
    [InlineData("TEARDOWN_ACTION", "explode")]
    [InlineData("MIRROR_TARGET_ID", "tmf-wrongkind")]
    public void FromVariables_WhenMalformed_NamesTheVariable(string name, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => With(name, value));
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromVariables_ParsesListsTrimmed()
    {
        var settings = AutoMirrorSettings.FromVariables(n => n switch
        {
            "MIRROR_TAG_VALUES" => "true, yes ,ON",
            "VPC_IDS" => "vpc-1,vpc-2",
            _ => TestWorld.Defaults(n),
        });
        Assert.True(settings.MirrorTagValues.SetEquals(["true", "yes", "on"]));
        Assert.Equal(2, settings.VpcIds.Count);
    }

    [Fact]
    public void RequireAttachStateMachineArn_WhenUnset_NamesTheVariable()
    {
        var settings = AutoMirrorSettings.FromVariables(n => n == "ATTACH_STATE_MACHINE_ARN" ? null : TestWorld.Defaults(n));
        var e = Assert.Throws<ConfigurationException>(settings.RequireAttachStateMachineArn);
        Assert.Contains("ATTACH_STATE_MACHINE_ARN", e.Message, StringComparison.Ordinal);
    }
}
