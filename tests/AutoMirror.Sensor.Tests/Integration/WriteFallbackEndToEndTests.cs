using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The same end-to-end run with Sensor:Tap:IoUring=false: the path a machine without io_uring
/// (old kernel, kernel.io_uring_disabled, a seccomp profile) falls back to, one write() per frame,
/// must deliver the same frames and the same Suricata view.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class WriteFallbackEndToEndTests(ITestOutputHelper output, WriteFallbackEndToEndTests.WriteRun fixture) : IClassFixture<WriteFallbackEndToEndTests.WriteRun>
{
    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Tap_CarriesTheOriginalFramesByteForByte() => EndToEndTests.WithRun(output, fixture, run =>
    {
        Assert.Contains("one write() per frame", File.ReadAllText(Path.Combine(run.Work, "sensor.log")), StringComparison.Ordinal);
        var original = EndToEndTests.Frames(Path.Combine(run.Work, "original.pcap"));

        EndToEndTests.AssertSameFrames(original, EndToEndTests.Frames(Path.Combine(run.Work, "tap.pcap")), "TAP");
        EndToEndTests.AssertSameFrames(original, EndToEndTests.Frames(Path.Combine(run.Work, "tap-geneve.pcap")), "TAP (GENEVE)");
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet", DissectorAgreement.Tshark)]
    public void EveryForwardedFrame_DissectsAsTheInput_InTsharkAndPacketDotNet()
        => EndToEndTests.WithRun(output, fixture, run => DissectorAgreement.AssertForwardedFramesDissectAsTheInput(run));

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void SuricataOnTheTap_LogsTheSameFlowsAsFromTheOriginalCapture() => EndToEndTests.WithRun(output, fixture, run =>
    {
        var live = EndToEndTests.EveEvents(Path.Combine(run.Work, "eve-live", "eve.json"));
        var offline = EndToEndTests.EveEvents(Path.Combine(run.Work, "eve-offline", "eve.json"));

        Assert.Equal(offline, live);
        Assert.Contains(live, e => e.StartsWith("http|", StringComparison.Ordinal));
    });

    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Shutdown_RemovesTheTap() => EndToEndTests.WithRun(output, fixture, run =>
    {
        Assert.Equal("0", File.ReadAllText(Path.Combine(run.Work, "sensor-exit.txt")).Trim());
        Assert.Equal("absent", File.ReadAllText(Path.Combine(run.Work, "tap-after-stop.txt")).Trim());
    });

    public sealed class WriteRun : EndToEndTests.Run
    {
        public WriteRun()
            : base(["--Sensor:Tap:IoUring=false"])
        {
        }
    }
}
