using System.Buffers.Binary;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using PacketDotNet;
using PacketDotNet.Utils;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Decap;

/// <summary>
/// FsCheck generates VXLAN and GENEVE datagrams, valid and malformed (wrong flags and reserved bits,
/// short headers, bad IP/UDP lengths, GENEVE versions, OAM, critical and ordinary options, other
/// protocol types, fragments, truncated inner frames, random bytes), and the sensor's parsers
/// (<see cref="VxlanHeader.Parse"/>, <see cref="GeneveHeader.Parse"/>) must agree with an oracle on
/// what is a valid inner frame, its VNI and its bytes.
///
/// Why the oracle is not PacketDotNet alone: PacketDotNet has no GENEVE at all, and its VXLAN
/// decoder is lenient (it reads any flags, reserved bits and VNI) yet stricter than a mirror target
/// may be about the inner frame (it decodes IP eagerly and throws on a frame that Traffic Mirroring
/// cut short with PacketLength, which the sensor forwards as received, by design). So the headers are
/// judged by rules written out here from the RFCs, each a separate check on the raw bytes, and
/// PacketDotNet reads the VXLAN header and the inner Ethernet frame wherever it can: its VNI and the
/// bytes of its Ethernet packet must be the sensor's.
/// - VXLAN, RFC 7348 section 5: the I flag (0x08) must be set for a valid VNI; the other flag bits
///   and the reserved fields are ignored on receipt by the RFC, but the sensor's contract (README:
///   "flags exactly 0x08, reserved fields zero", as Traffic Mirroring sends them) rejects them, and
///   the oracle follows the contract. The inner frame must hold an Ethernet header (14 bytes).
/// - GENEVE, RFC 8926 section 3.4: version 0 only (unknown versions MUST be dropped); O (control)
///   packets carry no mirrored traffic; Opt Len counts 4-byte words; C set means a critical option
///   that an endpoint which parses no options MUST drop; reserved bits are ignored. Protocol type:
///   a Gateway Load Balancer carries the original IP packet (0x0800 / 0x86DD), here the mirror's own
///   IP/UDP/VXLAN datagram; 0x6558 (an Ethernet frame) and anything else is not what a GWLB sends and
///   not what the sensor promises (README), so it is rejected.
/// - The mirror's datagram inside GENEVE: RFC 791 / RFC 8200 / RFC 768 lengths must fit, no fragment
///   (the VXLAN payload would not be whole), UDP to the VXLAN port, then VXLAN as above.
/// </summary>
public class DecapOraclePropertyTests(ITestOutputHelper output)
{
    /// <summary>Cases per run: about two seconds on the build machine; the seed makes every run the same.</summary>
    public const int Cases = 20_000;

    private const int VxlanPort = 4789;

    private static readonly Config Deterministic = Config.QuickThrowOnFailure.WithMaxTest(Cases).WithReplay(20261206UL, 0x9E3779B97F4A7C15UL);

    private enum Kind
    {
        Vxlan,
        Geneve,
        RandomBytes,
    }

    private sealed record Case(Kind Kind, string Mutation, byte[] Datagram)
    {
        public override string ToString() => Kind + "/" + Mutation + " " + Convert.ToHexString(Datagram);
    }

    [Fact]
    public void Parse_GeneratedDatagrams_AgreesWithTheRfcOracleAndPacketDotNet()
    {
        var tally = new Tally();
        Check.One(Deterministic, Prop.ForAll(Arb.From(CaseGen), (Case c) => Agree(c, tally, flipVerdict: false)));

        output.WriteLine(tally.Report());
        Assert.Equal(Cases, tally.Total);
        // The run must have exercised each side of each rule, not only one easy corner.
        Assert.True(tally.Accepted >= Cases / 5, tally.Report());
        Assert.True(tally.PacketDotNetBytesCompared >= Cases / 10, tally.Report());
        Assert.True(tally.CutShortForwarded >= Cases / 50, tally.Report());
        foreach (var reason in new[]
                 {
                     DecapError.HeaderTruncated, DecapError.VxlanNoIFlag, DecapError.VxlanReservedBits, DecapError.FrameTooShort,
                     DecapError.GeneveVersion, DecapError.GeneveOam, DecapError.GeneveProtocol, DecapError.InnerIpInvalid,
                     DecapError.InnerIpFragment, DecapError.InnerNotUdp, DecapError.InnerUdpInvalid, DecapError.InnerNotVxlanPort,
                     DecapError.GeneveCriticalOption,
                 })
        {
            Assert.True(tally.Rejected.GetValueOrDefault(reason) >= 20, reason + " too rare: " + tally.Report());
        }
    }

