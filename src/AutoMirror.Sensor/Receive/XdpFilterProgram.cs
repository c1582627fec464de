using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// The XDP program of the AF_XDP receive path, as eBPF instructions. It takes IPv4 frames without IP
/// options, not fragments, UDP to the VXLAN (or GENEVE) port, whose headers are in the first buffer,
/// and redirects them to the AF_XDP socket of the receive queue they arrived on (if that queue has
/// none, the redirect falls back to <c>missVerdict</c>: XDP_PASS in service). Everything else passes,
/// unchanged, to the kernel's stack, where the UDP sockets still receive what is theirs (fragments are
/// reassembled there). Packets larger than one AF_XDP frame arrive as several descriptors (the sockets
/// are bound with XDP_USE_SG). The program does no arithmetic with a packet length: the kernel allows
/// variable packet offsets only to programs loaded with CAP_PERFMON, which the sensor does not need to hold.
/// </summary>
public static class XdpFilterProgram
{
    private const int PassLabel = 25;

    public static Bpf.Instruction[] Build(int xskMapFd, int vxlanPort, int? genevePort, int missVerdict = Bpf.XdpPass)
    {
        // Ports as a 16-bit little-endian load of the big-endian field reads them.
        int vxlan = SwapBytes(vxlanPort);
        int geneve = SwapBytes(genevePort ?? vxlanPort);
        Bpf.Instruction[] program =
        [
            Mov(6, 1),                                  //  0: r6 = ctx
            Load(Word, 2, 1, 0),                        //  1: r2 = ctx->data
            Load(Word, 3, 1, 4),                        //  2: r3 = ctx->data_end
            Mov(4, 2),                                  //  3: r4 = data
            AddImmediate(4, 42),                        //  4: r4 += Ethernet 14 + IPv4 20 + UDP 8
            JumpIfGreater(4, 3, 5, PassLabel),          //  5: headers not all in the first buffer → pass
            Load(Half, 5, 2, 12),                       //  6: EtherType
            JumpIfNotEqual(5, 0x0008, 7, PassLabel),    //  7: not IPv4 → pass
            Load(Byte, 5, 2, 14),                       //  8: version and header length
            JumpIfNotEqual(5, 0x45, 9, PassLabel),      //  9: IP options → pass
            Load(Half, 5, 2, 20),                       // 10: flags and fragment offset
            AndImmediate(5, 0xFF3F),                    // 11: keep MF and the offset (DF may be set)
            JumpIfNotEqual(5, 0, 12, PassLabel),        // 12: a fragment → pass (the stack reassembles)
            Load(Byte, 5, 2, 23),                       // 13: protocol
            JumpIfNotEqual(5, 17, 14, PassLabel),       // 14: not UDP → pass
            Load(Half, 5, 2, 36),                       // 15: UDP destination port
            new(0x15, 5, 0, 2, vxlan),                  // 16: VXLAN port → 19
            new(0x15, 5, 0, 1, geneve),                 // 17: GENEVE port → 19
            new(0x05, 0, 0, PassLabel - 19, 0),         // 18: another port → pass
            Load(Word, 2, 6, 16),                       // 19: r2 = ctx->rx_queue_index (the map key)
            new(0x18, 1, 1, 0, xskMapFd),               // 20: r1 = the XSKMAP (64-bit load of a map fd, two slots)
            new(0x00, 0, 0, 0, 0),                      // 21
            new(0xB7, 3, 0, 0, missVerdict),            // 22: r3 = verdict when the queue has no socket
            new(0x85, 0, 0, 0, 51),                     // 23: bpf_redirect_map(map, queue, miss)
            new(0x95, 0, 0, 0, 0),                      // 24: return its verdict
            new(0xB7, 0, 0, 0, Bpf.XdpPass),            // 25: pass: r0 = XDP_PASS
            new(0x95, 0, 0, 0, 0),                      // 26: return
        ];
        return program;
    }

    private const byte Word = 0x00;
    private const byte Half = 0x08;
    private const byte Byte = 0x10;

    private static int SwapBytes(int port) => ((port & 0xFF) << 8) | ((port >> 8) & 0xFF);

    private static Bpf.Instruction Mov(int destination, int source) => new(0xBF, destination, source, 0, 0);

    private static Bpf.Instruction Load(byte size, int destination, int source, short offset) => new((byte)(0x61 | size), destination, source, offset, 0);

    private static Bpf.Instruction AddImmediate(int destination, int value) => new(0x07, destination, 0, 0, value);

    private static Bpf.Instruction AndImmediate(int destination, int value) => new(0x57, destination, 0, 0, value);

    private static Bpf.Instruction JumpIfGreater(int destination, int source, int at, int target) => new(0x2D, destination, source, (short)(target - at - 1), 0);

    private static Bpf.Instruction JumpIfNotEqual(int destination, int value, int at, int target) => new(0x55, destination, 0, (short)(target - at - 1), value);
}
