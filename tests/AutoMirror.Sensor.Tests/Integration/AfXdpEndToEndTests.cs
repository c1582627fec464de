using System.Globalization;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The same end-to-end run with the AF_XDP receive path on the sensor namespace's mirror interface
/// (x0 in e2e.sh): the XDP program takes every mirrored datagram before the kernel's IP/UDP stack,
/// the jumbo GSO frames of the capture too (several descriptors each), and what a user sees on the
/// TAP, in Suricata and in the drop counters must not change. What still takes the UDP sockets
/// (fragments, IP options) is in <see cref="FrameReceiveNamespaceTests"/>. Failing (not skipping)
/// when the kernel refuses the program is deliberate: a verifier rejection is exactly the regression
/// that would otherwise pass silently as the socket fallback. Run twice: Auto (veth's driver XDP)
/// and Generic, the mode an ENA mirror target with a 9001-byte MTU ends up in.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpEndToEndTests(ITestOutputHelper output, AfXdpEndToEndTests.XdpRun fixture)
    : AfXdpEndToEndAssertions(output, fixture, "native"), IClassFixture<AfXdpEndToEndTests.XdpRun>
{
    public sealed class XdpRun : EndToEndTests.Run
    {
        public XdpRun()
            : base(["--af-xdp", "x0"])
        {
        }
    }
}

/// <summary>The same with Sensor:AfXdp:Mode=Generic: the program runs after the kernel built the socket buffer.</summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpGenericEndToEndTests(ITestOutputHelper output, AfXdpGenericEndToEndTests.GenericRun fixture)
    : AfXdpEndToEndAssertions(output, fixture, "generic"), IClassFixture<AfXdpGenericEndToEndTests.GenericRun>
{
    public sealed class GenericRun : EndToEndTests.Run
    {
        public GenericRun()
            : base(["--af-xdp", "x0", "--Sensor:AfXdp:Mode=Generic"])
        {
        }
    }
}

