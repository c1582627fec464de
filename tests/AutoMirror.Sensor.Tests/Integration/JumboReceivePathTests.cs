using System.Globalization;
using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// Jumbo mirrored packets on every receive path (the UDP sockets, AF_XDP in native and in generic XDP,
/// the packet ring), the same datagrams through each. A Network Load Balancer target gets mirrored
/// packets of up to 8500 bytes and an ENI target those of a 9001-byte MTU source (a 9015-byte inner
/// frame, 9023 bytes of VXLAN payload): those must reach the TAP and the pcap output whole, byte for
/// byte. What a path cannot carry whole (over Sensor:MaxDatagramBytes, larger than the socket's buffer,
/// an AF_XDP reassembly slot or a packet-ring block) must be dropped and counted as oversized, never
/// written cut short.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class JumboReceivePathTests(ITestOutputHelper output)
{
    /// <summary>Outer Ethernet/IPv4/UDP and the VXLAN header around an inner frame.</summary>
    private const int Outer = 14 + 20 + 8 + 8;

    /// <summary>The inner frame of a 9001-byte MTU source: its IP packet and the Ethernet header.</summary>
    private const int LargestMirrored = 9001 + 14;

    public static TheoryData<string> Paths => ["sockets", "af-xdp-native", "af-xdp-generic", "packet-ring"];

    /// <summary>
    /// A veth of MTU 9100 carries each datagram in one packet, as a jumbo-MTU ENI does. With
    /// Sensor:MaxDatagramBytes at exactly the largest mirrored datagram (9023), one byte more is oversized on
    /// every path: the socket's receive buffer cuts it (MSG_TRUNC), the frame paths compare its length.
    /// </summary>
    [NetnsTheory("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    [MemberData(nameof(Paths))]
    public async Task MirroredJumboFrames_PassWhole_AndOneByteOverMaxDatagramBytes_IsCountedOversized(string path)
    {
        const int Max = LargestMirrored + 8;
        var sent = new List<byte[]>
        {
            AfXdpJumboTests.InnerFrame(0, 1514),
            AfXdpJumboTests.InnerFrame(1, LargestMirrored + 1),     // datagram 9024: one byte over
            AfXdpJumboTests.InnerFrame(2, 8500),                    // the NLB's limit
            AfXdpJumboTests.InnerFrame(3, 9100 - Outer + 14),        // the largest the 9100 MTU carries
            AfXdpJumboTests.InnerFrame(4, LargestMirrored),         // a 9001-byte MTU source's full frame
        };

        await Run(path, mtu: 9100, sent, passes: [0, 2, 4], ["--Sensor:MaxDatagramBytes=" + Max.ToString(CultureInfo.InvariantCulture)]);
    }

    /// <summary>
    /// A link whose MTU is above what the sensor takes (20000 here), with the default Sensor:MaxDatagramBytes
    /// (9216) and the packet ring's smallest blocks (16 KiB): a datagram one byte over the limit, one of 12000
    /// bytes, and one of 17000 that is larger than a ring block (the kernel copies only what fits and says so
    /// in the packet's lengths) and than an AF_XDP reassembly slot are each counted oversized; the frames
    /// around them pass whole.
    /// </summary>
    [NetnsTheory("ip", "tcpreplay", "tcpdump", "curl", "dotnet")]
    [MemberData(nameof(Paths))]
    public async Task DatagramsBeyondWhatThePathHolds_AreCountedOversized_NeverTruncated(string path)
    {
        var sent = new List<byte[]>
        {
            AfXdpJumboTests.InnerFrame(0, LargestMirrored),
            AfXdpJumboTests.InnerFrame(1, 9216 - 8 + 1),
            AfXdpJumboTests.InnerFrame(2, 12000),
            AfXdpJumboTests.InnerFrame(3, 17000),
            AfXdpJumboTests.InnerFrame(4, 1514),
        };

        await Run(path, mtu: 20000, sent, passes: [0, 4], ["--Sensor:PacketRing:BlockKilobytes=16"]);
    }

    private static (string[] Flags, string Worker) Path(string path) => path switch
    {
        "sockets" => (["--receive", "sockets"], "rx-4789-"),
        "af-xdp-native" => (["--af-xdp", "x0", "--Sensor:AfXdp:Mode=Native"], "rx-xdp-"),
        "af-xdp-generic" => (["--af-xdp", "x0", "--Sensor:AfXdp:Mode=Generic"], "rx-xdp-"),
        _ => (["--packet-ring", "x0"], "rx-ring-"),
    };

    private async Task Run(string path, int mtu, List<byte[]> sent, int[] passes, string[] flags)
    {
        var (pathFlags, worker) = Path(path);
        string name = path.StartsWith("af-xdp", StringComparison.Ordinal) ? "af-xdp" : path;
        using var net = new AfXdpVethPair(receiveQueues: 1, mtu) { ReceiveFlags = pathFlags, DecisionMarker = "Receive path:" };
        try
        {
            net.StartSensor([], tap: true, flags);
            Assert.Contains("Receive path: " + name + " ", await net.WaitForXdpDecision(), StringComparison.Ordinal);
            await net.StartTapCapture();

            net.Send(sent);
            var expected = passes.Select(i => sent[i]).ToList();
            var metrics = await net.MetricsAfterForwarding(expected.Count);
            int oversized = sent.Count - expected.Count;

            Assert.Equal(sent.Count, metrics["automirror_sensor_datagrams_total"]);
            Assert.Equal(expected.Count, metrics["automirror_sensor_frames_forwarded_total"]);
            Assert.Equal(expected.Count, AfXdpVethPair.ForwardedBy(metrics, worker));
            Assert.Equal(oversized, metrics["automirror_sensor_drops_total{reason=\"oversized\"}"]);
            Assert.Equal(oversized, metrics["automirror_sensor_decap_errors_total{reason=\"oversized\"}"]);
            Assert.Equal(oversized, metrics.Where(m => m.Key.StartsWith("automirror_sensor_drops_total{", StringComparison.Ordinal)).Sum(m => m.Value));
            Assert.Equal(expected.Count, net.TapStatistic("rx_packets"));
            var onTap = await net.StopTapCapture();
            Assert.Equal(0, await net.StopSensor());

            AssertSameInOrder(expected, onTap, "TAP");
            AssertSameInOrder(expected, net.PcapFrames(), "pcap");
        }
        catch
        {
            output.WriteLine("sensor output:\n" + net.Log);
            throw;
        }
    }

    private static void AssertSameInOrder(List<byte[]> expected, List<byte[]> written, string where)
    {
        // Lengths first: a truncated frame shows as a shorter one, not as a mismatch somewhere in its bytes.
        Assert.Equal(expected.Select(f => f.Length), written.Select(f => f.Length));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(written[i]), where + " frame " + i + " (" + written[i].Length + " bytes) differs from the one sent");
        }
    }
}
