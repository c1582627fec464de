using AutoMirror.Sensor.Configuration;
using Microsoft.Extensions.Configuration;

namespace AutoMirror.Sensor.Tests.Configuration;

public class SensorSettingsTests
{
    private static SensorSettings Load(params (string Key, string Value)[] values)
        => SensorSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    private static string Problem(params (string Key, string Value)[] values)
        => Assert.Throws<SensorConfigurationException>(() => Load(values)).Message;

    [Fact]
    public void Load_Defaults_AreValidAndSafe()
    {
        var settings = Load();

        Assert.Equal(4789, settings.Options.VxlanPort);
        Assert.False(settings.Options.GeneveEnabled);
        Assert.True(settings.Options.Tap.Mtu >= 8500 + 14 + 4);
        Assert.Equal(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"], settings.Sources.Describe());
        Assert.True(settings.Options.Tap.IoUring);
        Assert.InRange(settings.Options.ReceiveCoalesceMicroseconds, 1, 1000);
    }

    [Fact]
    public void Load_SpeedSettings_Bind()
    {
        var settings = Load(("Sensor:Tap:IoUring", "false"), ("Sensor:ReceiveCoalesceMicroseconds", "0"));

        Assert.False(settings.Options.Tap.IoUring);
        Assert.Equal(0, settings.Options.ReceiveCoalesceMicroseconds);
    }

    [Fact]
    public void Load_EnvironmentStyleKeys_Bind()
    {
        var settings = Load(("Sensor:Tap:Name", "zeek0"), ("Sensor:SourceNetworks", "10.20.0.0/16"), ("Sensor:VlanByVni:100", "10"));

        Assert.Equal("zeek0", settings.Options.Tap.Name);
        Assert.Equal(["10.20.0.0/16"], settings.Sources.Describe());
        Assert.True(settings.Vlans.TryGetVlan(100, out ushort vlan));
        Assert.Equal(10, vlan);
    }

    [Theory]
    [InlineData("Sensor:Tap:Mtu", "10", "Sensor:Tap:Mtu")]
    [InlineData("Sensor:VxlanPort", "70000", "Sensor:VxlanPort")]
    [InlineData("Sensor:SourceNetworks", "everything", "Sensor:SourceNetworks")]
    [InlineData("Sensor:BindAddress", "any", "Sensor:BindAddress")]
    [InlineData("Sensor:Tap:Name", "a-name-longer-than-15", "Sensor:Tap:Name")]
    [InlineData("Sensor:VlanByVni:100", "5000", "Sensor:VlanByVni:100")]
    [InlineData("Sensor:VlanByVni:lab", "5", "Sensor:VlanByVni:lab")]
    [InlineData("Sensor:ReceiveWorkers", "0", "Sensor:ReceiveWorkers")]
    [InlineData("Sensor:Health:Port", "0", "Sensor:Health:Port")]
    [InlineData("Sensor:ReceiveCoalesceMicroseconds", "-1", "Sensor:ReceiveCoalesceMicroseconds")]
    [InlineData("Sensor:ReceiveCoalesceMicroseconds", "20000", "Sensor:ReceiveCoalesceMicroseconds")]
    [InlineData("Sensor:Tap:IoUring", "sometimes", "Sensor:Tap:IoUring")]
    public void Load_WrongSetting_FailsNamingIt(string key, string value, string named)
        => Assert.Contains(named, Problem((key, value)), StringComparison.Ordinal);

    [Fact]
    public void Load_AfXdp_IsOffByDefault()
    {
        var settings = Load();

        Assert.Equal(string.Empty, settings.Options.AfXdp.Interface);
        Assert.Equal(XdpMode.Auto, settings.Options.AfXdp.Mode);
        Assert.True(int.IsPow2(settings.Options.AfXdp.Frames));
    }

    [Theory]
    [InlineData("ens5", "64", "Native", XdpMode.Native)]
    [InlineData("eth0", "65536", "Generic", XdpMode.Generic)]
    [InlineData("veth-a.10", "4096", "auto", XdpMode.Auto)]
    [InlineData("enp0s31f6", "2048", "generic", XdpMode.Generic)]
    public void Load_AfXdp_ValidSettingsBind(string name, string frames, string mode, XdpMode expected)
    {
        var settings = Load(("Sensor:AfXdp:Interface", name), ("Sensor:AfXdp:Frames", frames), ("Sensor:AfXdp:Mode", mode));

        Assert.Equal(name, settings.Options.AfXdp.Interface);
        Assert.Equal(int.Parse(frames, System.Globalization.CultureInfo.InvariantCulture), settings.Options.AfXdp.Frames);
        Assert.Equal(expected, settings.Options.AfXdp.Mode);
    }

    [Theory]
    [InlineData("100")]    // not a power of two
    [InlineData("4095")]
    [InlineData("32")]     // a power of two below the range
    [InlineData("131072")] // and above it
    [InlineData("0")]
    [InlineData("-64")]
    public void Load_AfXdpFramesOutOfRangeOrNotAPowerOfTwo_FailsNamingIt(string frames)
        => Assert.Contains("Sensor:AfXdp:Frames", Problem(("Sensor:AfXdp:Interface", "ens5"), ("Sensor:AfXdp:Frames", frames)), StringComparison.Ordinal);

    [Theory]
    [InlineData("a-name-longer-than-15")]
    [InlineData("eth 0")]
    [InlineData("eth/0")]
    [InlineData("ens5;reboot")]
    public void Load_AfXdpBadInterfaceName_FailsNamingIt(string name)
        => Assert.Contains("Sensor:AfXdp:Interface", Problem(("Sensor:AfXdp:Interface", name)), StringComparison.Ordinal);

    [Theory]
    [InlineData("fast")]
    [InlineData("3")]
    public void Load_AfXdpUnknownMode_FailsNamingIt(string mode)
        => Assert.Contains("Sensor:AfXdp:Mode", Problem(("Sensor:AfXdp:Interface", "ens5"), ("Sensor:AfXdp:Mode", mode)), StringComparison.Ordinal);

    [Fact]
    public void Load_PacketRing_IsOffByDefault_WithARingThatHoldsTheLargestDatagram()
    {
        var o = Load().Options;

        Assert.Equal(string.Empty, o.PacketRing.Interface);
        Assert.True(o.PacketRing.BlockKilobytes * 1024 >= o.MaxDatagramBytes + 42, "a default block must hold the largest datagram accepted");
        Assert.True(o.PacketRing.Blocks >= 2);
    }

    [Fact]
    public void Load_PacketRing_ValidSettingsBind()
    {
        var o = Load(("Sensor:PacketRing:Interface", "ens5"), ("Sensor:PacketRing:Blocks", "8"), ("Sensor:PacketRing:BlockKilobytes", "1024")).Options;

        Assert.Equal("ens5", o.PacketRing.Interface);
        Assert.Equal(8, o.PacketRing.Blocks);
        Assert.Equal(1024, o.PacketRing.BlockKilobytes);
    }

    [Theory]
    [InlineData("8")]       // smaller than a 9216-byte datagram and its headers
    [InlineData("48")]      // not a power of two
    [InlineData("8192")]    // beyond what the kernel hands out as one block
    public void Load_PacketRingBlockSizeBadOrTooSmall_FailsNamingIt(string kilobytes)
        => Assert.Contains("Sensor:PacketRing:BlockKilobytes", Problem(("Sensor:PacketRing:Interface", "ens5"), ("Sensor:PacketRing:BlockKilobytes", kilobytes)), StringComparison.Ordinal);

    [Fact]
    public void Load_PacketRingBlockTooSmallForALargerMaxDatagram_FailsNamingIt()
        => Assert.Contains("Sensor:PacketRing:BlockKilobytes", Problem(("Sensor:PacketRing:Interface", "ens5"), ("Sensor:MaxDatagramBytes", "65000"), ("Sensor:PacketRing:BlockKilobytes", "16")), StringComparison.Ordinal);

    [Theory]
    [InlineData("1")]
    [InlineData("5000")]
    public void Load_PacketRingBlocksOutOfRange_FailsNamingIt(string blocks)
        => Assert.Contains("Sensor:PacketRing:Blocks", Problem(("Sensor:PacketRing:Interface", "ens5"), ("Sensor:PacketRing:Blocks", blocks)), StringComparison.Ordinal);

    [Theory]
    [InlineData("eth0; rm -rf /")]
    [InlineData("averyveryverylongname")]
    public void Load_PacketRingBadInterfaceName_FailsNamingIt(string name)
        => Assert.Contains("Sensor:PacketRing:Interface", Problem(("Sensor:PacketRing:Interface", name)), StringComparison.Ordinal);

    [Fact]
    public void Load_PacketRingTogetherWithAfXdp_FailsNamingBoth()
    {
        string problem = Problem(("Sensor:PacketRing:Interface", "ens5"), ("Sensor:AfXdp:Interface", "ens5"));

        Assert.Contains("Sensor:PacketRing:Interface", problem, StringComparison.Ordinal);
        Assert.Contains("Sensor:AfXdp:Interface", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ValueOfWrongType_FailsNamingTheKey()
        => Assert.Contains("Sensor:Tap:Mtu", Problem(("Sensor:Tap:Mtu", "big")), StringComparison.Ordinal);

    [Fact]
    public void Load_MisspelledSetting_FailsNamingIt()
        => Assert.Contains("Nmae", Problem(("Sensor:Tap:Nmae", "x")), StringComparison.Ordinal);

    [Fact]
    public void Load_NoOutput_Fails()
        => Assert.Contains("at least one output", Problem(("Sensor:Tap:Enabled", "false")), StringComparison.Ordinal);

    [Fact]
    public void Load_GeneveOnTheVxlanPort_Fails()
        => Assert.Contains("Sensor:GenevePort", Problem(("Sensor:GeneveEnabled", "true"), ("Sensor:GenevePort", "4789")), StringComparison.Ordinal);

    [Fact]
    public void Load_SeveralProblems_AreAllReported()
    {
        var problems = Assert.Throws<SensorConfigurationException>(() => Load(("Sensor:Tap:Mtu", "1"), ("Sensor:BatchSize", "0"))).Problems;
        Assert.Equal(2, problems.Count);
    }

    [Fact]
    public void Load_Receive_IsAutoByDefault_OnTheDefaultRouteInterface()
    {
        var o = Load().Options;

        Assert.Equal("auto", o.Receive);
        Assert.Equal(string.Empty, o.ReceiveInterface);
    }

    [Theory]
    [InlineData("sockets")]
    [InlineData("af-xdp")]
    [InlineData("packet-ring")]
    [InlineData("auto")]
    public void Load_Receive_EachValueBinds(string mode)
        => Assert.Equal(mode, Load(("Sensor:Receive", mode), ("Sensor:ReceiveInterface", "ens5")).Options.Receive);

    [Theory]
    [InlineData("fast")]
    [InlineData("Auto")]   // the values are the template's and the installer's, spelt one way
    [InlineData("af_xdp")]
    [InlineData("")]
    public void Load_ReceiveUnknown_FailsNamingTheKeyAndTheValues(string mode)
    {
        string problem = Problem(("Sensor:Receive", mode));

        Assert.Contains("Sensor:Receive: must be auto, sockets, af-xdp, packet-ring", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sockets", "Sensor:AfXdp:Interface")]
    [InlineData("packet-ring", "Sensor:AfXdp:Interface")]
    [InlineData("sockets", "Sensor:PacketRing:Interface")]
    [InlineData("af-xdp", "Sensor:PacketRing:Interface")]
    public void Load_ReceiveContradictingAPathsInterfaceSetting_FailsNamingBoth(string mode, string interfaceKey)
    {
        string problem = Problem(("Sensor:Receive", mode), (interfaceKey, "ens5"));

        Assert.Contains("Sensor:Receive", problem, StringComparison.Ordinal);
        Assert.Contains(interfaceKey, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("eth0; reboot")]
    [InlineData("a-name-longer-than-15")]
    public void Load_ReceiveInterfaceBadName_FailsNamingIt(string name)
        => Assert.Contains("Sensor:ReceiveInterface", Problem(("Sensor:ReceiveInterface", name)), StringComparison.Ordinal);

    [Fact]
    public void Load_Auto_ChecksTheSettingsOfThePathsItMayTry()
    {
        // Auto may run AF_XDP or the packet ring without their interface settings: a bad value of theirs must stop start-up too.
        Assert.Contains("Sensor:AfXdp:Frames", Problem(("Sensor:AfXdp:Frames", "100")), StringComparison.Ordinal);
        Assert.Contains("Sensor:PacketRing:BlockKilobytes", Problem(("Sensor:PacketRing:BlockKilobytes", "48")), StringComparison.Ordinal);
        // The sockets never run them: their defaults-only values are not checked then.
        Load(("Sensor:Receive", "sockets"), ("Sensor:AfXdp:Frames", "100"));
    }
}
