using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Decap;

public class GeneveHeaderTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(63)]
    public void Parse_GwlbDatagramWithOptions_YieldsTheMirroredFrame(int optionWords)
    {
        var frame = Packets.SampleFrame(100);
        var datagram = Packets.GeneveAroundVxlan(777, frame, optionWords);

        Assert.Equal(DecapError.None, GeneveHeader.Parse(datagram, 4789, out uint vni, out var decoded));
        Assert.Equal(777u, vni);
        Assert.Equal(frame, decoded.ToArray());
    }

    /// <summary>
    /// RFC 8926 section 3.4: with C set, an endpoint that does not parse the options MUST drop the
    /// packet. A GWLB's own options (class 0x0108, types 1-3) are not critical and leave C clear.
    /// Found by <see cref="DecapOraclePropertyTests"/>.
    /// </summary>
    [Fact]
    public void Parse_CriticalOptionsFlag_IsDropped()
    {
        var datagram = Packets.GeneveAroundVxlan(777, Packets.SampleFrame(100));
        datagram[1] |= 0x40;

        Assert.Equal(DecapError.GeneveCriticalOption, GeneveHeader.Parse(datagram, 4789, out _, out var frame));
        Assert.True(frame.IsEmpty);
    }

    [Fact]
    public void Parse_InnerIpv6_IsSupported()
    {
        var frame = Packets.SampleFrame();
        var datagram = Packets.Geneve(GeneveHeader.EtherTypeIpv6, Packets.Ipv6("fd00::1", "fd00::2", 17, Packets.Udp(1234, 4789, Packets.Vxlan(12, frame))));

        Assert.Equal(DecapError.None, GeneveHeader.Parse(datagram, 4789, out uint vni, out var decoded));
        Assert.Equal(12u, vni);
        Assert.Equal(frame, decoded.ToArray());
    }

    [Fact]
    public void Parse_TrailingBytesAfterIpTotalLength_AreNotPartOfTheFrame()
    {
        var frame = Packets.SampleFrame();
        var datagram = Packets.GeneveAroundVxlan(5, frame).Concat(new byte[] { 0xEE, 0xEE }).ToArray();

        Assert.Equal(DecapError.None, GeneveHeader.Parse(datagram, 4789, out _, out var decoded));
        Assert.Equal(frame, decoded.ToArray());
    }

    [Fact]
    public void Parse_OamFrame_IsRejected()
        => Assert.Equal(DecapError.GeneveOam, GeneveHeader.Parse(Packets.Geneve(0x0800, new byte[40], oam: true), 4789, out _, out _));

    [Fact]
    public void Parse_UnknownVersion_IsRejected()
        => Assert.Equal(DecapError.GeneveVersion, GeneveHeader.Parse(Packets.Geneve(0x0800, new byte[40], version: 1), 4789, out _, out _));

    [Fact]
    public void Parse_EthernetPayload_IsUnsupportedProtocol()
        => Assert.Equal(DecapError.GeneveProtocol, GeneveHeader.Parse(Packets.Geneve(0x6558, new byte[40]), 4789, out _, out _));

    [Fact]
    public void Parse_OptionsLongerThanDatagram_IsTruncated()
        => Assert.Equal(DecapError.HeaderTruncated, GeneveHeader.Parse(Packets.Geneve(0x0800, [], optionWords: 3)[..12], 4789, out _, out _));

    [Fact]
    public void Parse_InnerFragment_IsRejected()
    {
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(1, 4789, Packets.Vxlan(1, Packets.SampleFrame())), flagsAndOffset: 0x2000);
        Assert.Equal(DecapError.InnerIpFragment, GeneveHeader.Parse(Packets.Geneve(0x0800, ip), 4789, out _, out _));
    }

    [Fact]
    public void Parse_InnerTcp_IsRejected()
    {
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 6, new byte[40]);
        Assert.Equal(DecapError.InnerNotUdp, GeneveHeader.Parse(Packets.Geneve(0x0800, ip), 4789, out _, out _));
    }

    [Fact]
    public void Parse_InnerUdpToAnotherPort_IsRejected()
    {
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(1, 53, Packets.Vxlan(1, Packets.SampleFrame())));
        Assert.Equal(DecapError.InnerNotVxlanPort, GeneveHeader.Parse(Packets.Geneve(0x0800, ip), 4789, out _, out _));
    }

    [Fact]
    public void Parse_InnerIpTotalLengthBeyondData_IsRejected()
    {
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(1, 4789, Packets.Vxlan(1, Packets.SampleFrame())));
        Assert.Equal(DecapError.InnerIpInvalid, GeneveHeader.Parse(Packets.Geneve(0x0800, ip[..^1]), 4789, out _, out _));
    }

    [Fact]
    public void Parse_UdpLengthBeyondIpPayload_IsRejected()
    {
        var udp = Packets.Udp(1, 4789, Packets.Vxlan(1, Packets.SampleFrame()));
        udp[4] = 0xFF;
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp);
        Assert.Equal(DecapError.InnerUdpInvalid, GeneveHeader.Parse(Packets.Geneve(0x0800, ip), 4789, out _, out _));
    }

    [Fact]
    public void Parse_InvalidVxlanInside_ReportsTheVxlanReason()
    {
        var ip = Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(1, 4789, Packets.Vxlan(1, Packets.SampleFrame(), flags: 0)));
        Assert.Equal(DecapError.VxlanNoIFlag, GeneveHeader.Parse(Packets.Geneve(0x0800, ip), 4789, out _, out _));
    }
}
