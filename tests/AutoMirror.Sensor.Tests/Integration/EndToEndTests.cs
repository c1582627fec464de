using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AutoMirror.Sensor.Tests.Support;
using AutoMirror.Testing;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The sensor in network namespaces with real traffic (tests/sensor-e2e/e2e.sh does the plumbing):
/// HTTP and DNS between two namespaces, captured, wrapped in VXLAN as AWS does, sent to the sensor;
/// the TAP must carry exactly the original frames, Suricata on the TAP must log what it logs from
/// the original capture, and health must follow the downstream analyser.
/// </summary>
[Trait("Category", "Integration")]
[Collection(Serial)]
public sealed class EndToEndTests(ITestOutputHelper output, EndToEndTests.Run fixture) : IClassFixture<EndToEndTests.Run>
{
    /// <summary>
    /// End-to-end runs one at a time: health watches for any process named Suricata-Main, so a
    /// second run's Suricata would make the first one's "analyser stopped" phase look healthy.
    /// </summary>
    public const string Serial = "sensor end-to-end runs";

    private const string Tools = "ip,tcpdump,tcpreplay,curl,suricata,dotnet";

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Tap_CarriesTheOriginalFramesByteForByte() => WithRun(run =>
    {
        var original = Frames(Path.Combine(run.Work, "original.pcap"));
        var onTap = Frames(Path.Combine(run.Work, "tap.pcap"));

        Assert.True(original.Count >= 30, "the exchange should have produced frames, got " + original.Count);
        AssertSameFrames(original, onTap, "TAP");
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet", DissectorAgreement.Tshark)]
    public void EveryForwardedFrame_DissectsAsTheInput_InTsharkAndPacketDotNet()
        => WithRun(run => DissectorAgreement.AssertForwardedFramesDissectAsTheInput(run));

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Tap_IsWrittenInBatchesByDefault() => WithRun(run =>
    {
        // The deploy does not set Sensor:Tap:IoUring: this machine must take the batched path, not the fallback.
        var log = File.ReadAllText(Path.Combine(run.Work, "sensor.log"));
        Assert.Contains("batched writes (io_uring)", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Batched writes to", log, StringComparison.Ordinal);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void GeneveFromAGatewayLoadBalancer_PutsTheOriginalFramesOnTheTap() => WithRun(run =>
    {
        var original = Frames(Path.Combine(run.Work, "original.pcap"));
        var onTap = Frames(Path.Combine(run.Work, "tap-geneve.pcap"));
        var metrics = Metrics(Path.Combine(run.Work, "metrics-geneve.txt"));

        AssertSameFrames(original, onTap, "TAP (GENEVE)");
        Assert.Equal(2 * original.Count, metrics["automirror_sensor_frames_forwarded_total"]);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void PcapOutput_HoldsTheOriginalFramesByteForByte() => WithRun(run =>
    {
        // The pcap output got the VXLAN phase and then the GENEVE phase: the originals twice.
        var original = Frames(Path.Combine(run.Work, "original.pcap"));
        var written = Directory.GetFiles(Path.Combine(run.Work, "sensor-pcap"), "*.pcap").Order(StringComparer.Ordinal)
            .SelectMany(Frames).ToList();

        AssertSameFrames([.. original, .. original], written, "pcap output");
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void SuricataOnTheTap_LogsTheSameFlowsAsFromTheOriginalCapture() => WithRun(run =>
    {
        var live = EveEvents(Path.Combine(run.Work, "eve-live", "eve.json"));
        var offline = EveEvents(Path.Combine(run.Work, "eve-offline", "eve.json"));

        Assert.Equal(offline, live);
        Assert.True(live.Count(e => e.StartsWith("http|", StringComparison.Ordinal)) >= 3, "HTTP transactions logged");
        Assert.True(live.Count(e => e.StartsWith("dns|", StringComparison.Ordinal)) >= 3, "DNS queries logged");
        Assert.Contains(live, e => e.StartsWith("flow|", StringComparison.Ordinal) && e.Contains("|dns|", StringComparison.Ordinal));
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Health_FollowsTheDownstreamAnalyser() => WithRun(run =>
    {
        var phases = File.ReadAllLines(Path.Combine(run.Work, "health.tsv"))
            .Select(l => l.Split('\t')).ToDictionary(c => c[0], c => (Code: c[1], Body: c[2]));

        Assert.Equal("503", phases["before-downstream"].Code);
        Assert.Contains("'Suricata-Main' is not running", phases["before-downstream"].Body, StringComparison.Ordinal);
        Assert.Equal("200", phases["downstream-up"].Code);
        Assert.Equal("503", phases["downstream-stopped"].Code);
        Assert.Contains("'Suricata-Main' is not running", phases["downstream-stopped"].Body, StringComparison.Ordinal);
        Assert.Equal("200", phases["downstream-restarted"].Code);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Health_FollowsTheTapInterface() => WithRun(run =>
    {
        var phases = File.ReadAllLines(Path.Combine(run.Work, "health.tsv"))
            .Select(l => l.Split('\t')).ToDictionary(c => c[0], c => (Code: c[1], Body: c[2]));

        Assert.Equal("503", phases["tap-down"].Code);
        Assert.Contains("is down", phases["tap-down"].Body, StringComparison.Ordinal);
        Assert.Equal("200", phases["tap-up"].Code);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Metrics_CountForwardedRejectedAndGarbage() => WithRun(run =>
    {
        var sent = File.ReadAllLines(Path.Combine(run.Work, "sent.txt")).Select(l => l.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
        var metrics = Metrics(Path.Combine(run.Work, "metrics.txt"));

        Assert.Equal(sent["originals"] + sent["foreign"] + sent["garbage"], metrics["automirror_sensor_datagrams_total"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_output_frames_total{output=\"tap\"}"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_vni_frames_total{vni=\"" + sent["vni"] + "\"}"]);
        Assert.Equal(sent["foreign"], metrics["automirror_sensor_drops_total{reason=\"source_rejected\"}"]);
        Assert.Equal(sent["garbage"], metrics["automirror_sensor_drops_total{reason=\"decap_error\"}"]);
        Assert.Equal(sent["garbage"], metrics["automirror_sensor_decap_errors_total{reason=\"header_truncated\"}"]);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Steering_KeepsBothDirectionsOfAConversationOnOneWorker() => WithRun(run =>
    {
        // The outer source port differs per direction (5-tuple hash), so kernel's default reuseport
        // hash would spread one connection over both workers (and could reorder it). Expected: worker
        // = (src ^ dst, folded) % 2 over the inner addresses, the same for both directions.
        var expected = new long[2];
        foreach (var frame in Frames(Path.Combine(run.Work, "original.pcap")))
        {
            expected[ExpectedWorker(frame, 2)]++;
        }

        long[] PerWorker(string file, string port) => File.ReadAllLines(Path.Combine(run.Work, file))
            .Where(l => l.StartsWith("automirror_sensor_worker_frames_forwarded_total{worker=\"rx-" + port + "-", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture)).ToArray();

        var perWorker = PerWorker("metrics.txt", "4789");
        Assert.Equal(expected, perWorker);
        Assert.Equal(expected, PerWorker("metrics-geneve.txt", "6081"));
        Assert.Contains(perWorker, n => n >= 30); // the whole HTTP/DNS conversation on one worker
    });

    private static int ExpectedWorker(byte[] frame, int workers)
    {
        int type = (frame[12] << 8) | frame[13];
        uint a, b;
        if (type == 0x0800)
        {
            a = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 12));
            b = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 16));
        }
        else if (type == 0x86DD)
        {
            a = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 20));
            b = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 36));
        }
        else
        {
            return 0;
        }

        uint x = a ^ b;
        return (int)((x ^ (x >> 16)) % (uint)workers);
    }

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Shutdown_ClosesTheTapAndFlushesThePcap() => WithRun(run =>
    {
        Assert.Equal("0", File.ReadAllText(Path.Combine(run.Work, "sensor-exit.txt")).Trim());
        Assert.Equal("absent", File.ReadAllText(Path.Combine(run.Work, "tap-after-stop.txt")).Trim());
        Assert.Contains("Stopped: pcap flushed, outputs closed", File.ReadAllText(Path.Combine(run.Work, "sensor.log")), StringComparison.Ordinal);
    });

    private void WithRun(Action<Run> assertions) => WithRun(output, fixture, assertions);

    internal static void WithRun(ITestOutputHelper output, Run run, Action<Run> assertions)
    {
        output.WriteLine("work directory: " + run.Work);
        if (run.Failure is not null)
        {
            output.WriteLine(run.Log);
            Assert.Fail(run.Failure);
        }

        try
        {
            assertions(run);
        }
        catch
        {
            run.KeepWork = true;
            output.WriteLine(run.Log);
            throw;
        }
    }

    internal static void AssertSameFrames(List<byte[]> expected, List<byte[]> actual, string where)
    {
        Assert.True(expected.Count == actual.Count, where + ": " + actual.Count + " frames, expected " + expected.Count);
        // Receive workers may interleave different flows; each frame must be there exactly once, unchanged.
        var remaining = expected.GroupBy(Convert.ToHexString).ToDictionary(g => g.Key, g => g.Count());
        foreach (var frame in actual)
        {
            var key = Convert.ToHexString(frame);
            Assert.True(remaining.TryGetValue(key, out int n) && n > 0, where + ": a frame that is not in the original capture: " + key[..Math.Min(80, key.Length)]);
            remaining[key] = n - 1;
        }
    }

    internal static Dictionary<string, long> Metrics(string path)
        => File.ReadAllLines(path).Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

    internal static List<byte[]> Frames(string path)
    {
        var (linkType, records) = PcapFile.Read(path);
        Assert.Equal(1, linkType);
        return records.Select(r => r.Data).ToList();
    }

    /// <summary>Events reduced to what does not depend on when or where they were logged.</summary>
    internal static List<string> EveEvents(string path)
    {
        var events = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            string type = e.GetProperty("event_type").GetString()!;
            if (type == "stats")
            {
                continue;
            }

            string S(params string[] path)
            {
                var cur = e;
                foreach (var p in path)
                {
                    if (cur.ValueKind != JsonValueKind.Object || !cur.TryGetProperty(p, out cur))
                    {
                        return "";
                    }
                }

                return cur.ToString();
            }

            events.Add(string.Join('|', type, S("src_ip"), S("src_port"), S("dest_ip"), S("dest_port"), S("proto"), S("app_proto"),
                S("http", "hostname"), S("http", "url"), S("http", "status"), S("http", "http_user_agent"),
                S("dns", "type"), S("dns", "rrname"), S("dns", "id"), S("dns", "queries"), S("dns", "answers"),
                S("flow", "pkts_toserver"), S("flow", "pkts_toclient"), S("flow", "bytes_toserver"), S("flow", "bytes_toclient"),
                S("fileinfo", "filename"), S("fileinfo", "size")));
        }

        events.Sort(StringComparer.Ordinal);
        return events;
    }

    /// <summary>Runs e2e.sh once for all the facts above (it takes tens of seconds).</summary>
    public class Run : IDisposable
    {
        public Run()
            : this([])
        {
        }

        /// <param name="sensorFlags">Extra flags for the sensor (e2e.sh passes them on).</param>
        protected Run(string[] sensorFlags)
        {
            Work = Path.Combine(Path.GetTempPath(), "automirror-e2e-" + Guid.NewGuid().ToString("N")[..8]);
            if (Prerequisites.MissingNetns() is not null || Prerequisites.MissingTools(Tools.Split(',')) is not null)
            {
                Failure = "prerequisites missing";
                return;
            }

            Directory.CreateDirectory(Work);
            var script = Path.Combine(RepositoryRoot.Path, "tests", "sensor-e2e", "e2e.sh");
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(script);
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AutoMirror.Sensor.dll"));
            start.ArgumentList.Add(Work);
            foreach (var flag in sensorFlags)
            {
                start.ArgumentList.Add(flag);
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
            {
                // SIGTERM first: the script's trap removes its namespaces and processes.
                using (Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) { }
                process.WaitForExit(TimeSpan.FromSeconds(20));
                Failure = "e2e.sh timed out";
            }
            else if (process.ExitCode != 0)
            {
                Failure = "e2e.sh exited with " + process.ExitCode;
            }

            Log = stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult();
            if (Failure is null)
            {
                return;
            }

            KeepWork = true;
            foreach (var file in new[] { "sensor.log", "tcpreplay.log", "health.tsv" })
            {
                var p = Path.Combine(Work, file);
                Log += File.Exists(p) ? "\n--- " + file + "\n" + File.ReadAllText(p) : "";
            }
        }

        public string Work { get; }

        public string? Failure { get; }

        public string Log { get; } = "";

        public bool KeepWork { get; set; }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            if (disposing && !KeepWork && Directory.Exists(Work))
            {
                Directory.Delete(Work, recursive: true);
            }
        }
    }
}
