using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Forwarding;

public class FuzzTests
{
    private const int Datagrams = 1_000_000;

    /// <summary>
    /// A million random and mutated datagrams (bit flips, truncation, extension, header splices, bad
    /// sources) through both decapsulations: nothing escapes, and every datagram is accounted for
    /// exactly once as forwarded or dropped by reason.
    /// </summary>
    [Fact]
    public void Process_MillionRandomAndMutatedDatagrams_NoExceptionAndEveryOneCounted()
    {
        var random = new Random(20261122);
        var output = new CountingOutput(keepFrames: false);
        Assert.True(SourceNetworkFilter.TryParse("10.0.0.0/8,fd00::/8", out var sources, out _));
        var vlans = new VlanMap(new Dictionary<uint, ushort> { [1] = 10, [0x123456] = 20 });
        var vxlan = new FrameForwarder(Encapsulation.Vxlan, 4789, sources, vlans, [output], 64);
        var geneve = new FrameForwarder(Encapsulation.Geneve, 4789, sources, vlans, [output], 64);

        byte[][] seeds =
        [
            Packets.Vxlan(1, Packets.SampleFrame()),
            Packets.Vxlan(0x123456, Packets.SampleFrame(1400)),
            Packets.Vxlan(7, Packets.SampleFrame(0)),
            Packets.GeneveAroundVxlan(1, Packets.SampleFrame(), 0),
            Packets.GeneveAroundVxlan(99, Packets.SampleFrame(200), 5),
            Packets.Geneve(0x86DD, Packets.Ipv6("fd00::1", "fd00::2", 17, Packets.Udp(9, 4789, Packets.Vxlan(3, Packets.SampleFrame())))),
        ];
        byte[][] addresses =
        [
            Packets.SockaddrV4("10.1.1.1"), Packets.SockaddrV4("192.0.2.1"), Packets.SockaddrV6("fd00::9"),
            Packets.SockaddrV6("::ffff:10.0.0.1"), Packets.SockaddrV6("2001:db8::1"), [], new byte[16],
        ];

        var buffer = new byte[9216];
        long forwardedUnmutated = 0, unmutatedSent = 0;
        for (int n = 0; n < Datagrams; n++)
        {
            var seed = seeds[random.Next(seeds.Length)];
            int length;
            int mode = random.Next(10);
            bool unmutated = false;
            if (mode == 0)
            {
                length = random.Next(0, 600);
                random.NextBytes(buffer.AsSpan(0, length));
            }
            else
            {
                length = seed.Length;
                seed.CopyTo(buffer, 0);
                switch (mode)
                {
                    case 1: // truncate anywhere
                        length = random.Next(0, seed.Length);
                        break;
                    case 2: // extend with noise
                        length = Math.Min(buffer.Length, seed.Length + random.Next(1, 64));
                        random.NextBytes(buffer.AsSpan(seed.Length, length - seed.Length));
                        break;
                    case 3: // flip bits in the first 80 bytes (headers)
                    case 4:
                        for (int k = random.Next(1, 4); k > 0; k--)
                        {
                            buffer[random.Next(Math.Min(80, length))] ^= (byte)(1 << random.Next(8));
                        }

                        break;
                    case 5: // overwrite a header field with an extreme value
                        buffer[random.Next(Math.Min(60, length))] = random.Next(2) == 0 ? (byte)0xFF : (byte)0;
                        break;
                    default:
                        unmutated = true;
                        break;
                }
            }

            var source = unmutated ? addresses[0] : addresses[random.Next(addresses.Length)];
            bool truncated = !unmutated && random.Next(100) == 0;
            bool isGeneve = seed[0] != 0x08;
            output.Refuse = !unmutated && random.Next(1000) == 0;
            long before = (isGeneve ? geneve : vxlan).Counters.FramesForwarded;
            (isGeneve ? geneve : vxlan).Process(buffer.AsSpan(0, length), source, truncated, n);
            if (unmutated)
            {
                unmutatedSent++;
                forwardedUnmutated += (isGeneve ? geneve : vxlan).Counters.FramesForwarded - before;
            }
        }

        long datagrams = vxlan.Counters.Datagrams + geneve.Counters.Datagrams;
        long forwarded = vxlan.Counters.FramesForwarded + geneve.Counters.FramesForwarded;
        long dropped = vxlan.Counters.Drops.Sum() + geneve.Counters.Drops.Sum();
        long decapByReason = vxlan.Counters.DecapErrors.Sum() + geneve.Counters.DecapErrors.Sum();
        long decapDrops = vxlan.Counters.Drops[(int)DropReason.DecapError] + geneve.Counters.Drops[(int)DropReason.DecapError]
            + vxlan.Counters.Drops[(int)DropReason.Oversized] + geneve.Counters.Drops[(int)DropReason.Oversized];

        Assert.Equal(Datagrams, datagrams);
        Assert.Equal(datagrams, forwarded + dropped);
        Assert.Equal(decapDrops, decapByReason);
        Assert.Equal(forwarded, output.Count);
        Assert.Equal(unmutatedSent, forwardedUnmutated);
        Assert.True(dropped > Datagrams / 4, "the mutations should make many datagrams invalid, got " + dropped);
        Assert.True(vxlan.Counters.Drops[(int)DropReason.SourceRejected] > 0);
        Assert.True(vxlan.Counters.Drops[(int)DropReason.OutputError] > 0);
    }
}
