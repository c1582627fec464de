using System.Diagnostics;
using System.Globalization;
using System.Net;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;
using PacketDotNet;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The parsers against captures made by real tools (the kernel's VXLAN device + tcpdump; scapy's
/// GENEVE as a GWLB delivers it; see tests/sensor-e2e/make-fixtures.sh), checked field by field
/// against tshark's independent dissection of the same files.
/// </summary>
[Trait("Category", "Integration")]
public class TsharkAgreementTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    [ToolFact("tshark")]
    public async Task VxlanFromTheKernel_DecodedFieldsMatchTshark()
        => await AssertAgreesWithTshark("vxlan-kernel.pcap", Encapsulation.Vxlan);

    [ToolFact("tshark")]
    public async Task GeneveAroundVxlan_DecodedFieldsMatchTshark()
        => await AssertAgreesWithTshark("geneve-gwlb.pcap", Encapsulation.Geneve);

    /// <summary>
    /// The frames the parsers take out of the fixtures, written to a capture of their own, read
    /// alike by tshark and PacketDotNet, and as tshark read the mirrored frame inside its
    /// encapsulation (the innermost Ethernet, IP and transport fields of the whole datagram).
    /// </summary>
    [ToolFact("tshark")]
    public void DecapsulatedFrames_DissectInPacketDotNetAsTsharkReadsThemInsideTheTunnel()
    {
        foreach (var (fixture, encapsulation) in new[] { ("vxlan-kernel.pcap", Encapsulation.Vxlan), ("geneve-gwlb.pcap", Encapsulation.Geneve) })
        {
            var (linkType, records) = PcapFile.Read(Fixture(fixture));
            var frames = records.Select(r =>
            {
                var payload = PcapFile.UdpPayload(r.Data, linkType, out _, out _)!;
                var error = encapsulation == Encapsulation.Vxlan
                    ? VxlanHeader.Parse(payload, out _, out var frame)
                    : GeneveHeader.Parse(payload, 4789, out _, out frame);
                Assert.Equal(DecapError.None, error);
                return frame.ToArray();
            }).ToList();
            string decapsulated = Path.Combine(Directory.CreateTempSubdirectory("automirror-decap-").FullName, "frames.pcap");
            try
            {
                WritePcap(decapsulated, frames);
                var agreed = FrameDissector.AssertBothAgree(decapsulated, fixture + " decapsulated");

                // Inside the tunnel, the occurrence after the encapsulation's own is the mirrored frame's.
                var inTunnel = Tshark(Fixture(fixture), "eth.src", "ip.src", "ip.dst", "ip.id", "ipv6.src", "ipv6.dst", "tcp.srcport", "udp.srcport").GetAwaiter().GetResult();
                for (int i = 0; i < agreed.Count; i++)
                {
                    var d = agreed[i];
                    var t = inTunnel[i];
                    string where = fixture + " frame " + (i + 1);
                    Assert.True(t["eth.src"][^1] == d.EthSrc, where + ": inner source MAC");
                    if (encapsulation == Encapsulation.Vxlan)
                    {
                        // PacketDotNet decodes VXLAN on UDP 4789 by itself (it has no GENEVE): the frame is what follows
                        // its VXLAN header up to the end of its UDP datagram. (Not its Ethernet packet's Bytes: PacketDotNet
                        // rebuilds those and repeats 4 bytes of an ICMPv6 neighbour solicitation, frame 4 here.)
                        var vxlan = Packet.ParsePacket(LinkLayers.Ethernet, records[i].Data).Extract<VxlanPacket>();
                        Assert.True(vxlan?.PayloadPacket is EthernetPacket, where + ": PacketDotNet finds no Ethernet frame inside VXLAN");
                        var h = vxlan.HeaderSegment;
                        Assert.True(h.Bytes.AsSpan(h.Offset + h.Length, h.BytesLength - h.Offset - h.Length).SequenceEqual(frames[i]), where + ": not the frame PacketDotNet finds inside VXLAN");
                    }

                    // IPv4 headers around the mirrored frame: the underlay's, and for GENEVE the mirror's own.
                    int outer = encapsulation == Encapsulation.Vxlan ? 1 : 2;
                    // (An ICMP error quotes one more, after the mirrored frame's own.)
                    Assert.True(d.IpVersion == 4 ? t["ip.src"].Length > outer : t["ip.src"].Length == outer, where + ": IPv4 headers tshark found: " + string.Join(",", t["ip.src"]));
                    if (d.IpVersion == 6)
                    {
                        // The underlay is IPv4: every IPv6 header tshark saw is the mirrored frame's.
                        Assert.True(IPAddress.Parse(t["ipv6.src"][0]).ToString() == d.IpSrc && IPAddress.Parse(t["ipv6.dst"][0]).ToString() == d.IpDst, where + ": inner IPv6 addresses");
                    }

                    if (d.IpVersion != 4)
                    {
                        continue;
                    }

                    Assert.True(t["ip.src"][outer] == d.IpSrc && t["ip.dst"][outer] == d.IpDst, where + ": inner addresses");
                    Assert.True(Convert.ToInt64(t["ip.id"][outer], 16) == d.IpId, where + ": inner IP id");
                    if (d.L4 is "tcp" or "udp")
                    {
                        var port = d.L4 == "tcp" ? t["tcp.srcport"][0] : t["udp.srcport"][outer];
                        Assert.True(int.Parse(port, CultureInfo.InvariantCulture) == d.SrcPort, where + ": inner source port");
                    }
                }
            }
            finally
            {
                Directory.Delete(Path.GetDirectoryName(decapsulated)!, recursive: true);
            }
        }
    }

    private static void WritePcap(string path, List<byte[]> frames)
    {
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(0xA1B2C3D4u);
        writer.Write((ushort)2);
        writer.Write((ushort)4);
        writer.Write(0L);
        writer.Write(65535);
        writer.Write(1); // Ethernet
        foreach (var frame in frames)
        {
            writer.Write(0L);
            writer.Write(frame.Length);
            writer.Write(frame.Length);
            writer.Write(frame);
        }
    }

    private enum Encapsulation
    {
        Vxlan,
        Geneve,
    }

    private static async Task AssertAgreesWithTshark(string fixture, Encapsulation encapsulation)
    {
        var path = Fixture(fixture);
        var (linkType, records) = PcapFile.Read(path);
        var dissection = await Tshark(path, "vxlan.vni", "eth.src", "eth.dst", "eth.type", "udp.length");
        Assert.Equal(records.Count, dissection.Count);
        Assert.True(records.Count >= 20, fixture + " should hold a real exchange");

        for (int i = 0; i < records.Count; i++)
        {
            var payload = PcapFile.UdpPayload(records[i].Data, linkType, out _, out _);
            Assert.NotNull(payload);
            uint vni;
            ReadOnlySpan<byte> frame;
            var error = encapsulation == Encapsulation.Vxlan
                ? VxlanHeader.Parse(payload, out vni, out frame)
                : GeneveHeader.Parse(payload, 4789, out vni, out frame);
            Assert.Equal(DecapError.None, error);

            var fields = dissection[i];
            string where = fixture + " frame " + (i + 1);
            Assert.True(uint.Parse(fields["vxlan.vni"][0], CultureInfo.InvariantCulture) == vni, where + ": VNI");
            // Occurrence 0 is the outer Ethernet header; 1 is the mirrored frame's.
            Assert.True(Mac(frame[6..12]) == fields["eth.src"][1], where + ": inner source MAC");
            Assert.True(Mac(frame[..6]) == fields["eth.dst"][1], where + ": inner destination MAC");
            Assert.True(Convert.ToInt32(fields["eth.type"][1], 16) == ((frame[12] << 8) | frame[13]), where + ": inner EtherType");
            // The UDP datagram that carries VXLAN: its length minus UDP and VXLAN headers is the frame.
            int vxlanUdp = encapsulation == Encapsulation.Vxlan ? 0 : 1;
            Assert.True(int.Parse(fields["udp.length"][vxlanUdp], CultureInfo.InvariantCulture) - 16 == frame.Length, where + ": frame length");
        }
    }

    private static string Mac(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant().Chunk(2).Select(c => new string(c)).Aggregate((a, b) => a + ":" + b);

    private static async Task<List<Dictionary<string, string[]>>> Tshark(string path, params string[] fields)
    {
        var start = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=," })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var field in fields)
        {
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add(field);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, "tshark failed: " + await stderr);
        return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Select(cols => fields.Select((f, j) => (f, cols[j].Split(','))).ToDictionary(p => p.f, p => p.Item2))
            .ToList();
    }
}
