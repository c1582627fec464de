using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// The two programs of the packet-ring receive path, which must agree on one predicate: addressed to
/// this host (not another host's, not one we send), IPv4 without IP options, not a fragment, UDP to the
/// VXLAN (or GENEVE) port. The ring's classic BPF socket filter copies exactly those into the ring; the
/// tcx ingress program, which the kernel runs right after the packet taps, drops exactly those, so the
/// kernel's IP/UDP stack never sees (and never pays for) a datagram the ring already holds. What does
/// not match (fragments, which the stack reassembles; IP options; other traffic) is neither copied nor
/// dropped: it takes the stack, and the sensor's UDP sockets still receive what is theirs.
/// Both read fixed offsets from the Ethernet header (both hooks see the packet from there); a packet
/// too short for a load ends both programs with "no" (filter: not copied; tcx: 0, pass).
/// </summary>
public static class PacketRingPrograms
{
    private const uint PacketHost = 0;

    /// <summary>The socket filter: returns the bytes to copy (the whole packet) or 0 (not copied).</summary>
    internal static LibC.SockFilter[] RingFilter(int vxlanPort, int? genevePort)
    {
        const uint SkfAdPktType = 0xFFFFF000 + 4;   // SKF_AD_OFF + SKF_AD_PKTTYPE
        uint geneve = (uint)(genevePort ?? vxlanPort);
        return
        [
            new(0x20, 0, 0, SkfAdPktType),          //  0: A = packet type
            new(0x15, 0, 12, PacketHost),           //  1: not to this host → 14
            new(0x28, 0, 0, 12),                    //  2: A = EtherType
            new(0x15, 0, 10, 0x0800),               //  3: not IPv4 → 14
            new(0x30, 0, 0, 14),                    //  4: A = version and header length
            new(0x15, 0, 8, 0x45),                  //  5: IP options → 14
            new(0x28, 0, 0, 20),                    //  6: A = flags and fragment offset
            new(0x45, 6, 0, 0x3FFF),                //  7: MF or an offset (a fragment) → 14; DF may be set
            new(0x30, 0, 0, 23),                    //  8: A = protocol
            new(0x15, 0, 4, 17),                    //  9: not UDP → 14
            new(0x28, 0, 0, 36),                    // 10: A = UDP destination port
            new(0x15, 1, 0, (uint)vxlanPort),       // 11: VXLAN → 13
            new(0x15, 0, 1, geneve),                // 12: GENEVE → 13, else → 14
            new(0x06, 0, 0, 0x40000),               // 13: copy the whole packet
            new(0x06, 0, 0, 0),                     // 14: not copied
        ];
    }

    /// <summary>The tcx ingress program: TCX_DROP for what the ring filter copies, TCX_NEXT (the stack) for the rest.</summary>
    public static Bpf.Instruction[] IngressDrop(int vxlanPort, int? genevePort)
    {
        int geneve = genevePort ?? vxlanPort;
        return
        [
            new(0xBF, 6, 1, 0, 0),                  //  0: r6 = skb (the packet loads below read it from r6)
            new(0x61, 0, 1, 4, 0),                  //  1: r0 = skb->pkt_type
            new(0x55, 0, 0, 12, (int)PacketHost),   //  2: not to this host → 15
            new(0x28, 0, 0, 0, 12),                 //  3: r0 = EtherType
            new(0x55, 0, 0, 10, 0x0800),            //  4: not IPv4 → 15
            new(0x30, 0, 0, 0, 14),                 //  5: r0 = version and header length
            new(0x55, 0, 0, 8, 0x45),               //  6: IP options → 15
            new(0x28, 0, 0, 0, 20),                 //  7: r0 = flags and fragment offset
            new(0x57, 0, 0, 0, 0x3FFF),             //  8: keep MF and the offset
            new(0x55, 0, 0, 5, 0),                  //  9: a fragment → 15
            new(0x30, 0, 0, 0, 23),                 // 10: r0 = protocol
            new(0x55, 0, 0, 3, 17),                 // 11: not UDP → 15
            new(0x28, 0, 0, 0, 36),                 // 12: r0 = UDP destination port
            new(0x15, 0, 0, 3, vxlanPort),          // 13: VXLAN → 17
            new(0x15, 0, 0, 2, geneve),             // 14: GENEVE → 17
            new(0xB7, 0, 0, 0, Bpf.TcxNext),        // 15: r0 = TCX_NEXT: on to the stack
            new(0x95, 0, 0, 0, 0),                  // 16: return
            new(0xB7, 0, 0, 0, Bpf.TcxDrop),        // 17: r0 = TCX_DROP: the ring has it
            new(0x95, 0, 0, 0, 0),                  // 18: return
        ];
    }
}
