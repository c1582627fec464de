using System.Buffers.Binary;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Receive;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Receive;

/// <summary>
/// The AF_XDP filter, loaded into this kernel (so its verifier judges it) and run on hand-built
/// frames with BPF_PROG_TEST_RUN. The program is built with XDP_DROP as the redirect's miss
/// verdict: the XSKMAP here has no socket, so "took the redirect branch" shows as DROP and is
/// told apart from the PASS of every "not for user space" branch.
/// </summary>
[Trait("Category", "Integration")]
public class XdpFilterProgramTests
{
    private const int Redirected = 1; // XDP_DROP, the miss verdict these tests build with
    private const int Passed = Bpf.XdpPass;
    private const ushort VxlanPort = 4789;
    private const ushort GenevePort = 6081;

    [RootFact]
    public void Load_WithoutGenevePort_IsAcceptedByTheVerifier()
        => Assert.Equal(Redirected, Run(VxlanPort, null, Udp(VxlanPort)));

    [RootFact]
    public void Load_WithGenevePort_IsAcceptedByTheVerifier()
        => Assert.Equal(Redirected, Run(VxlanPort, GenevePort, Udp(GenevePort)));

    [RootFact]
    public void Load_ServiceMissVerdict_IsAcceptedAndPassesWhenTheQueueHasNoSocket()
    {
        // As XdpAttachment builds it: a queue without a socket must fall back to the stack, not drop.
        int map = Bpf.CreateXskMap(4);
        try
        {
            int program = Bpf.LoadXdpProgram(XdpFilterProgram.Build(map, VxlanPort, null), "am_test");
            try
            {
                Assert.Equal(Passed, Bpf.TestRun(program, Udp(VxlanPort)));
            }
            finally
            {
                LibC.close(program);
            }
        }
        finally
        {
            LibC.close(map);
        }
    }

    [RootFact]
    public void Load_RejectedProgram_ThrowsWithTheVerifierLog()
    {
        // Reads the packet without a bounds check: every verifier refuses it, and the reason must reach the log.
        Bpf.Instruction[] bad =
        [
            new(0x61, 2, 1, 0, 0),   // r2 = ctx->data
            new(0x71, 0, 2, 12, 0),  // r0 = *(u8 *)(r2 + 12), unchecked
            new(0x95, 0, 0, 0, 0),
        ];
        var error = Assert.Throws<IOException>(() => Bpf.LoadXdpProgram(bad, "am_bad"));
        Assert.Contains("verifier", error.Message, StringComparison.Ordinal);
        Assert.Contains("invalid access to packet", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void Run_VxlanToItsPort_TakesTheRedirect()
        => Assert.Equal(Redirected, Run(VxlanPort, null, Udp(VxlanPort)));

    [RootFact]
    public void Run_GenevePort_IsRedirectedOnlyWhenGeneveIsEnabled()
    {
        Assert.Equal(Redirected, Run(VxlanPort, GenevePort, Udp(GenevePort)));
        Assert.Equal(Passed, Run(VxlanPort, null, Udp(GenevePort)));
        // With GENEVE on, VXLAN still goes to user space.
        Assert.Equal(Redirected, Run(VxlanPort, GenevePort, Udp(VxlanPort)));
    }

    [RootFact]
    public void Run_NonDefaultVxlanPort_IsHonoured()
    {
        Assert.Equal(Redirected, Run(4790, null, Udp(4790)));
        Assert.Equal(Passed, Run(4790, null, Udp(VxlanPort)));
        // A port whose bytes differ in both halves catches a byte-order mistake in the comparison.
        Assert.Equal(Redirected, Run(0x1234, null, Udp(0x1234)));
        Assert.Equal(Passed, Run(0x1234, null, Udp(0x3412)));
    }

    [RootFact]
    public void Run_AnotherUdpPort_Passes()
    {
        Assert.Equal(Passed, Run(VxlanPort, GenevePort, Udp(53)));
        Assert.Equal(Passed, Run(VxlanPort, GenevePort, Udp(VxlanPort + 1)));
        // The source port being the VXLAN port does not count: only the destination does.
        var reply = Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(VxlanPort, 40000, Packets.Vxlan(1, Packets.SampleFrame()))));
        Assert.Equal(Passed, Run(VxlanPort, GenevePort, reply));
    }

