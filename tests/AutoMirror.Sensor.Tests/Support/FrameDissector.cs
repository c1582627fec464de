using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using PacketDotNet;
using PacketDotNet.Utils;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>
/// What two independent dissectors say about one Ethernet frame, reduced to the fields a user's
/// analyser relies on: Ethernet, an 802.1Q tag, IPv4/IPv6 (with their fragment fields), TCP, UDP,
/// ICMP/ICMPv6 and the bytes behind the last decoded header. Numbers are as on the wire (fragment
/// offsets in 8-byte units, both dissectors' convention). A field the frame does not have is null.
/// </summary>
internal sealed record FrameDissection(
    string EthDst, string EthSrc, int EtherType,
    int? VlanId, int? VlanPriority, int? VlanEtherType,
    int? IpVersion, string? IpSrc, string? IpDst, int? IpNextHeader, long? IpId, int? FragmentOffset, bool? MoreFragments,
    int? IpLength, int? Ttl, int? IpChecksum,
    string L4, int? SrcPort, int? DstPort, long? TcpSeq, long? TcpAck, int? TcpFlags, int? UdpLength,
    int? IcmpType, int? IcmpCode, int? L4Checksum, string Payload)
{
    public bool IsFragment => MoreFragments == true || FragmentOffset > 0;
}

/// <summary>
/// The tests' independent dissectors: PacketDotNet in process and tshark over a capture file. The
/// sensor never uses either (PacketDotNet allocates per packet); the end-to-end tests and the parser
/// property test check the sensor's output against both.
/// </summary>
internal static class FrameDissector
{
    private const int EchoRequest = 8, EchoReply = 0, EchoRequestV6 = 128, EchoReplyV6 = 129;

    private static readonly string[] TsharkFields =
    [
        "eth.dst", "eth.src", "eth.type", "vlan.id", "vlan.priority", "vlan.etype",
        "ip.src", "ip.dst", "ip.proto", "ip.id", "ip.frag_offset", "ip.flags.mf", "ip.len", "ip.ttl", "ip.checksum",
        "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen", "ipv6.hlim", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
        "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.checksum", "tcp.payload",
        "udp.srcport", "udp.dstport", "udp.length", "udp.checksum", "udp.payload",
        "icmp.type", "icmp.code", "icmp.checksum", "icmpv6.type", "icmpv6.code", "icmpv6.checksum", "data.data",
    ];

    /// <summary>PacketDotNet's reading of <paramref name="frame"/>; throws where PacketDotNet cannot read an Ethernet header.</summary>
    public static FrameDissection WithPacketDotNet(byte[] frame)
    {
        var eth = new EthernetPacket(new ByteArraySegment(frame));
        int? vlanId = null, vlanPriority = null, vlanType = null;
        Packet? network = eth.PayloadPacket;
        if (network is Ieee8021QPacket tag)
        {
            (vlanId, vlanPriority, vlanType) = (tag.VlanIdentifier, (int)tag.PriorityControlPoint, (int)tag.Type);
            network = tag.PayloadPacket;
        }

        var d = new FrameDissection(
            Mac(eth.DestinationHardwareAddress.GetAddressBytes()), Mac(eth.SourceHardwareAddress.GetAddressBytes()), (int)eth.Type,
            vlanId, vlanPriority, vlanType,
            null, null, null, null, null, null, null, null, null, null,
            "", null, null, null, null, null, null, null, null, null, "");
        switch (network)
        {
            case IPv4Packet v4:
                d = d with
                {
                    IpVersion = 4, IpSrc = v4.SourceAddress.ToString(), IpDst = v4.DestinationAddress.ToString(),
                    IpNextHeader = (int)v4.Protocol, IpId = v4.Id, FragmentOffset = v4.FragmentOffset,
                    MoreFragments = (v4.FragmentFlags & 0x1) != 0, IpLength = v4.TotalLength, Ttl = v4.TimeToLive, IpChecksum = v4.Checksum,
                };
                break;
            case IPv6Packet v6:
                d = d with
                {
                    IpVersion = 6, IpSrc = v6.SourceAddress.ToString(), IpDst = v6.DestinationAddress.ToString(),
                    IpNextHeader = (int)v6.NextHeader, IpLength = v6.PayloadLength, Ttl = v6.HopLimit,
                };
                if (v6.ExtensionHeaders.OfType<IPv6FragmentationExtensionHeader>().FirstOrDefault() is { } fragment)
                {
                    // PacketDotNet keeps the header after its first two bytes: offset and flags, then the identification.
                    var rest = fragment.Payload.ActualBytes();
                    d = d with { IpId = BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(2)), FragmentOffset = fragment.FragmentOffset, MoreFragments = fragment.More };
                }

                break;
            default:
                return d;
        }

