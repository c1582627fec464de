using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Decap;

public class VxlanHeaderTests
{
    [Fact]
    public void TryParse_AwsShapedDatagram_YieldsVniAndTheFrameUnchanged()
    {
        var frame = Packets.SampleFrame();
        var datagram = Packets.Vxlan(0xABCDEF, frame);

        Assert.True(VxlanHeader.TryParse(datagram, out uint vni, out var decoded));

        Assert.Equal(0xABCDEFu, vni);
        Assert.Equal(frame, decoded.ToArray());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(0xFFFFFFu)]
    public void TryParse_VniAtTheEdgesOf24Bits_IsDecoded(uint expected)
    {
        Assert.True(VxlanHeader.TryParse(Packets.Vxlan(expected, Packets.SampleFrame()), out uint vni, out _));
        Assert.Equal(expected, vni);
    }

    [Fact]
    public void Parse_IFlagClear_IsRejectedAsNotVxlan()
    {
        Assert.Equal(DecapError.VxlanNoIFlag, VxlanHeader.Parse(Packets.Vxlan(5, Packets.SampleFrame(), flags: 0x00), out _, out _));
    }

    [Theory]
    [InlineData(0, 0x88)] // GBP-style flag next to I
    [InlineData(1, 0x01)]
    [InlineData(3, 0x80)]
    [InlineData(7, 0x01)] // reserved byte after the VNI
    public void Parse_ReservedBitsSet_IsRejected(int index, byte value)
    {
        var datagram = Packets.Vxlan(5, Packets.SampleFrame());
        datagram[index] |= value;

        Assert.Equal(DecapError.VxlanReservedBits, VxlanHeader.Parse(datagram, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Parse_ShorterThanHeader_IsTruncated(int length)
    {
        var datagram = Packets.Vxlan(5, Packets.SampleFrame())[..length];
        Assert.Equal(DecapError.HeaderTruncated, VxlanHeader.Parse(datagram, out _, out _));
    }

    [Fact]
    public void Parse_FrameShorterThanEthernetHeader_IsRejected()
    {
        var datagram = Packets.Vxlan(5, Packets.SampleFrame())[..(8 + 13)];
        Assert.Equal(DecapError.FrameTooShort, VxlanHeader.Parse(datagram, out _, out _));
    }

    [Fact]
    public void Parse_PacketLengthTruncatedMirror_IsForwardedAsReceived()
    {
        // PacketLength cuts the mirrored packet: the IPv4 header inside claims more than is there.
        var full = Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800,
            Packets.Ipv4("10.0.0.1", "10.0.0.2", 6, new byte[1400]));
        var cut = full[..64];

        Assert.True(VxlanHeader.TryParse(Packets.Vxlan(9, cut), out _, out var frame));
        Assert.Equal(cut, frame.ToArray());
    }

    [Fact]
    public void Write_ThenParse_RoundTrips()
    {
        var buffer = new byte[8 + 14];
        VxlanHeader.Write(buffer, 4242);
        Assert.True(VxlanHeader.TryParse(buffer, out uint vni, out _));
        Assert.Equal(4242u, vni);
        Assert.Equal(Packets.Vxlan(4242, new byte[14]), buffer);
    }
}