    [RootFact]
    public void Run_Tcp_Passes()
    {
        // A TCP header whose destination port is 4789, so only the protocol check can pass it.
        var tcp = new byte[40];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), VxlanPort);
        tcp[12] = 0x50;
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 6, tcp))));
    }

    [RootFact]
    public void Run_Ipv6_Passes()
    {
        var frame = Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x86DD,
            Packets.Ipv6("fd00::1", "fd00::2", 17, Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame()))));
        Assert.Equal(Passed, Run(VxlanPort, null, frame));
    }

    [RootFact]
    public void Run_Arp_Passes()
    {
        var arp = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), 1);
        var frame = Packets.Ethernet("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, [.. arp, .. new byte[18]]);
        Assert.Equal(Passed, Run(VxlanPort, null, frame));
    }

    [RootFact]
    public void Run_IpOptions_Pass()
    {
        var ip = Packets.Ipv4WithOptions("10.0.0.1", "10.0.0.2", 17, Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame())));
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(ip)));
    }

    [RootFact]
    public void Run_Fragments_Pass_ButDontFragmentIsRedirected()
    {
        var udp = Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame()));
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x2000))));  // MF, first fragment
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x0001))));  // offset 8, low byte
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x1000))));  // offset, high bits
        Assert.Equal(Passed, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x00B9))));  // last fragment: offset only
        Assert.Equal(Redirected, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x4000)))); // DF
        Assert.Equal(Redirected, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x0000)))); // no flags
    }

    [RootFact]
    public void Run_FramesShorterThanTheHeaders_Pass()
    {
        var whole = Udp(VxlanPort);
        Assert.Equal(Passed, Run(VxlanPort, null, whole[..41]));
        Assert.Equal(Passed, Run(VxlanPort, null, whole[..14])); // the shortest frame the kernel test-runs
        Assert.Equal(Redirected, Run(VxlanPort, null, FixLength(whole[..42])));
    }

    [RootFact]
    public void Run_LengthsAreLeftToUserSpace_SoAPacketBeyondTheFirstBufferIsRedirectedToo()
    {
        // The program compares no packet length (variable packet offsets need CAP_PERFMON): a packet
        // continuing past the first buffer goes to the socket as several descriptors, and an IP length
        // claiming more than the frame is rejected by OuterFrame (outer_header_invalid), not here.
        var whole = Udp(VxlanPort);
        var claimsMore = (byte[])whole.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(claimsMore.AsSpan(16), (ushort)(whole.Length - 14 + 1));
        Assert.Equal(Redirected, Run(VxlanPort, null, claimsMore));

        // A short datagram padded to the 60-byte Ethernet minimum: the IP packet ends before the frame does.
        var small = Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(40000, VxlanPort, [8, 0, 0, 0])));
        Assert.Equal(Redirected, Run(VxlanPort, null, [.. small, .. new byte[60 - small.Length]]));
    }

    private static byte[] Frame(byte[] ip) => Packets.Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, ip);

    private static byte[] Udp(int dstPort)
        => Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(40000, (ushort)dstPort, Packets.Vxlan(1, Packets.SampleFrame()))));

    /// <summary>A truncated frame with its IP total length cut to match (so only the size check differs).</summary>
    private static byte[] FixLength(byte[] frame)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(frame.Length - 14));
        return frame;
    }

    /// <summary>Loads the filter into the kernel (the verifier must accept it), runs it once on the frame, and closes what it opened.</summary>
    private static int Run(int vxlanPort, int? genevePort, byte[] frame)
    {
        int map = Bpf.CreateXskMap(4);
        try
        {
            int program = Bpf.LoadXdpProgram(XdpFilterProgram.Build(map, vxlanPort, genevePort, missVerdict: Redirected), "am_test");
            try
            {
                return Bpf.TestRun(program, frame);
            }
            finally
            {
                LibC.close(program);
            }
        }
        finally
        {
            LibC.close(map);
        }
    }
}