    /// <summary>The property above must be able to fail: with the parser's verdict flipped on one kind of datagram, it does.</summary>
    [Fact]
    public void Agree_WhenTheParsersVerdictIsFlipped_Fails()
    {
        var tally = new Tally();
        var failure = Record.Exception(() => Check.One(Deterministic.WithMaxTest(2_000).WithQuietOnSuccess(true),
            Prop.ForAll(Arb.From(CaseGen), (Case c) => Agree(c, tally, flipVerdict: true))));

        Assert.NotNull(failure);
        Assert.Contains("accepted, but the oracle rejects it (GeneveOam)", failure.Message, StringComparison.Ordinal);
    }

    private static bool Agree(Case c, Tally tally, bool flipVerdict)
    {
        var datagram = c.Datagram;
        var parsers = c.Kind switch
        {
            Kind.Vxlan => [Kind.Vxlan],
            Kind.Geneve => [Kind.Geneve],
            _ => new[] { Kind.Vxlan, Kind.Geneve },
        };
        foreach (var parser in parsers)
        {
            var expected = parser == Kind.Vxlan ? Oracle.Vxlan(datagram) : Oracle.Geneve(datagram);
            var error = parser == Kind.Vxlan
                ? VxlanHeader.Parse(datagram, out uint vni, out var frame)
                : GeneveHeader.Parse(datagram, VxlanPort, out vni, out frame);
            if (flipVerdict)
            {
                // The falsifiability check: a parser that got the verdict backwards on GENEVE OAM frames.
                error = error == DecapError.GeneveOam ? DecapError.None : error;
            }

            string where = parser + " parser, " + c;
            if (expected.Violations.Count > 0)
            {
                Assert.True(error != DecapError.None, where + ": accepted, but the oracle rejects it (" + string.Join(", ", expected.Violations) + ")");
                Assert.True(expected.Violations.Contains(error), where + ": rejected as " + error + ", the oracle's reasons are " + string.Join(", ", expected.Violations));
                tally.Reject(error);
                continue;
            }

            Assert.True(error == DecapError.None, where + ": rejected as " + error + ", the oracle accepts it");
            Assert.True(expected.Vni == vni, where + ": VNI " + vni + ", the oracle read " + expected.Vni);
            Assert.True(frame.SequenceEqual(datagram.AsSpan(expected.FrameOffset, expected.FrameLength)), where + ": not the oracle's frame bytes");
            var vxlan = datagram.AsSpan(expected.FrameOffset - VxlanHeader.Length, VxlanHeader.Length + expected.FrameLength).ToArray();
            tally.Accept(PacketDotNetAgrees(frame.ToArray(), vxlan, vni, c, where));
        }

        tally.Case();
        return true;
    }

