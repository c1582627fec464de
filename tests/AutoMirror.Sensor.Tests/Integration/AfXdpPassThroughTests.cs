using System.Buffers.Binary;
using AutoMirror.Sensor.Tests.Support;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// What the XDP program does not take, it passes to the kernel, and the sensor's UDP sockets still
/// forward it ("datagrams the XDP program passes still reach the UDP sockets", as the sensor logs):
/// VXLAN datagrams split into IP fragments (a mirror path with a smaller MTU; the kernel reassembles
/// them) and IPv4 headers with options. Plain datagrams sent among them stay on AF_XDP.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpPassThroughTests(ITestOutputHelper output) : IDisposable
{
    private const int EachKind = 5;

    private readonly AfXdpVethPair _net = Prerequisites.MissingNetns() is null ? new AfXdpVethPair(receiveQueues: 1) : null!;

    [NetnsFact("ip", "tcpreplay", "curl", "dotnet")]
    public async Task FragmentsAndIpOptions_AreForwardedByTheUdpSockets_PlainDatagramsByAfXdp()
    {
        try
        {
            _net.StartSensor([], tap: false, "--Sensor:AfXdp:Mode=Native");
            Assert.Contains("AF_XDP on x0: 1 receive queues, native XDP", await _net.WaitForXdpDecision(), StringComparison.Ordinal);

            var inner = new List<byte[]>();
            var frames = new List<byte[]>();
            for (int i = 0; i < EachKind; i++)
            {
                var plain = AfXdpJumboTests.InnerFrame(3 * i, 1000);
                var fragmented = AfXdpJumboTests.InnerFrame((3 * i) + 1, 2000);
                var withOptions = AfXdpJumboTests.InnerFrame((3 * i) + 2, 1000);
                inner.AddRange([plain, fragmented, withOptions]);
                frames.Add(AfXdpVethPair.OuterFrame(plain, (ushort)(50000 + i)));
                frames.AddRange(Fragments(AfXdpVethPair.VxlanDatagram(fragmented, (ushort)(51000 + i)), identification: (ushort)(100 + i)));
                frames.Add(AfXdpVethPair.Ethernet(WithOptions(Packets.Ipv4(AfXdpVethPair.PeerAddress, AfXdpVethPair.SensorAddress, 17,
                    AfXdpVethPair.VxlanDatagram(withOptions, (ushort)(52000 + i))))));
            }

            _net.SendFrames(frames);
            var metrics = await _net.MetricsAfterForwarding(inner.Count);

            Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
            Assert.Equal(EachKind, AfXdpVethPair.ForwardedBy(metrics, "rx-xdp-"));
            Assert.Equal(2 * EachKind, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
            Assert.Equal(0, await _net.StopSensor());
            // Two receive paths, two threads: each frame once, unchanged, in whichever order they wrote.
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

    /// <summary>The UDP datagram in two IPv4 fragments (the first 1024 bytes, then the rest).</summary>
    private static List<byte[]> Fragments(byte[] udp, ushort identification)
    {
        const int FirstPart = 1024; // a multiple of 8, as fragment offsets count 8-byte units
        var first = Packets.Ipv4(AfXdpVethPair.PeerAddress, AfXdpVethPair.SensorAddress, 17, udp[..FirstPart], flagsAndOffset: 0x2000);
        var second = Packets.Ipv4(AfXdpVethPair.PeerAddress, AfXdpVethPair.SensorAddress, 17, udp[FirstPart..], flagsAndOffset: FirstPart / 8);
        return [AfXdpVethPair.Ethernet(WithIdentification(first, identification)), AfXdpVethPair.Ethernet(WithIdentification(second, identification))];
    }

    private static byte[] WithIdentification(byte[] ip, ushort identification)
    {
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), identification);
        return WithHeaderChecksum(ip);
    }

    /// <summary>The packet with a 4-byte options field (three NOPs and End of Options) after its 20-byte header.</summary>
    private static byte[] WithOptions(byte[] ip)
    {
        byte[] packet = [.. ip[..20], 0x01, 0x01, 0x01, 0x00, .. ip[20..]];
        packet[0] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        return WithHeaderChecksum(packet);
    }

    private static byte[] WithHeaderChecksum(byte[] ip)
    {
        int length = (ip[0] & 0x0F) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), InternetChecksum.Of(ip.AsSpan(0, length)));
        return ip;
    }
}