        var ip = (IPPacket)network;
        if (d.FragmentOffset > 0)
        {
            // Not the first fragment: no transport header here, only bytes (PacketDotNet decodes none either).
            return d with { L4 = "fragment", Payload = Hex(ip.PayloadData) };
        }

        return ip.PayloadPacket switch
        {
            TcpPacket tcp => d with
            {
                L4 = "tcp", SrcPort = tcp.SourcePort, DstPort = tcp.DestinationPort, TcpSeq = tcp.SequenceNumber,
                TcpAck = tcp.AcknowledgmentNumber, TcpFlags = tcp.Flags, L4Checksum = tcp.Checksum, Payload = Hex(tcp.PayloadData),
            },
            UdpPacket udp => d with
            {
                L4 = "udp", SrcPort = udp.SourcePort, DstPort = udp.DestinationPort, UdpLength = udp.Length,
                L4Checksum = udp.Checksum, Payload = Hex(udp.PayloadData),
            },
            IcmpV4Packet icmp => d with
            {
                L4 = "icmp", IcmpType = (int)icmp.TypeCode >> 8, IcmpCode = (int)icmp.TypeCode & 0xFF, L4Checksum = icmp.Checksum,
                // tshark shows an echo's data as bytes and dissects an error's quoted packet instead: compare echo data only.
                Payload = (int)icmp.TypeCode >> 8 is EchoRequest or EchoReply ? Hex(icmp.Data) : "",
            },
            IcmpV6Packet icmp6 => d with
            {
                L4 = "icmpv6", IcmpType = (int)icmp6.Type, IcmpCode = icmp6.Code, L4Checksum = icmp6.Checksum,
                // PacketDotNet's ICMPv6 header is 4 bytes; an echo's identifier and sequence follow, then its data.
                Payload = (int)icmp6.Type is EchoRequestV6 or EchoReplyV6 ? Hex(icmp6.PayloadData.AsSpan(4)) : "",
            },
            _ => d,
        };
    }

    /// <summary>tshark's reading of every frame of a capture (no reassembly: each frame as it is on the wire).</summary>
    public static List<FrameDissection> WithTshark(string pcap)
    {
        var start = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-r", pcap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE",
                     "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var field in TsharkFields)
        {
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add(field);
        }

        using var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => stderr.AppendLine(e.Data);
        process.BeginErrorReadLine();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("tshark failed on " + pcap + ": " + stderr);
        }

        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => TsharkFields.Zip(line.Split('\t')).ToDictionary(p => p.First, p => p.Second))
            .Select(FromTshark)
            .ToList();
    }

    /// <summary>
    /// Dissects every frame of <paramref name="pcap"/> with both dissectors and fails on the first
    /// field they read differently; returns the (agreed) dissections in capture order.
    /// </summary>
    public static List<FrameDissection> AssertBothAgree(string pcap, string where)
    {
        var (linkType, records) = PcapFile.Read(pcap);
        Assert.Equal(1, linkType);
        var tshark = WithTshark(pcap);
        Assert.True(records.Count == tshark.Count, where + ": tshark read " + tshark.Count + " frames, the capture holds " + records.Count);
        var agreed = new List<FrameDissection>(records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var packetDotNet = WithPacketDotNet(records[i].Data);
            if (packetDotNet != tshark[i])
            {
                Assert.Fail(where + " frame " + (i + 1) + ": PacketDotNet and tshark disagree\n  PacketDotNet: " + packetDotNet + "\n  tshark:       " + tshark[i]);
            }

            agreed.Add(packetDotNet);
        }

        return agreed;
    }

    /// <summary>
    /// Both dissectors read every forwarded frame as they read the input: the same multiset of
    /// dissections (receive workers may reorder different flows).
    /// </summary>
    public static void AssertForwardedDissectAsInput(List<FrameDissection> input, IEnumerable<string> forwardedPcaps, string where, int copies = 1)
    {
        var forwarded = forwardedPcaps.SelectMany(pcap => AssertBothAgree(pcap, where + " (" + Path.GetFileName(pcap) + ")")).ToList();
        var remaining = input.GroupBy(d => d).ToDictionary(g => g.Key, g => g.Count() * copies);
        foreach (var d in forwarded)
        {
            Assert.True(remaining.TryGetValue(d, out int n) && n > 0, where + ": a frame that dissects as no input frame does: " + d);
            remaining[d] = n - 1;
        }

        if (remaining.FirstOrDefault(p => p.Value > 0) is { Key: { } missing })
        {
            Assert.Fail(where + ": " + remaining.Values.Sum() + " input frames never forwarded, e.g. " + missing);
        }
    }

    private static FrameDissection FromTshark(Dictionary<string, string> f)
    {
        string? S(string name) => f.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        long? N(string name) => S(name) is { } v
            ? v.StartsWith("0x", StringComparison.Ordinal) ? long.Parse(v.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : v is "True" ? 1 : v is "False" ? 0 : long.Parse(v, CultureInfo.InvariantCulture)
            : null;
        int? I(string name) => N(name) is { } v ? (int)v : null;
        string? Address(string name) => S(name) is { } v ? IPAddress.Parse(v).ToString() : null;

        var d = new FrameDissection(
            S("eth.dst")!, S("eth.src")!, I("eth.type")!.Value,
            I("vlan.id"), I("vlan.priority"), I("vlan.etype"),
            null, null, null, null, null, null, null, null, null, null,
            "", null, null, null, null, null, null, null, null, null, "");
        if (S("ip.src") is not null) // ip.version is IPv6's version field too
        {
            d = d with
            {
                IpVersion = 4, IpSrc = Address("ip.src"), IpDst = Address("ip.dst"), IpNextHeader = I("ip.proto"), IpId = N("ip.id"),
                FragmentOffset = I("ip.frag_offset"), MoreFragments = N("ip.flags.mf") == 1, IpLength = I("ip.len"), Ttl = I("ip.ttl"),
                IpChecksum = I("ip.checksum"),
            };
        }
        else if (S("ipv6.src") is not null)
        {
            d = d with
            {
                IpVersion = 6, IpSrc = Address("ipv6.src"), IpDst = Address("ipv6.dst"), IpNextHeader = I("ipv6.nxt"),
                IpLength = I("ipv6.plen"), Ttl = I("ipv6.hlim"),
            };
            if (S("ipv6.fraghdr.ident") is not null)
            {
                d = d with { IpId = N("ipv6.fraghdr.ident"), FragmentOffset = I("ipv6.fraghdr.offset"), MoreFragments = N("ipv6.fraghdr.more") == 1 };
            }
        }
        else
        {
            return d;
        }

        string Bytes(string name) => (S(name) ?? "").ToUpperInvariant();
        if (d.FragmentOffset > 0)
        {
            return d with { L4 = "fragment", Payload = Bytes("data.data") };
        }

        // ICMP first: an ICMP error quotes the offending packet, whose TCP/UDP header tshark dissects too.
        if (I("icmp.type") is { } type)
        {
            return d with
            {
                L4 = "icmp", IcmpType = type, IcmpCode = I("icmp.code"), L4Checksum = I("icmp.checksum"),
                Payload = type is EchoRequest or EchoReply ? Bytes("data.data") : "",
            };
        }

        if (I("icmpv6.type") is { } type6)
        {
            return d with
            {
                L4 = "icmpv6", IcmpType = type6, IcmpCode = I("icmpv6.code"), L4Checksum = I("icmpv6.checksum"),
                Payload = type6 is EchoRequestV6 or EchoReplyV6 ? Bytes("data.data") : "",
            };
        }

        if (S("tcp.srcport") is not null)
        {
            return d with
            {
                L4 = "tcp", SrcPort = I("tcp.srcport"), DstPort = I("tcp.dstport"), TcpSeq = N("tcp.seq_raw"), TcpAck = N("tcp.ack_raw"),
                TcpFlags = I("tcp.flags"), L4Checksum = I("tcp.checksum"), Payload = Bytes("tcp.payload"),
            };
        }

        if (S("udp.srcport") is not null)
        {
            return d with
            {
                L4 = "udp", SrcPort = I("udp.srcport"), DstPort = I("udp.dstport"), UdpLength = I("udp.length"),
                L4Checksum = I("udp.checksum"), Payload = Bytes("udp.payload"),
            };
        }

        return d;
    }

    private static string Mac(byte[] bytes) => string.Join(':', bytes.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