    /// <summary>
    /// PacketDotNet on the VXLAN datagram the sensor accepted: where it decodes the inner frame, its
    /// VNI and its Ethernet packet's bytes must be the sensor's. A whole, well-formed frame it must
    /// decode; it may refuse (throw) only a frame cut short, as PacketLength leaves them, or random
    /// bytes behind an Ethernet header: the sensor forwards those as mirrored, it is a tap, not a filter.
    /// </summary>
    private static Inner PacketDotNetAgrees(byte[] frame, byte[] vxlanDatagram, uint vni, Case c, string where)
    {
        VxlanPacket vxlan;
        EthernetPacket? ethernet;
        try
        {
            vxlan = new VxlanPacket(new ByteArraySegment(vxlanDatagram));
            ethernet = vxlan.PayloadPacket as EthernetPacket;
            _ = FrameDissector.WithPacketDotNet(frame);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException)
        {
            if (Oracle.CutShort(frame))
            {
                return Inner.CutShort;
            }

            Assert.True(c.Mutation.StartsWith("random-frame", StringComparison.Ordinal), where + ": PacketDotNet cannot decode a whole generated frame: " + e.Message);
            return Inner.RandomBytes;
        }

        Assert.True(vxlan.Vni == vni, where + ": PacketDotNet reads VNI " + vxlan.Vni + ", the sensor " + vni);
        Assert.True(ethernet is not null, where + ": PacketDotNet finds no Ethernet frame behind the VXLAN header");
        if (Oracle.CutShort(frame))
        {
            // PacketDotNet decodes some cut frames without complaint but then rebuilds their bytes
            // from the IP length fields; the frame the sensor forwards is the one received. The
            // Ethernet header is what both must read alike.
            Assert.True(ethernet.HeaderData.AsSpan().SequenceEqual(frame.AsSpan(0, 14)), where + ": PacketDotNet's Ethernet header is not the sensor's");
            return Inner.CutShort;
        }

        Assert.True(ethernet.Bytes.AsSpan().SequenceEqual(frame), where + ": PacketDotNet's Ethernet packet is not the sensor's frame");
        return Inner.Decoded;
    }

    private enum Inner
    {
        Decoded,
        CutShort,
        RandomBytes,
    }

    private sealed class Tally
    {
        public int Total { get; private set; }

        public int Accepted { get; private set; }

        public int PacketDotNetBytesCompared { get; private set; }

        public int CutShortForwarded { get; private set; }

        public int RandomInnerForwarded { get; private set; }

        public Dictionary<DecapError, int> Rejected { get; } = [];

        public void Case() => Total++;

        public void Accept(Inner inner)
        {
            Accepted++;
            PacketDotNetBytesCompared += inner == Inner.Decoded ? 1 : 0;
            CutShortForwarded += inner == Inner.CutShort ? 1 : 0;
            RandomInnerForwarded += inner == Inner.RandomBytes ? 1 : 0;
        }

        public void Reject(DecapError error) => Rejected[error] = Rejected.GetValueOrDefault(error) + 1;

        public string Report() => Total + " generated cases (" + Cases + " asked, seed fixed): parser verdicts accepted=" + Accepted
            + " (PacketDotNet decoded the same VNI and frame bytes: " + PacketDotNetBytesCompared + "; PacketDotNet refused, forwarded as mirrored: cut short "
            + CutShortForwarded + ", random bytes " + RandomInnerForwarded + "), rejected "
            + string.Join(", ", Rejected.OrderBy(p => p.Key).Select(p => DecapErrorNames.Label(p.Key) + "=" + p.Value));
    }

    /// <summary>The RFC rules, each a separate check on the raw bytes; every rule the datagram breaks is a reason the parser may give.</summary>
    private static class Oracle
    {
        public sealed record Verdict(HashSet<DecapError> Violations, uint Vni, int FrameOffset, int FrameLength);

        public static Verdict Vxlan(byte[] d, int offset = 0, int length = -1)
        {
            length = length < 0 ? d.Length - offset : length;
            var v = new HashSet<DecapError>();
            if (length < 8)
            {
                v.Add(DecapError.HeaderTruncated);
                return new Verdict(v, 0, 0, 0);
            }

            var h = d.AsSpan(offset, 8);
            if ((h[0] & 0x08) == 0)
            {
                v.Add(DecapError.VxlanNoIFlag);
            }

            if ((h[0] & ~0x08) != 0 || h[1] != 0 || h[2] != 0 || h[3] != 0 || h[7] != 0)
            {
                v.Add(DecapError.VxlanReservedBits);
            }

            if (length - 8 < 14)
            {
                v.Add(DecapError.FrameTooShort);
            }

            return new Verdict(v, (uint)((h[4] << 16) | (h[5] << 8) | h[6]), offset + 8, length - 8);
        }

