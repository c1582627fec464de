using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The same end-to-end run with the packet ring on the sensor namespace's mirror interface (x0 in
/// e2e.sh): the ring copies every mirrored datagram, the jumbo GSO frames of the capture too, as the
/// kernel's packet taps see it, and the tcx program drops it before the IP/UDP stack, so the UDP
/// sockets forward none. What a user sees on the TAP, in Suricata and in the drop counters must not
/// change. Failing (not skipping) when the kernel refuses the ring or the program is deliberate: that
/// is exactly the regression that would otherwise pass silently as the socket fallback.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class PacketRingEndToEndTests(ITestOutputHelper output, PacketRingEndToEndTests.RingRun fixture)
    : FramePathEndToEndAssertions(output, fixture, "rx-ring-"), IClassFixture<PacketRingEndToEndTests.RingRun>
{
    [NetnsFact("ip", "tcpdump", "tcpreplay", "curl", "suricata", "dotnet")]
    public void Log_SaysThePacketRingIsOnForTheMirrorInterface_AndTheRingLostNothing() => WithRun(run =>
    {
        var log = File.ReadAllText(Path.Combine(run.Work, "sensor.log"));
        var metrics = EndToEndTests.Metrics(Path.Combine(run.Work, "metrics-geneve.txt"));

        Assert.DoesNotContain("is not available", log, StringComparison.Ordinal);
        // e2e.sh runs two receive workers: two rings in a fanout group.
        Assert.Contains("Packet ring on x0: 2 rings of 32 blocks of 256 KiB, tcx ingress drop", log, StringComparison.Ordinal);
        Assert.Equal(2, metrics["automirror_sensor_packet_ring_workers"]);
        Assert.Equal(0, metrics["automirror_sensor_packet_ring_kernel_total{counter=\"dropped\"}"]);
    });

    public sealed class RingRun : EndToEndTests.Run
    {
        public RingRun()
            : base(["--packet-ring", "x0"])
        {
        }
    }
}
