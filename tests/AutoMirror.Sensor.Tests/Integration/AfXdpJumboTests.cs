using System.Globalization;
using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// Mirrored packets up to the jumbo MTU on AF_XDP, in native and generic XDP. A 4 KiB frame holds
/// 3840 bytes of packet (the kernel keeps 256 bytes of headroom), so an outer packet above 3840 bytes
/// arrives as two descriptors and above 7680 as three; the worker reassembles them. Sizes just below,
/// at and just above both boundaries, up to the largest a 9000-byte MTU carries, must all come out of
/// the AF_XDP worker unchanged and in order, on the TAP (batched writes through io_uring) and in the
/// pcap output, with nothing lost in the kernel.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpJumboTests(ITestOutputHelper output) : IDisposable
{
    private const int Mtu = 9000;
    private const int Copies = 3;
    private const int FrameData = 4096 - 256;

    /// <summary>Outer (Ethernet/IPv4/UDP/VXLAN) bytes around an inner frame.</summary>
    private const int Outer = 14 + 20 + 8 + 8;

    private static readonly int[] InnerSizes =
    [
        60, 1514, 3700,
        FrameData - Outer - 1, FrameData - Outer, FrameData - Outer + 1,                   // outer 3839, 3840, 3841 bytes
        4096,
        (2 * FrameData) - Outer - 1, (2 * FrameData) - Outer, (2 * FrameData) - Outer + 1, // outer 7679, 7680, 7681 bytes
        8000, 8900,
        Mtu + 14 - Outer,                                                                   // outer 9014: an IP packet of the full MTU
    ];

    private readonly AfXdpVethPair _net = Prerequisites.MissingNetns() is null ? new AfXdpVethPair(receiveQueues: 1, Mtu) : null!;

    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public Task NativeXdp_JumboPacketsAcrossFrameBoundaries_AreForwardedWholeByTheXdpWorker() => Run("Native", "native");

    /// <summary>
    /// The same packets back to back, ten of each: receive batches then hold more multi-descriptor packets
    /// than the worker has assembly slots (16), so it must write the TAP mid-batch before reusing one.
    /// 130 packets take at most 390 descriptors, less than the RX ring's 512, so even a worker that slept
    /// through the burst loses none.
    /// </summary>
    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public Task NativeXdp_JumboPacketsBackToBack_AreForwardedWholeByTheXdpWorker() => Run("Native", "native", copies: 10, burst: true);

    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public Task GenericXdp_JumboPacketsAcrossFrameBoundaries_AreForwardedWholeByTheXdpWorker() => Run("Generic", "generic");

    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public Task GenericXdp_JumboPacketsBackToBack_AreForwardedWholeByTheXdpWorker() => Run("Generic", "generic", copies: 10, burst: true);

    /// <summary>
    /// A receive batch of one datagram (Sensor:BatchSize=1, the lowest allowed, for the least latency) must
    /// still take packets that span several descriptors: the batch counts datagrams, not descriptors.
    /// </summary>
    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public Task BatchOfOneDatagram_JumboPacketsAcrossFrameBoundaries_AreForwardedWholeByTheXdpWorker() => Run("Native", "native", flags: ["--Sensor:BatchSize=1"]);

    /// <summary>
    /// A packet larger than a reassembly slot (16 KiB; AWS mirrors at most 9001-byte MTU packets, but a
    /// link can carry more) is a counted drop, labelled as the socket path labels a datagram too large for
    /// its buffer, and the worker goes on with the next ones.
    /// </summary>
    [NetnsFact("ip", "tcpreplay", "curl", "dotnet")]
    public async Task PacketLargerThanAReassemblySlot_IsCountedOversized_AndTheNextAreForwarded()
    {
        try
        {
            _net.SetMtu(20000);
            _net.StartSensor([], tap: false, "--Sensor:AfXdp:Mode=Native");
            Assert.Contains("AF_XDP on x0: 1 receive queues, native XDP", await _net.WaitForXdpDecision(), StringComparison.Ordinal);

            var sent = new List<byte[]> { InnerFrame(0, 60), InnerFrame(1, 17000), InnerFrame(2, 1514), InnerFrame(3, 8000) };
            _net.Send(sent);
            var metrics = await _net.MetricsAfterForwarding(3);

            Assert.Equal(4, metrics["automirror_sensor_datagrams_total"]);
            Assert.Equal(3, AfXdpVethPair.ForwardedBy(metrics, "rx-xdp-"));
            Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
            Assert.Equal(1, metrics["automirror_sensor_drops_total{reason=\"oversized\"}"]);
            Assert.Equal(1, metrics["automirror_sensor_decap_errors_total{reason=\"oversized\"}"]);
            Assert.Equal("200", _net.Health());
            Assert.Equal(0, await _net.StopSensor());
            AssertSameInOrder([sent[0], sent[2], sent[3]], _net.PcapFrames(), "pcap");
        }
        catch
        {
            output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }

    [NetnsFact("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    public async Task DatagramOverMaxDatagramBytes_IsCountedOversized_AsOnTheSocketPath()
    {
        try
        {
            // The socket path's receive buffer is MaxDatagramBytes: a larger datagram is cut (MSG_TRUNC) and
            // counted oversized. AF_XDP reassembles up to 16 KiB, so it must apply the same setting itself.
            _net.SetMtu(9000);
            _net.StartSensor([], tap: false, "--Sensor:AfXdp:Mode=Generic", "--Sensor:MaxDatagramBytes=4000");
            Assert.Contains("AF_XDP on x0: 1 receive queues, generic XDP", await _net.WaitForXdpDecision(), StringComparison.Ordinal);

            // 3992 bytes of payload (8 VXLAN + 3984 frame) fit; 4001 and 8008 do not.
            var sent = new List<byte[]> { InnerFrame(0, 3984), InnerFrame(1, 3993), InnerFrame(2, 60), InnerFrame(3, 8000) };
            _net.Send(sent);
            var metrics = await _net.MetricsAfterForwarding(2);

            Assert.Equal(4, metrics["automirror_sensor_datagrams_total"]);
            Assert.Equal(2, AfXdpVethPair.ForwardedBy(metrics, "rx-xdp-"));
            Assert.Equal(2, metrics["automirror_sensor_drops_total{reason=\"oversized\"}"]);
            Assert.Equal(0, await _net.StopSensor());
            AssertSameInOrder([sent[0], sent[2]], _net.PcapFrames(), "pcap");
        }
        catch
        {
            output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }

    public void Dispose() => _net?.Dispose();

    /// <summary>A frame of <paramref name="size"/> bytes whose payload is a pattern starting at its number, so no two are alike.</summary>
    internal static byte[] InnerFrame(int number, int size)
    {
        var payload = new byte[size - 14];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((number * 31) + i);
        }

        // IEEE 802 local experimental EtherType: a frame the sensor forwards without looking inside.
        return Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x88B5, payload);
    }

    private void AssertSameInOrder(List<byte[]> sent, List<byte[]> written, string where)
    {
        if (sent.Count != written.Count || sent.Zip(written).Any(p => !p.First.AsSpan().SequenceEqual(p.Second)))
        {
            // Which sent frame each written one is ("?": none of them, e.g. overwritten), to tell loss, reordering and corruption apart.
            var number = sent.Select((f, i) => (Key: Convert.ToHexString(f), i)).ToDictionary(p => p.Key, p => p.i);
            output.WriteLine(where + " holds sent frames " + string.Join(",", written.Select(f =>
                number.TryGetValue(Convert.ToHexString(f), out int i) ? i.ToString(CultureInfo.InvariantCulture) : "?")));
        }

        for (int i = 0; i < Math.Min(sent.Count, written.Count); i++)
        {
            Assert.True(sent[i].AsSpan().SequenceEqual(written[i]),
                where + " frame " + i + " (" + written[i].Length + " bytes) is not inner frame " + i + " (" + sent[i].Length + " bytes)");
        }

        Assert.True(sent.Count == written.Count, where + ": " + written.Count + " frames, " + sent.Count + " sent");
    }

    private async Task Run(string mode, string attached, int copies = Copies, bool burst = false, string[]? flags = null)
    {
        try
        {
            _net.StartSensor([], tap: true, ["--Sensor:AfXdp:Mode=" + mode, .. flags ?? []]);
            string log = await _net.WaitForXdpDecision();
            Assert.Contains("AF_XDP on x0: 1 receive queues, " + attached + " XDP", log, StringComparison.Ordinal);
            await _net.StartTapCapture();

            // Sizes interleaved, so one-, two- and three-descriptor packets share receive batches.
            var inner = Enumerable.Range(0, copies * InnerSizes.Length).Select(i => InnerFrame(i, InnerSizes[i % InnerSizes.Length])).ToList();
            _net.Send(inner, burst);
            var metrics = await _net.MetricsAfterForwarding(inner.Count);
            // How full the batches were (a burst should give several datagrams per batch): said, not asserted, as it depends on timing.
            output.WriteLine(inner.Count + " datagrams in " + metrics.GetValueOrDefault("automirror_sensor_receive_batches_total") + " receive batches");

            Assert.Equal(inner.Count, metrics["automirror_sensor_datagrams_total"]);
            Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
            Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, "rx-xdp-"));
            Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
            Assert.Equal(0, metrics["automirror_sensor_af_xdp_kernel_total{counter=\"rx_ring_full\"}"]);
            Assert.Equal(0, metrics["automirror_sensor_af_xdp_kernel_total{counter=\"dropped\"}"]);
            Assert.Equal(inner.Count, _net.TapStatistic("rx_packets"));
            Assert.Equal(0, _net.TapStatistic("rx_dropped"));
            var onTap = await _net.StopTapCapture();
            Assert.Equal(0, await _net.StopSensor());

            // The TAP (what Zeek sniffs) is written in batches after the frames were queued: an assembly slot
            // reused before its frame was written shows here (it did with the mid-batch write left out). The
            // pcap output copies each frame as it is queued, so it would not show that.
            AssertSameInOrder(inner, onTap, "TAP");
            AssertSameInOrder(inner, _net.PcapFrames(), "pcap");
        }
        catch
        {
            output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }
}
