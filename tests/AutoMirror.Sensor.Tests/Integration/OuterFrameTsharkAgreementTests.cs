using System.Diagnostics;
using System.Globalization;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Tests.Support;
using AutoMirror.Testing;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The AF_XDP path's outer IPv4/UDP checks against tshark's independent dissection of the same
/// frames: scapy writes a capture of valid and broken datagrams (Integration/outer_frames.py), tshark
/// verifies the IP and UDP checksums and reports the header fields, and for every frame the verdict
/// of <see cref="OuterFrame.Parse"/> must be the one the kernel's rules give over tshark's fields,
/// with tshark's UDP payload and IP source when the frame is accepted.
/// </summary>
[Trait("Category", "Integration")]
public class OuterFrameTsharkAgreementTests
{
    private const string Python = "/usr/bin/python3"; // Debian's python3, the one with scapy (as tests/sensor-e2e uses)

    // Wireshark's checksum status values (proto_checksum_enum_e).
    private const string ChecksumBad = "0";

    private static readonly string[] Fields =
    [
        "frame.len", "eth.type", "ip.version", "ip.hdr_len", "ip.len", "ip.flags.mf", "ip.frag_offset", "ip.proto",
        "ip.src", "ip.checksum.status", "udp.length", "udp.checksum.status", "udp.payload",
    ];

    [ScapyAndTsharkFact]
    public async Task Parse_ScapyFrames_AgreesWithTsharksChecksumsAndFields()
    {
        string directory = Directory.CreateTempSubdirectory("automirror-outer-").FullName;
        try
        {
            string pcap = Path.Combine(directory, "outer.pcap");
            string script = Path.Combine(RepositoryRoot.Path, "tests", "AutoMirror.Sensor.Tests", "Integration", "outer_frames.py");
            var names = (await Run(Python, script, pcap)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var (linkType, records) = PcapFile.Read(pcap);
            var dissection = (await Run("tshark", ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                    "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f", .. Fields.SelectMany(f => new[] { "-e", f })]))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => Fields.Zip(line.Split('\t')).ToDictionary(p => p.First, p => p.Second))
                .ToList();

            Assert.Equal(1, linkType);
            Assert.Equal(names.Length, records.Count);
            Assert.Equal(records.Count, dissection.Count);

            var verdicts = new Dictionary<DecapError, int>();
            for (int i = 0; i < records.Count; i++)
            {
                var frame = records[i].Data;
                var fields = dissection[i];
                string where = "frame " + (i + 1) + " (" + names[i] + ")";
                var expected = KernelVerdict(fields);

                var actual = OuterFrame.Parse(frame, out var payload, out uint source);

                Assert.True(expected == actual, where + ": expected " + expected + ", OuterFrame said " + actual);
                verdicts[actual] = verdicts.GetValueOrDefault(actual) + 1;
                if (actual == DecapError.None)
                {
                    // tshark's udp.payload runs to the end of the IP payload; the datagram ends at the UDP length.
                    string datagram = fields["udp.payload"][..(2 * (Int(fields["udp.length"]) - 8))];
                    Assert.True(datagram == Convert.ToHexString(frame[payload]).ToLowerInvariant(), where + ": UDP payload");
                    Assert.True(fields["ip.src"] == new System.Net.IPAddress(frame[26..30]).ToString(), where + ": source (tshark)");
                    Assert.True(source == System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(System.Net.IPAddress.Parse(fields["ip.src"]).GetAddressBytes()), where + ": source address");
                }
            }

            // The capture must exercise every verdict, or agreement says little.
            Assert.True(verdicts.GetValueOrDefault(DecapError.None) >= 15, "accepted frames: " + verdicts.GetValueOrDefault(DecapError.None));
            Assert.True(verdicts.GetValueOrDefault(DecapError.OuterChecksum) >= 8, "checksum errors: " + verdicts.GetValueOrDefault(DecapError.OuterChecksum));
            Assert.True(verdicts.GetValueOrDefault(DecapError.OuterHeaderInvalid) >= 10, "invalid headers: " + verdicts.GetValueOrDefault(DecapError.OuterHeaderInvalid));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// What the kernel's IPv4 and UDP receive paths make of the frame, decided from tshark's fields:
    /// only IPv4 with a 20-byte header, the IP packet within the frame and long enough for UDP, not a
    /// fragment, UDP, a good header checksum, a UDP length within the IP payload, and a UDP checksum
    /// that is either absent or verified good.
    /// </summary>
    private static DecapError KernelVerdict(Dictionary<string, string> f)
    {
        int frameLength = Int(f["frame.len"]);
        if (frameLength < 42 || f["eth.type"] != "0x0800" || f["ip.version"] != "4" || f["ip.hdr_len"] != "20")
        {
            return DecapError.OuterHeaderInvalid;
        }

        int ipLength = Int(f["ip.len"]);
        if (ipLength > frameLength - 14 || ipLength < 28 || f["ip.flags.mf"] != "0" || f["ip.frag_offset"] != "0" || f["ip.proto"] != "17")
        {
            return DecapError.OuterHeaderInvalid;
        }

        if (f["ip.checksum.status"] == ChecksumBad)
        {
            return DecapError.OuterChecksum;
        }

        int udpLength = Int(f["udp.length"]);
        if (udpLength < 8 || udpLength > ipLength - 20)
        {
            return DecapError.OuterHeaderInvalid;
        }

        return f["udp.checksum.status"] == ChecksumBad ? DecapError.OuterChecksum : DecapError.None;
    }

    private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

    private static async Task<string> Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, program + " failed: " + await stderr);
        return await stdout;
    }
}

/// <summary>Skips, saying what is missing, without tshark on PATH or scapy in Debian's python3.</summary>
public sealed class ScapyAndTsharkFactAttribute : FactAttribute
{
    public ScapyAndTsharkFactAttribute()
    {
        Skip = Prerequisites.MissingTools("tshark") ?? (HasScapy() ? null : "skipped: needs /usr/bin/python3 with scapy (tests/sensor-e2e/prereqs.sh installs it)");
    }

    private static bool HasScapy()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }

        using var process = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import scapy.all"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        return process.WaitForExit(TimeSpan.FromSeconds(60)) && process.ExitCode == 0;
    }
}