/// <summary>What either AF_XDP run must show; <paramref name="mode"/> is how the program must have been attached.</summary>
public abstract class AfXdpEndToEndAssertions(ITestOutputHelper output, EndToEndTests.Run fixture, string mode)
    : FramePathEndToEndAssertions(output, fixture, "rx-xdp-")
{
    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Log_SaysAfXdpIsOnForTheMirrorInterface() => WithRun(run =>
    {
        var log = File.ReadAllText(Path.Combine(run.Work, "sensor.log"));
        var metrics = EndToEndTests.Metrics(Path.Combine(run.Work, "metrics.txt"));

        Assert.DoesNotContain("is not available", log, StringComparison.Ordinal);
        Assert.Matches(@"AF_XDP on x0: [1-9][0-9]* receive queues, " + mode + " XDP", log);
        Assert.True(metrics["automirror_sensor_af_xdp_queues"] >= 1, "af_xdp_queues gauge: " + metrics["automirror_sensor_af_xdp_queues"]);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void JumboDatagrams_SpanSeveralDescriptors_AndTheKernelLostNone() => WithRun(run =>
    {
        int originals = (int)Sent(run)["originals"];
        var vxlan = EndToEndTests.Frames(Path.Combine(run.Work, "wrapped.pcap")).Take(originals).Select(f => f.Length).ToList();
        var geneve = EndToEndTests.Frames(Path.Combine(run.Work, "wrapped-geneve.pcap")).Select(f => f.Length).ToList();
        Output.WriteLine("wrapped VXLAN datagram sizes: " + string.Join(",", vxlan.Order()));

        // Without a datagram over one AF_XDP frame, reassembly from several descriptors would go untested
        // (the TAP test then shows those frames arrive byte for byte).
        Assert.True(vxlan.Count(n => n > XskSocket.FrameSize) >= 1 && geneve.Count(n => n > XskSocket.FrameSize) >= 1,
            "the capture should hold a GSO frame whose datagram is larger than one " + XskSocket.FrameSize + "-byte AF_XDP frame (the e2e.sh download)");
        var kernel = EndToEndTests.Metrics(Path.Combine(run.Work, "metrics-geneve.txt"));
        Assert.Equal(0, kernel["automirror_sensor_af_xdp_kernel_total{counter=\"dropped\"}"]);
        Assert.Equal(0, kernel["automirror_sensor_af_xdp_kernel_total{counter=\"rx_ring_full\"}"]);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Shutdown_DetachesTheProgram() => WithRun(run =>
    {
        // Checked while running too, so "no program after stop" is not just an attachment ip(8) never shows.
        Assert.Contains("prog/xdp", File.ReadAllText(Path.Combine(run.Work, "x0-running.txt")), StringComparison.Ordinal);
        Assert.DoesNotContain("xdp", File.ReadAllText(Path.Combine(run.Work, "x0-after-stop.txt")), StringComparison.Ordinal);
    });
}

/// <summary>
/// What a run must show whose sensor takes whole frames off x0 (AF_XDP, the packet ring) instead of
/// UDP payloads from its sockets: the same TAP bytes, the same Suricata events, the same counters as
/// the socket path, every mirrored datagram forwarded by the frame path's worker (none by a socket),
/// and a clean stop.
/// </summary>
public abstract class FramePathEndToEndAssertions(ITestOutputHelper output, EndToEndTests.Run fixture, string workerPrefix)
{
    protected ITestOutputHelper Output => output;

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Tap_CarriesTheOriginalFramesByteForByte() => WithRun(run =>
    {
        var original = EndToEndTests.Frames(Path.Combine(run.Work, "original.pcap"));

        Assert.True(original.Count >= 30, "the exchange should have produced frames, got " + original.Count);
        EndToEndTests.AssertSameFrames(original, EndToEndTests.Frames(Path.Combine(run.Work, "tap.pcap")), "TAP");
        EndToEndTests.AssertSameFrames(original, EndToEndTests.Frames(Path.Combine(run.Work, "tap-geneve.pcap")), "TAP (GENEVE)");
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet", DissectorAgreement.Tshark)]
    public void EveryForwardedFrame_DissectsAsTheInput_InTsharkAndPacketDotNet()
        => WithRun(run => DissectorAgreement.AssertForwardedFramesDissectAsTheInput(run));

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void SuricataOnTheTap_LogsTheSameFlowsAsFromTheOriginalCapture() => WithRun(run =>
    {
        var live = EndToEndTests.EveEvents(Path.Combine(run.Work, "eve-live", "eve.json"));
        var offline = EndToEndTests.EveEvents(Path.Combine(run.Work, "eve-offline", "eve.json"));

        Assert.Equal(offline, live);
        Assert.True(live.Count(e => e.StartsWith("http|", StringComparison.Ordinal)) >= 3, "HTTP transactions logged");
        Assert.True(live.Count(e => e.StartsWith("dns|", StringComparison.Ordinal)) >= 3, "DNS queries logged");
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void EveryMirroredDatagram_TakesTheFramePath_JumboOnesIncluded() => WithRun(run =>
    {
        int originals = (int)Sent(run)["originals"];
        var afterVxlan = WorkerCounts(run, "metrics.txt");
        var afterGeneve = WorkerCounts(run, "metrics-geneve.txt");
        Assert.Equal(originals, afterVxlan.Frames);
        Assert.Equal(0, afterVxlan.Socket("4789"));
        Assert.Equal(originals, afterGeneve.Frames - afterVxlan.Frames);
        Assert.Equal(0, afterGeneve.Socket("6081"));
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Metrics_CountForwardedRejectedAndGarbage_AsOnTheSocketPath() => WithRun(run =>
    {
        var sent = Sent(run);
        var metrics = EndToEndTests.Metrics(Path.Combine(run.Work, "metrics.txt"));
        var geneve = EndToEndTests.Metrics(Path.Combine(run.Work, "metrics-geneve.txt"));

        Assert.Equal(sent["originals"] + sent["foreign"] + sent["garbage"], metrics["automirror_sensor_datagrams_total"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_output_frames_total{output=\"tap\"}"]);
        Assert.Equal(sent["originals"], metrics["automirror_sensor_vni_frames_total{vni=\"" + sent["vni"] + "\"}"]);
        Assert.Equal(sent["foreign"], metrics["automirror_sensor_drops_total{reason=\"source_rejected\"}"]);
        Assert.Equal(sent["garbage"], metrics["automirror_sensor_drops_total{reason=\"decap_error\"}"]);
        Assert.Equal(sent["garbage"], metrics["automirror_sensor_decap_errors_total{reason=\"header_truncated\"}"]);
        // Well-formed outer headers from a real stack: the user-space IP/UDP checks must not reject any.
        Assert.Equal(0, metrics["automirror_sensor_decap_errors_total{reason=\"outer_header_invalid\"}"]);
        Assert.Equal(0, metrics["automirror_sensor_decap_errors_total{reason=\"outer_checksum\"}"]);
        Assert.Equal(0, geneve["automirror_sensor_drops_total{reason=\"receive_queue_full\"}"]);
        Assert.Equal(2 * sent["originals"], geneve["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(sent["garbage"], geneve["automirror_sensor_drops_total{reason=\"decap_error\"}"]);
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Shutdown_IsCleanAndRemovesTheTap() => WithRun(run =>
    {
        Assert.Equal("0", File.ReadAllText(Path.Combine(run.Work, "sensor-exit.txt")).Trim());
        Assert.Equal("absent", File.ReadAllText(Path.Combine(run.Work, "tap-after-stop.txt")).Trim());
    });

    protected static Dictionary<string, long> Sent(EndToEndTests.Run run)
        => File.ReadAllLines(Path.Combine(run.Work, "sent.txt")).Select(l => l.Split('='))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

    protected void WithRun(Action<EndToEndTests.Run> assertions) => EndToEndTests.WithRun(output, fixture, assertions);

    private (long Frames, Func<string, long> Socket) WorkerCounts(EndToEndTests.Run run, string file)
    {
        var perWorker = File.ReadAllLines(Path.Combine(run.Work, file))
            .Where(l => l.StartsWith("automirror_sensor_worker_frames_forwarded_total{", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
        long Sum(string prefix) => perWorker.Where(p => p.Key.Contains("worker=\"" + prefix, StringComparison.Ordinal)).Sum(p => p.Value);
        return (Sum(workerPrefix), port => Sum("rx-" + port + "-"));
    }
}
