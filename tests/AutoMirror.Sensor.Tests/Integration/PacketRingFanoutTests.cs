using System.Buffers.Binary;
using System.Net;
using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The packet ring with two receive workers: two rings in a fanout group whose program steers by the
/// mirrored frame's addresses. Two conversations, chosen so that the specified hash puts them on
/// different workers, each in both directions, every datagram with another outer source port (as
/// Traffic Mirroring's hash of the inner 5-tuple gives the two directions different ones): each
/// conversation is forwarded whole by one worker, in the order it was sent, and each worker gets one.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class PacketRingFanoutTests(ITestOutputHelper output) : IDisposable
{
    private const int FramesPerDirection = 20;

    private readonly AfXdpVethPair _net = Prerequisites.MissingNetns() is null
        ? new AfXdpVethPair(receiveQueues: 1) { ReceiveFlags = ["--packet-ring", "x0"], DecisionMarker = "Packet ring on x0" }
        : null!;

    [NetnsFact("ip", "tcpreplay", "curl", "dotnet")]
    public async Task TwoWorkers_EachConversationStaysOnOneWorker_InOrder_BothDirections()
    {
        try
        {
            _net.StartSensor([], tap: false, "--workers", "2");
            Assert.Contains("Packet ring on x0: 2 rings", await _net.WaitForXdpDecision(), StringComparison.Ordinal);

            var (a1, b1) = ("172.20.0.1", "172.20.0.2");
            int first = Worker(a1, b1);
            var (a2, b2) = Enumerable.Range(3, 250).Select(n => ("172.20.0.1", "172.20.1." + n)).First(p => Worker(p.Item1, p.Item2) != first);

            var one = Conversation(a1, b1, 0);
            var two = Conversation(a2, b2, 1);
            // Interleaved on the wire, so the workers run side by side.
            var inner = one.Zip(two, (x, y) => new[] { x, y }).SelectMany(p => p).ToList();
            var random = new Random(7);
            _net.SendFrames(inner.Select(f => AfXdpVethPair.OuterFrame(f, (ushort)random.Next(49152, 65536))).ToList());
            var metrics = await _net.MetricsAfterForwarding(inner.Count);

            Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
            Assert.Equal(one.Count, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"rx-ring-" + first + "\"}"]);
            Assert.Equal(two.Count, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"rx-ring-" + (1 - first) + "\"}"]);
            Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
            Assert.Equal(0, await _net.StopSensor());

            var written = _net.PcapFrames().Select(Convert.ToHexString).ToList();
            Assert.Equal(one.Select(Convert.ToHexString), written.Where(one.Select(Convert.ToHexString).ToHashSet().Contains));
            Assert.Equal(two.Select(Convert.ToHexString), written.Where(two.Select(Convert.ToHexString).ToHashSet().Contains));
        }
        catch
        {
            output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }

    public void Dispose() => _net?.Dispose();

    /// <summary>The worker the steering is specified to pick for a conversation between two IPv4 addresses (of two).</summary>
    private static int Worker(string a, string b)
    {
        uint x = BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(a).GetAddressBytes()) ^ BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(b).GetAddressBytes());
        return (int)((x ^ (x >> 16)) % 2);
    }

    /// <summary>Frames alternating a → b and b → a, each numbered, so order and content are both checked.</summary>
    private static List<byte[]> Conversation(string a, string b, byte tag)
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < 2 * FramesPerDirection; i++)
        {
            bool forward = i % 2 == 0;
            var payload = new byte[64];
            payload[0] = tag;
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(1), i);
            frames.Add(Packets.Ethernet(forward ? "02:00:00:00:00:02" : "02:00:00:00:00:01", forward ? "02:00:00:00:00:01" : "02:00:00:00:00:02", 0x0800,
                Packets.Ipv4(forward ? a : b, forward ? b : a, 17, Packets.Udp(forward ? (ushort)40000 : (ushort)53, forward ? (ushort)53 : (ushort)40000, payload))));
        }

        return frames;
    }
}
