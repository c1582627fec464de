using System.Diagnostics;
using System.Globalization;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;

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