        public static Verdict Geneve(byte[] d)
        {
            static Verdict Reject(params DecapError[] errors) => new([.. errors], 0, 0, 0);
            if (d.Length < 8)
            {
                return Reject(DecapError.HeaderTruncated);
            }

            int version = d[0] >> 6, optionWords = d[0] & 0x3F;
            bool control = (d[1] & 0x80) != 0, critical = (d[1] & 0x40) != 0;
            int protocol = (d[2] << 8) | d[3];
            var header = new HashSet<DecapError>();
            if (version != 0)
            {
                header.Add(DecapError.GeneveVersion);
            }

            if (control)
            {
                header.Add(DecapError.GeneveOam);
            }

            if (critical)
            {
                header.Add(DecapError.GeneveCriticalOption);
            }

            int start = 8 + (4 * optionWords);
            if (d.Length < start)
            {
                header.Add(DecapError.HeaderTruncated);
            }

            if (protocol is not (0x0800 or 0x86DD))
            {
                header.Add(DecapError.GeneveProtocol);
            }

            if (header.Count > 0)
            {
                return new Verdict(header, 0, 0, 0);
            }

            // The mirror's IP datagram; udpStart/udpEnd bound the UDP datagram the IP header says it carries.
            int udpStart, udpEnd;
            var ip = d.AsSpan(start);
            if (protocol == 0x0800)
            {
                if (ip.Length < 20 || ip[0] >> 4 != 4 || (ip[0] & 0x0F) < 5)
                {
                    return Reject(DecapError.InnerIpInvalid);
                }

                int ihl = (ip[0] & 0x0F) * 4, total = (ip[2] << 8) | ip[3];
                if (total < ihl || total > ip.Length)
                {
                    return Reject(DecapError.InnerIpInvalid);
                }

                bool moreFragments = (ip[6] & 0x20) != 0;
                int fragmentOffset = ((ip[6] & 0x1F) << 8) | ip[7];
                if (moreFragments || fragmentOffset != 0)
                {
                    return Reject(DecapError.InnerIpFragment);
                }

                if (ip[9] != 17)
                {
                    return Reject(DecapError.InnerNotUdp);
                }

                (udpStart, udpEnd) = (start + ihl, start + total);
            }
            else
            {
                if (ip.Length < 40 || ip[0] >> 4 != 6)
                {
                    return Reject(DecapError.InnerIpInvalid);
                }

                int payload = (ip[4] << 8) | ip[5];
                if (40 + payload > ip.Length)
                {
                    return Reject(DecapError.InnerIpInvalid);
                }

                if (ip[6] != 17)
                {
                    return Reject(DecapError.InnerNotUdp);
                }

                (udpStart, udpEnd) = (start + 40, start + 40 + payload);
            }

            if (udpEnd - udpStart < 8)
            {
                return Reject(DecapError.InnerUdpInvalid);
            }

            int udpLength = (d[udpStart + 4] << 8) | d[udpStart + 5];
            if (udpLength < 8 || udpLength > udpEnd - udpStart)
            {
                return Reject(DecapError.InnerUdpInvalid);
            }

            if (((d[udpStart + 2] << 8) | d[udpStart + 3]) != VxlanPort)
            {
                return Reject(DecapError.InnerNotVxlanPort);
            }

            return Vxlan(d, udpStart + 8, udpLength - 8);
        }

        /// <summary>An IPv4/IPv6 frame (802.1Q-tagged or not) with fewer bytes than its IP header says: what PacketLength truncation leaves.</summary>
        public static bool CutShort(byte[] frame)
        {
            int l3 = 14, type = (frame[12] << 8) | frame[13];
            if (type == 0x8100)
            {
                if (frame.Length < 18)
                {
                    return true;
                }

                (l3, type) = (18, (frame[16] << 8) | frame[17]);
            }

            var ip = frame.AsSpan(l3);
            return type switch
            {
                0x0800 => ip.Length < 20 || ip.Length < ((ip[2] << 8) | ip[3]) || ip.Length < (ip[0] & 0x0F) * 4,
                0x86DD => ip.Length < 40 || ip.Length < 40 + ((ip[4] << 8) | ip[5]),
                0x0806 => ip.Length < 28,
                _ => false,
            };
        }
    }

    // ---- Generators ----

    private static Gen<Case> CaseGen => Gen.Frequency(
        (5, VxlanGen),
        (5, GeneveGen),
        (1, from bytes in Bytes(0, 120) select new Case(Kind.RandomBytes, "random", bytes)));

