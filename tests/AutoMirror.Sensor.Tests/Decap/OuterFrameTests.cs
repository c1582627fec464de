using System.Buffers.Binary;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Decap;

/// <summary>
/// The outer Ethernet/IPv4/UDP checks of the AF_XDP path against frames built here byte by byte,
/// with a plain 16-bit Internet checksum written independently of <see cref="OuterFrame"/>'s.
/// </summary>
public class OuterFrameTests
{
    private const string Source = "10.1.2.3";
    private const uint SourceHostOrder = 0x0A010203;
    private const string Destination = "10.9.8.7";

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(59)]
    [InlineData(1400)]
    public void Parse_WithoutUdpChecksum_YieldsThePayloadAndSource(int payloadLength)
    {
        var payload = Payload(payloadLength, seed: payloadLength);
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, payload)));

        Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out var range, out uint source));

        Assert.Equal(payload, frame[range]);
        Assert.Equal(42, range.Start.GetOffset(frame.Length));
        Assert.Equal(SourceHostOrder, source);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(1401)]
    [InlineData(8951)]
    public void Parse_WithCorrectUdpChecksum_OddAndEvenLengths_YieldsThePayload(int payloadLength)
    {
        var payload = Payload(payloadLength, seed: 1000 + payloadLength);
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, ChecksummedUdp(Source, Destination, payload)));
        Assert.NotEqual(0, UdpChecksumField(frame));

        Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out var range, out uint source));

        Assert.Equal(payload, frame[range]);
        Assert.Equal(SourceHostOrder, source);
    }

    [Fact]
    public void Parse_ChecksumThatComputesToZero_SentAsAllOnes_IsAccepted()
    {
        // RFC 768: a computed checksum of 0 is transmitted as 0xFFFF (0 would mean "none").
        var payload = Payload(20, seed: 7);
        payload[18] = payload[19] = 0;
        ushort withZeros = ComputeUdpChecksum(Source, Destination, Packets.Udp(40000, 4789, payload));
        // Make the one's-complement sum all ones: then the checksum (its complement) is zero.
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(18), withZeros);
        var udp = Packets.Udp(40000, 4789, payload);
        Assert.Equal(0, ComputeUdpChecksum(Source, Destination, udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), 0xFFFF);

        Assert.Equal(DecapError.None, OuterFrame.Parse(Frame(Packets.Ipv4(Source, Destination, 17, udp)), out var range, out _));
        Assert.Equal(20, range.GetOffsetAndLength(42 + 20).Length);
    }

    [Theory]
    [InlineData(10)] // the checksum field itself
    [InlineData(12)] // source address
    [InlineData(19)] // destination address
    [InlineData(8)]  // TTL
    public void Parse_WrongIpHeaderChecksum_IsAChecksumError(int ipByte)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(30, 1))));
        frame[14 + ipByte] ^= 0x04;

        Assert.Equal(DecapError.OuterChecksum, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData(40)] // the checksum field
    [InlineData(42)] // first payload byte
    [InlineData(72)] // last payload byte (odd length: the padded half-word)
    [InlineData(34)] // source port
    public void Parse_WrongNonZeroUdpChecksum_IsAChecksumError(int frameByte)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, ChecksummedUdp(Source, Destination, Payload(31, 2))));
        // Only UDP bytes change: the IP header stays valid, so only the UDP checksum can catch it.
        frame[frameByte] ^= 0x10;

        Assert.Equal(DecapError.OuterChecksum, OuterFrame.Parse(frame, out _, out _));
    }

    [Fact]
    public void Parse_UdpChecksumCoversThePseudoHeader()
    {
        // Checksummed for another destination, the IP header then correctly checksummed for this one:
        // only the pseudo-header (addresses) tells the UDP checksum is wrong.
        var udp = ChecksummedUdp(Source, "10.9.8.6", Payload(16, 3));
        Assert.Equal(DecapError.OuterChecksum, OuterFrame.Parse(Frame(Packets.Ipv4(Source, Destination, 17, udp)), out _, out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_EthernetPadding_IsNotPartOfThePayload(bool checksummed)
    {
        // 4 payload bytes: 46 bytes of frame, padded to the 60-byte minimum with non-zero bytes that
        // would break the checksum if they were summed.
        var payload = new byte[] { 8, 0, 0, 1 };
        var udp = checksummed ? ChecksummedUdp(Source, Destination, payload) : Packets.Udp(40000, 4789, payload);
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, udp));
        frame = [.. frame, .. Enumerable.Repeat((byte)0xEE, 60 - frame.Length)];

        Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out var range, out _));
        Assert.Equal(payload, frame[range]);
    }

    [Fact]
    public void Parse_UdpLengthShorterThanTheIpPayload_TrimsToTheUdpLength()
    {
        // The kernel trims a datagram to its UDP length; the checksum covers only those bytes.
        var payload = Payload(10, 4);
        var udp = ChecksummedUdp(Source, Destination, payload);
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, [.. udp, 0xAA, 0xBB, 0xCC]));

        Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out var range, out _));
        Assert.Equal(payload, frame[range]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(0xFFFF - 40)]
    public void Parse_UdpLengthBeyondTheIpPayload_IsInvalid(int extra)
    {
        var udp = Packets.Udp(40000, 4789, Payload(20, 5));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)(udp.Length + extra));
        // Bytes after the IP packet (padding) must not count as UDP payload either.
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, udp));
        frame = [.. frame, .. new byte[Math.Min(extra, 64)]];

        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Parse_UdpLengthShorterThanItsHeader_IsInvalid(int udpLength)
    {
        var udp = Packets.Udp(40000, 4789, Payload(20, 6));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udpLength);

        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(Frame(Packets.Ipv4(Source, Destination, 17, udp)), out _, out _));
    }

    [Theory]
    [InlineData((ushort)0x2000)] // MF: first fragment
    [InlineData((ushort)0x6000)] // MF and DF together (malformed, still a fragment)
    [InlineData((ushort)0x0001)] // a later fragment
    [InlineData((ushort)0x1FFF)] // the largest offset
    [InlineData((ushort)0x40B9)] // DF and an offset
    public void Parse_Fragment_IsInvalid(ushort flagsAndOffset)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 7)), flagsAndOffset));
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData((ushort)0x4000)] // DF
    [InlineData((ushort)0x0000)]
    public void Parse_DontFragmentOrNoFlags_IsAccepted(ushort flagsAndOffset)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 8)), flagsAndOffset));
        Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData(0x46)] // options: 24-byte header
    [InlineData(0x4F)]
    [InlineData(0x44)] // shorter than an IPv4 header
    [InlineData(0x65)] // version 6 behind the IPv4 EtherType
    public void Parse_HeaderLengthOrVersionOtherThanIpv4Ihl5_IsInvalid(byte versionAndIhl)
    {
        var ip = Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(40, 9)));
        ip[0] = versionAndIhl;
        // A correct checksum, so only the header length (or version) can be the reason.
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), InternetChecksum.Of(ip.AsSpan(0, 20)));

        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(Frame(ip), out _, out _));
    }

    [Theory]
    [InlineData(6)]   // TCP
    [InlineData(1)]   // ICMP
    [InlineData(47)]  // GRE
    [InlineData(136)] // UDP-Lite
    public void Parse_NotUdp_IsInvalid(byte protocol)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, protocol, Packets.Udp(40000, 4789, Payload(20, 10))));
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData((ushort)0x86DD)] // IPv6
    [InlineData((ushort)0x0806)] // ARP
    [InlineData((ushort)0x8100)] // VLAN tag
    [InlineData((ushort)0x0008)] // IPv4 byte-swapped
    public void Parse_NotIpv4_IsInvalid(ushort etherType)
    {
        var ip = Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 11)));
        var frame = Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", etherType, ip);
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(frame, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(33)]
    [InlineData(41)]
    public void Parse_FrameShorterThanTheHeaders_IsInvalid(int length)
    {
        var frame = Frame(Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 12))));
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(frame.AsSpan(0, length), out _, out _));
    }

    [Theory]
    [InlineData(1)]    // one byte more than the frame holds
    [InlineData(1000)]
    public void Parse_IpTotalLengthBeyondTheFrame_IsInvalid(int extra)
    {
        var ip = Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 13)));
        SetTotalLength(ip, ip.Length + extra);
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(Frame(ip), out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)] // an IP header and no room for UDP
    [InlineData(27)]
    public void Parse_IpTotalLengthTooShortForUdp_IsInvalid(int totalLength)
    {
        var ip = Packets.Ipv4(Source, Destination, 17, Packets.Udp(40000, 4789, Payload(20, 14)));
        SetTotalLength(ip, totalLength);
        Assert.Equal(DecapError.OuterHeaderInvalid, OuterFrame.Parse(Frame(ip), out _, out _));
    }

    [Fact]
    public void Parse_ManyRandomValidFrames_YieldTheirPayloadAndSource()
    {
        var random = new Random(4242);
        for (int i = 0; i < 5000; i++)
        {
            var payload = new byte[random.Next(0, 2000)];
            random.NextBytes(payload);
            var addresses = new byte[8];
            random.NextBytes(addresses);
            string src = new System.Net.IPAddress(addresses[..4]).ToString(), dst = new System.Net.IPAddress(addresses[4..]).ToString();
            var udp = random.Next(2) == 0 ? ChecksummedUdp(src, dst, payload) : Packets.Udp((ushort)random.Next(65536), 4789, payload);
            var frame = Frame(Packets.Ipv4(src, dst, 17, udp, random.Next(2) == 0 ? (ushort)0x4000 : (ushort)0));
            int padding = random.Next(4) == 0 ? random.Next(1, 30) : 0;
            frame = [.. frame, .. Enumerable.Repeat((byte)random.Next(256), padding)];

            Assert.Equal(DecapError.None, OuterFrame.Parse(frame, out var range, out uint source));
            Assert.Equal(payload, frame[range]);
            Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(addresses), source);
        }
    }

    internal static byte[] Frame(byte[] ip) => Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, ip);

    internal static byte[] Payload(int length, int seed)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    /// <summary>A UDP datagram to 4789 with its checksum over the IPv4 pseudo-header (0 sent as 0xFFFF).</summary>
    internal static byte[] ChecksummedUdp(string src, string dst, byte[] payload)
    {
        var udp = Packets.Udp(40001, 4789, payload);
        ushort checksum = ComputeUdpChecksum(src, dst, udp);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), checksum == 0 ? (ushort)0xFFFF : checksum);
        return udp;
    }

    private static ushort ComputeUdpChecksum(string src, string dst, byte[] udp)
    {
        var withoutChecksum = (byte[])udp.Clone();
        withoutChecksum[6] = withoutChecksum[7] = 0;
        var pseudo = InternetChecksum.UdpPseudoHeader(System.Net.IPAddress.Parse(src).GetAddressBytes(), System.Net.IPAddress.Parse(dst).GetAddressBytes(), udp.Length);
        return InternetChecksum.Of(withoutChecksum, pseudo);
    }

    private static void SetTotalLength(byte[] ip, int totalLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), InternetChecksum.Of(ip.AsSpan(0, 20)));
    }

    private static ushort UdpChecksumField(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40));
}
