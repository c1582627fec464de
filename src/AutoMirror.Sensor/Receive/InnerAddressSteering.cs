using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// Classic BPF programs that pick a receive worker by a symmetric hash of the mirrored frame's IP
/// addresses: worker = fold(source ^ destination) % workers, the same for both directions of a
/// conversation. The outer source port is a hash of the inner 5-tuple and differs between the two
/// directions of one connection; steering by it (the kernel's default) would let two workers reorder
/// a SYN and its SYN-ACK, and Zeek would see broken connections. Frames that are not IPv4/IPv6 go to
/// worker 0. The kernel runs them to choose a socket of a SO_REUSEPORT group (which sees the UDP
/// payload at offset 0) or a member of a packet fanout group (which sees the packet from its IP header,
/// unlike the ring's socket filter, which runs later and sees the Ethernet header: the UDP payload is
/// at <see cref="FanoutPayloadOffset"/>).
/// </summary>
public static class InnerAddressSteering
{
    /// <summary>Where the UDP payload starts in a packet the fanout program sees: IPv4 without options 20, UDP 8.</summary>
    public const uint FanoutPayloadOffset = 20 + 8;

    private const uint VxlanHeaderLength = 8;

    /// <summary>For a packet fanout group: VXLAN, or GENEVE for datagrams to its port, from the IP header on.</summary>
    internal static LibC.SockFilter[] ForFanout(int groupSize, int? genevePort)
    {
        var vxlan = Vxlan(groupSize, FanoutPayloadOffset);
        if (genevePort is not { } port)
        {
            return vxlan;
        }

        return
        [
            new(0x28, 0, 0, 22),                                // A = UDP destination port
            new(0x15, (byte)vxlan.Length, 0, (uint)port),       // GENEVE → past the VXLAN program
            .. vxlan,
            .. Geneve(groupSize, FanoutPayloadOffset),
        ];
    }

    /// <summary>VXLAN: the frame is at offset 8 of the UDP payload, its IP header at 22.</summary>
    internal static LibC.SockFilter[] Vxlan(int groupSize, uint payloadOffset = 0)
    {
        const uint Inner = VxlanHeaderLength + 14;
        return Shifted(payloadOffset,
        [
            new(0x28, 0, 0, VxlanHeaderLength + 12),   // 0: A = frame EtherType
            new(0x15, 1, 0, 0x0800),                   // 1: IPv4 → 3
            new(0x15, 4, 13, 0x86DD),                  // 2: IPv6 → 7, else → 16
            new(0x20, 0, 0, Inner + 12),               // 3: A = IPv4 source
            new(0x07, 0, 0, 0),                        // 4: X = A
            new(0x20, 0, 0, Inner + 16),               // 5: A = IPv4 destination
            new(0x05, 0, 0, 3),                        // 6: → 10
            new(0x20, 0, 0, Inner + 8 + 12),           // 7: A = low word of IPv6 source
            new(0x07, 0, 0, 0),                        // 8: X = A
            new(0x20, 0, 0, Inner + 24 + 12),          // 9: A = low word of IPv6 destination
            new(0xAC, 0, 0, 0),                        // 10: A ^= X (same for both directions)
            new(0x07, 0, 0, 0),                        // 11: X = A
            new(0x74, 0, 0, 16),                       // 12: A >>= 16
            new(0xAC, 0, 0, 0),                        // 13: A ^= X
            new(0x94, 0, 0, (uint)groupSize),          // 14: A %= workers
            new(0x16, 0, 0, 0),                        // 15: return A
            new(0x06, 0, 0, 0),                        // 16: return 0
        ]);
    }

    /// <summary>
    /// GENEVE from a GWLB: options of variable length (X = their size), then the mirror's IPv4 header
    /// (20 bytes: AWS sets no IP options), UDP, VXLAN, and the frame at X + 44.
    /// </summary>
    internal static LibC.SockFilter[] Geneve(int groupSize, uint payloadOffset = 0)
    {
        const uint Frame = 8 + 20 + 8 + VxlanHeaderLength;
        const uint Inner = Frame + 14;
        return Shifted(payloadOffset,
        [
            new(0x30, 0, 0, 0),                        // 0: A = first GENEVE byte
            new(0x54, 0, 0, 0x3F),                     // 1: A &= option length (words)
            new(0x64, 0, 0, 2),                        // 2: A <<= 2
            new(0x07, 0, 0, 0),                        // 3: X = options length in bytes
            new(0x48, 0, 0, Frame + 12),               // 4: A = frame EtherType
            new(0x15, 1, 0, 0x0800),                   // 5: IPv4 → 7
            new(0x15, 4, 14, 0x86DD),                  // 6: IPv6 → 11, else → 21
            new(0x40, 0, 0, Inner + 12),               // 7: A = IPv4 source
            new(0x02, 0, 0, 0),                        // 8: M[0] = A
            new(0x40, 0, 0, Inner + 16),               // 9: A = IPv4 destination
            new(0x05, 0, 0, 3),                        // 10: → 14
            new(0x40, 0, 0, Inner + 8 + 12),           // 11: A = low word of IPv6 source
            new(0x02, 0, 0, 0),                        // 12: M[0] = A
            new(0x40, 0, 0, Inner + 24 + 12),          // 13: A = low word of IPv6 destination
            new(0x61, 0, 0, 0),                        // 14: X = M[0]
            new(0xAC, 0, 0, 0),                        // 15: A ^= X
            new(0x07, 0, 0, 0),                        // 16: X = A
            new(0x74, 0, 0, 16),                       // 17: A >>= 16
            new(0xAC, 0, 0, 0),                        // 18: A ^= X
            new(0x94, 0, 0, (uint)groupSize),          // 19: A %= workers
            new(0x16, 0, 0, 0),                        // 20: return A
            new(0x06, 0, 0, 0),                        // 21: return 0
        ]);
    }


    /// <summary>The program with its packet loads moved <paramref name="offset"/> bytes on (absolute and X-relative loads alike).</summary>
    private static LibC.SockFilter[] Shifted(uint offset, LibC.SockFilter[] program)
    {
        for (int i = 0; i < program.Length; i++)
        {
            // BPF_LD with BPF_ABS (0x20) or BPF_IND (0x40), any size.
            if ((program[i].Code & 0x07) == 0x00 && (program[i].Code & 0xE0) is 0x20 or 0x40)
            {
                program[i].K += offset;
            }
        }

        return program;
    }
}