    private static Gen<byte[]> Bytes(int min, int max)
        => from n in Gen.Choose(min, max) from b in Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), n) select b;

    /// <summary>Inner frames: whole ones of every layer the dissectors know, cut-short ones, random bytes.</summary>
    private static Gen<(string Name, byte[] Frame)> FrameGen =>
        from vlan in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from network in Gen.Elements(0x0800, 0x86DD, 0x0806)
        from l4 in Gen.Elements(6, 17, 1)
        from fragment in Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true)))
        from payload in Bytes(0, 64)
        from seed in Gen.Choose(0, int.MaxValue)
        from cut in Gen.Frequency((4, Gen.Constant(-1)), (1, Gen.Choose(0, 80)))
        from random in Gen.Frequency((8, Gen.Constant<byte[]?>(null)), (1, Bytes(0, 40).Select(b => (byte[]?)b)))
        let whole = Frame(vlan, network, l4, fragment, payload, new Random(seed))
        select random is not null ? ("random-frame", random)
            : cut >= 0 && cut < whole.Length ? ("cut-" + cut, whole[..cut])
            : ((vlan ? "vlan-" : "") + network.ToString("x4", System.Globalization.CultureInfo.InvariantCulture) + "-" + l4 + (fragment ? "-frag" : ""), whole);

    private static Gen<Case> VxlanGen =>
        from frame in FrameGen
        from vni in Gen.Choose(0, 0xFFFFFF)
        from flags in Gen.Frequency((8, Gen.Constant(0x08)), (1, Gen.Choose(0, 255)))
        from reserved in Gen.Frequency((8, Gen.Constant(-1)), (1, Gen.Elements(1, 2, 3, 7)))
        from reservedValue in Gen.Choose(1, 255)
        from shortHeader in Gen.Frequency((12, Gen.Constant(-1)), (1, Gen.Choose(0, 7)))
        select new Case(Kind.Vxlan, frame.Name + (flags != 0x08 ? " flags " + flags : "") + (reserved >= 0 ? " reserved" + reserved : "") + (shortHeader >= 0 ? " short" : ""),
            VxlanDatagram(frame.Frame, (uint)vni, (byte)flags, reserved, (byte)reservedValue, shortHeader));

    private static byte[] VxlanDatagram(byte[] frame, uint vni, byte flags, int reserved, byte reservedValue, int shortHeader)
    {
        var d = Packets.Vxlan(vni, frame, flags);
        if (reserved >= 0)
        {
            d[reserved] = reservedValue;
        }

        return shortHeader >= 0 ? d[..Math.Min(shortHeader, d.Length)] : d;
    }

    private static Gen<Case> GeneveGen =>
        from vxlan in VxlanGen
        from v6 in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from version in Gen.Frequency((12, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
        from oam in Gen.Frequency((12, Gen.Constant(false)), (1, Gen.Constant(true)))
        from critical in Gen.Frequency((12, Gen.Constant(false)), (1, Gen.Constant(true)))
        from reservedBits in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(1, 0x3F)))
        from options in Gen.Frequency((3, Gen.Constant(0)), (3, Gen.Constant(3)), (1, Gen.Choose(1, 63)))
        from protocol in Gen.Frequency((20, Gen.Constant(-1)), (1, Gen.Constant(0x6558)), (1, Gen.Choose(0, 0xFFFF)))
        from mutation in Gen.Frequency((10, Gen.Constant("")), (1, Gen.Elements("ip-length+", "ip-length-", "ihl", "ip-version", "mf", "frag-offset",
            "not-udp", "udp-length+", "udp-length-", "udp-length<8", "port", "truncate", "trailing")))
        from amount in Gen.Choose(1, 40)
        select new Case(Kind.Geneve, vxlan.Mutation + (v6 ? " v6" : " v4") + " ver" + version + (oam ? " O" : "") + (critical ? " C" : "")
                + " opts" + options + (protocol >= 0 ? " proto" + protocol : "") + " " + mutation,
            GeneveDatagram(vxlan.Datagram, v6, version, oam, critical, reservedBits, options, protocol, mutation, amount));

    private static byte[] GeneveDatagram(byte[] vxlan, bool v6, int version, bool oam, bool critical, int reservedBits, int options,
        int protocol, string mutation, int amount)
    {
        var udp = Packets.Udp(50123, VxlanPort, vxlan);
        var ip = v6 ? Packets.Ipv6("fd00::1", "fd00::2", 17, udp) : Packets.Ipv4("10.0.1.5", "10.0.2.9", 17, udp);
        int l4 = v6 ? 40 : 20;
        switch (mutation)
        {
            case "ip-length+" when !v6: BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)(ip.Length + amount)); break;
            case "ip-length-" when !v6: BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)Math.Max(0, ip.Length - amount)); break;
            case "ip-length+": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(ip.Length - 40 + amount)); break;
            case "ip-length-": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)Math.Max(0, ip.Length - 40 - amount)); break;
            case "ihl" when !v6: ip[0] = (byte)(0x40 | (amount & 0x0F)); break;
            case "ip-version": ip[0] = (byte)((amount & 0x0F) << 4 | (ip[0] & 0x0F)); break;
            case "mf" when !v6: ip[6] |= 0x20; break;
            case "frag-offset" when !v6: ip[7] = (byte)amount; break;
            case "not-udp": ip[v6 ? 6 : 9] = (byte)(amount == 17 ? 6 : amount); break;
            case "udp-length+": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(l4 + 4), (ushort)(udp.Length + amount)); break;
            case "udp-length-": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(l4 + 4), (ushort)Math.Max(8, udp.Length - amount)); break;
            case "udp-length<8": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(l4 + 4), (ushort)(amount % 8)); break;
            case "port": BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(l4 + 2), (ushort)(VxlanPort + amount)); break;
            case "trailing": ip = [.. ip, .. new byte[amount]]; break;
            default: break;
        }

        var d = Packets.Geneve(v6 ? GeneveHeader.EtherTypeIpv6 : GeneveHeader.EtherTypeIpv4, ip, options, oam, version);
        if (critical)
        {
            d[1] |= 0x40;
        }

        d[1] |= (byte)reservedBits;
        if (protocol >= 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), (ushort)protocol);
        }

        if (options == 3)
        {
            // The GWLB's own options (class 0x0108, non-critical types 1-3), as tests/sensor-e2e sends them.
            for (int t = 1; t <= 3; t++)
            {
                int o = 8 + ((t - 1) * 4);
                d[o] = 0x01;
                d[o + 1] = 0x08;
                d[o + 2] = (byte)t;
                d[o + 3] = 0;
            }
        }

        return mutation == "truncate" ? d[..Math.Max(0, d.Length - amount)] : d;
    }

    /// <summary>An Ethernet frame with real headers (lengths right) for the given layers.</summary>
    private static byte[] Frame(bool vlan, int network, int l4, bool fragment, byte[] payload, Random random)
    {
        byte[] transport = l4 switch
        {
            6 => [.. Fill(new byte[20], random, h => { h[12] = 0x50; h[13] = 0x18; }), .. payload],
            17 => Packets.Udp((ushort)random.Next(1, 65535), (ushort)random.Next(1, 65535), payload),
            _ => [.. Fill(new byte[8], random, h => h[0] = 8), .. payload],
        };
        byte[] body = network switch
        {
            0x0800 => Packets.Ipv4("10.77.1.1", "10.77.1.2", (byte)l4, transport, fragment ? (ushort)0x2000 : (ushort)0x4000),
            0x86DD => fragment
                ? Packets.Ipv6("fd77::1", "fd77::2", 44, [(byte)l4, 0, 0, 1, .. Fill(new byte[4], random, _ => { }), .. transport])
                : Packets.Ipv6("fd77::1", "fd77::2", (byte)(l4 == 1 ? 58 : l4), transport),
            _ => Fill(new byte[28], random, a => { a[0] = 0; a[1] = 1; a[2] = 8; a[3] = 0; a[4] = 6; a[5] = 4; }),
        };
        byte[] tag = vlan ? [0x81, 0x00, (byte)random.Next(0, 0x10), (byte)random.Next(1, 255)] : [];
        byte[] type = [(byte)(network >> 8), (byte)network];
        return [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, .. tag, .. type, .. body];
    }

    private static byte[] Fill(byte[] bytes, Random random, Action<byte[]> set)
    {
        random.NextBytes(bytes);
        set(bytes);
        return bytes;
    }
}
