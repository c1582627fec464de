using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// A mirror interface with several receive queues, as a multi-queue NIC (ENA) has: the NIC spreads
/// flows over its queues, and each queue's AF_XDP socket must receive its share. A socket missing from
/// the program's map, or bound to the wrong queue, would leave that queue's datagrams to the UDP
/// sockets (the program passes what it cannot redirect), which the per-worker counters would show.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpMultiQueueTests(ITestOutputHelper output) : IDisposable
{
    private const int Queues = 4;
    private const int Datagrams = 40;

    // y0 hashes each flow (here: each datagram, by its UDP source port) to one of its transmit queues, and
    // veth hands it to x0 on the receive queue of the same number, as a NIC's RSS would.
    private readonly AfXdpVethPair _net = Prerequisites.MissingNetns() is null ? new AfXdpVethPair(Queues, peerTransmitQueues: Queues) : null!;

    [NetnsFact("ip", "tcpreplay", "curl", "dotnet")]
    public async Task EveryReceiveQueue_IsServedByItsAfXdpWorker()
    {
        try
        {
            _net.StartSensor([], tap: false, "--Sensor:AfXdp:Mode=Native");
            string log = await _net.WaitForXdpDecision();
            Assert.Contains("AF_XDP on x0: " + Queues + " receive queues, native XDP", log, StringComparison.Ordinal);

            var inner = Enumerable.Range(0, Datagrams).Select(i => AfXdpJumboTests.InnerFrame(i, i % 2 == 0 ? 590 : 5000)).ToList();
            _net.Send(inner);
            var metrics = await _net.MetricsAfterForwarding(inner.Count);
            var perQueue = Enumerable.Range(0, Queues)
                .Select(q => metrics.GetValueOrDefault("automirror_sensor_worker_frames_forwarded_total{worker=\"rx-xdp-" + q + "\"}")).ToArray();
            output.WriteLine("forwarded per queue: " + string.Join(", ", perQueue));

            Assert.Equal(Queues, metrics["automirror_sensor_af_xdp_queues"]);
            Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
            Assert.Equal(inner.Count, perQueue.Sum());
            Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
            // 40 flows hashed over 4 queues: all on one queue has a chance of 4^-39.
            Assert.True(perQueue.Count(n => n > 0) >= 2, "every datagram came in on one queue: the test did not spread them");
            Assert.Equal(0, await _net.StopSensor());

            // Each queue's worker keeps its own order; across queues the pcap interleaves them.
            Assert.Equal(inner.Select(Convert.ToHexString).Order(StringComparer.Ordinal),
                _net.PcapFrames().Select(Convert.ToHexString).Order(StringComparer.Ordinal));
        }
        catch
        {
            output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }

    public void Dispose() => _net?.Dispose();
}
