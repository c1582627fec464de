using System.Buffers.Binary;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Receive;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Receive;

/// <summary>
/// The steering programs (SO_REUSEPORT groups, which see the UDP payload; the packet ring's fanout,
/// which sees the frame), run by a small classic-BPF interpreter with the kernel's semantics (a load
/// past the end returns 0), against the
/// specification written independently here: worker = fold(src ^ dst) % workers over the mirrored
/// frame's IP addresses, the same for both directions.
/// </summary>
public class SteeringProgramTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void VxlanProgram_PicksTheSpecifiedWorker_AndTheSameForBothDirections(int workers)
    {
        var program = InnerAddressSteering.Vxlan(workers);
        var random = new Random(workers);
        for (int i = 0; i < 2000; i++)
        {
            var (forward, backward) = RandomConversation(random);
            int expected = Specified(forward, workers);
            Assert.Equal(expected, Run(program, Packets.Vxlan(7, forward)));
            Assert.Equal(expected, Run(program, Packets.Vxlan(7, backward)));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void GeneveProgram_SkipsTheOptions_AndPicksTheSameWorkerAsVxlan(int workers)
    {
        var program = InnerAddressSteering.Geneve(workers);
        var random = new Random(100 + workers);
        for (int i = 0; i < 2000; i++)
        {
            var (forward, backward) = RandomConversation(random);
            int options = random.Next(0, 12);
            int expected = Specified(forward, workers);
            Assert.Equal(expected, Run(program, Packets.Geneve(0x0800, Packets.Ipv4("10.0.1.5", "10.0.2.9", 17, Packets.Udp(1, 4789, Packets.Vxlan(7, forward))), options)));
            Assert.Equal(expected, Run(program, Packets.Geneve(0x0800, Packets.Ipv4("10.0.1.5", "10.0.2.9", 17, Packets.Udp(2, 4789, Packets.Vxlan(7, backward))), options)));
        }
    }

    /// <summary>
    /// The packet ring's fanout program sees the packet from its outer IP header (the kernel runs it before the
    /// packet socket pushes the Ethernet header back): the same choice from there, VXLAN to its port, and GENEVE
    /// to the GENEVE port when that is enabled (told apart by the UDP port).
    /// </summary>
    [Theory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void FanoutProgram_PicksTheSameWorkerFromTheOuterIpHeader_BothDirections(int workers, bool geneve)
    {
        var program = InnerAddressSteering.ForFanout(workers, geneve ? 6081 : null);
        var random = new Random(200 + workers);
        for (int i = 0; i < 2000; i++)
        {
            var (forward, backward) = RandomConversation(random);
            int expected = Specified(forward, workers);
            Assert.Equal(expected, Run(program, Outer(4789, (ushort)random.Next(49152, 65536), Packets.Vxlan(7, forward))));
            Assert.Equal(expected, Run(program, Outer(4789, (ushort)random.Next(49152, 65536), Packets.Vxlan(7, backward))));
            if (geneve)
            {
                int options = random.Next(0, 12);
                Assert.Equal(expected, Run(program, Outer(6081, 1, Packets.Geneve(0x0800, Packets.Ipv4("10.0.1.5", "10.0.2.9", 17, Packets.Udp(1, 4789, Packets.Vxlan(7, forward))), options))));
                Assert.Equal(expected, Run(program, Outer(6081, 2, Packets.Geneve(0x0800, Packets.Ipv4("10.0.1.5", "10.0.2.9", 17, Packets.Udp(2, 4789, Packets.Vxlan(7, backward))), options))));
            }
        }
    }

    private static byte[] Outer(ushort port, ushort sourcePort, byte[] payload)
        => Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(sourcePort, port, payload));

    [Fact]
    public void Programs_OnShortOrNonIpDatagrams_PickWorkerZero()
    {
        var arp = Packets.Ethernet("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, new byte[28]);
        Assert.Equal(0, Run(InnerAddressSteering.Vxlan(4), Packets.Vxlan(1, arp)));
        Assert.Equal(0, Run(InnerAddressSteering.Vxlan(4), [8, 0, 0]));
        Assert.Equal(0, Run(InnerAddressSteering.Geneve(4), [0x3F, 0, 8, 0]));
    }

    private static (byte[] Forward, byte[] Backward) RandomConversation(Random random)
    {
        bool v6 = random.Next(3) == 0;
        var a = new byte[v6 ? 16 : 4];
        var b = new byte[a.Length];
        random.NextBytes(a);
        random.NextBytes(b);
        string sa = new System.Net.IPAddress(a).ToString(), sb = new System.Net.IPAddress(b).ToString();
        var udpAb = Packets.Udp(1234, 80, new byte[random.Next(0, 40)]);
        var udpBa = Packets.Udp(80, 1234, new byte[random.Next(0, 40)]);
        return v6
            ? (Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x86DD, Packets.Ipv6(sa, sb, 17, udpAb)),
               Packets.Ethernet("02:00:00:00:00:01", "02:00:00:00:00:02", 0x86DD, Packets.Ipv6(sb, sa, 17, udpBa)))
            : (Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, Packets.Ipv4(sa, sb, 17, udpAb)),
               Packets.Ethernet("02:00:00:00:00:01", "02:00:00:00:00:02", 0x0800, Packets.Ipv4(sb, sa, 17, udpBa)));
    }

    private static int Specified(byte[] frame, int workers)
    {
        int type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
        (int src, int dst) = type == 0x0800 ? (14 + 12, 14 + 16) : (14 + 8 + 12, 14 + 24 + 12);
        uint x = BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(src)) ^ BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(dst));
        return (int)((x ^ (x >> 16)) % (uint)workers);
    }

    /// <summary>Classic BPF, the subset the programs use, with the kernel's out-of-bounds rule.</summary>
    private static int Run(LibC.SockFilter[] program, byte[] packet)
    {
        uint a = 0, x = 0;
        var memory = new uint[16];
        for (int pc = 0; pc < program.Length; pc++)
        {
            var op = program[pc];
            uint k = op.K;
            long at;
            switch (op.Code)
            {
                case 0x20: case 0x28: case 0x30: case 0x40: case 0x48:
                    int size = (op.Code & 0x18) switch { 0x00 => 4, 0x08 => 2, _ => 1 };
                    at = (op.Code & 0x40) != 0 ? x + (long)k : k;
                    if (at + size > packet.Length)
                    {
                        return 0;
                    }

                    a = size switch
                    {
                        4 => BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan((int)at)),
                        2 => BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan((int)at)),
                        _ => packet[at],
                    };
                    break;
                case 0x54: a &= k; break;
                case 0x64: a <<= (int)k; break;
                case 0x74: a >>= (int)k; break;
                case 0x94: a %= k; break;
                case 0xAC: a ^= x; break;
                case 0x07: x = a; break;
                case 0x02: memory[k] = a; break;
                case 0x61: x = memory[k]; break;
                case 0x05: pc += (int)k; break;
                case 0x15: pc += a == k ? op.JumpTrue : op.JumpFalse; break;
                case 0x16: return (int)a;
                case 0x06: return (int)k;
                default: throw new InvalidOperationException("opcode 0x" + op.Code.ToString("x2", System.Globalization.CultureInfo.InvariantCulture) + " not interpreted");
            }
        }

        throw new InvalidOperationException("program fell off the end");
    }
}
