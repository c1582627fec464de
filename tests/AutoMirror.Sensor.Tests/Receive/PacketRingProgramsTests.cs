using System.Buffers.Binary;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Receive;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Receive;

/// <summary>
/// The packet ring's tcx ingress program, loaded into this kernel (its verifier judges it) and run on
/// hand-built frames with BPF_PROG_TEST_RUN: it must drop exactly the datagrams the ring copies (to this
/// host, IPv4 without options, not a fragment, UDP to the VXLAN/GENEVE port) and leave everything else
/// to the stack. A wrong "drop" loses traffic the UDP sockets would have forwarded (fragments, say); a
/// wrong "next" makes the stack forward a datagram the ring forwards too. The test run hands the
/// program a packet received on this namespace's loopback, whose address is all zeros: a frame to
/// 00:00:00:00:00:00 is "to this host", any other unicast address is another host's. That the ring's
/// own filter takes the same datagrams is shown with real packets in FrameReceiveNamespaceTests.
/// </summary>
[Trait("Category", "Integration")]
public class PacketRingProgramsTests
{
    private const int Dropped = Bpf.TcxDrop;
    private const ushort VxlanPort = 4789;
    private const ushort GenevePort = 6081;
    private const string ThisHost = "00:00:00:00:00:00";

    [RootFact]
    public void Load_WithAndWithoutGenevePort_IsAcceptedByTheVerifier()
    {
        Assert.Equal(Dropped, Run(VxlanPort, null, Udp(VxlanPort)));
        Assert.Equal(Dropped, Run(VxlanPort, GenevePort, Udp(GenevePort)));
    }

    [RootFact]
    public void Run_VxlanToAnotherHost_OrBroadcast_GoesOnToTheStack()
    {
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Udp(VxlanPort, destinationMac: "02:00:00:00:00:02")));
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Udp(VxlanPort, destinationMac: "ff:ff:ff:ff:ff:ff")));
    }

    [RootFact]
    public void Run_GenevePort_IsDroppedOnlyWhenGeneveIsEnabled()
    {
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Udp(GenevePort)));
        Assert.Equal(Dropped, Run(VxlanPort, GenevePort, Udp(VxlanPort)));
    }

    [RootFact]
    public void Run_NonDefaultVxlanPort_IsHonoured_InNetworkByteOrder()
    {
        Assert.Equal(Dropped, Run(4790, null, Udp(4790)));
        Assert.Equal(Bpf.TcxNext, Run(4790, null, Udp(VxlanPort)));
        Assert.Equal(Dropped, Run(0x1234, null, Udp(0x1234)));
        Assert.Equal(Bpf.TcxNext, Run(0x1234, null, Udp(0x3412)));
    }

    [RootFact]
    public void Run_OtherUdpPorts_AndTheVxlanPortAsSource_GoOnToTheStack()
    {
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, GenevePort, Udp(53)));
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, GenevePort, Udp(VxlanPort + 1)));
        var reply = Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(VxlanPort, 40000, Packets.Vxlan(1, Packets.SampleFrame()))));
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, GenevePort, reply));
    }

    [RootFact]
    public void Run_TcpIpv6AndArp_GoOnToTheStack()
    {
        var tcp = new byte[40];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), VxlanPort);
        tcp[12] = 0x50;
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 6, tcp))));

        var ipv6 = Packets.Ethernet(ThisHost, "02:00:00:00:00:01", 0x86DD,
            Packets.Ipv6("fd00::1", "fd00::2", 17, Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame()))));
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, ipv6));

        var arp = new byte[46];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Packets.Ethernet("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, arp)));
    }

    [RootFact]
    public void Run_IpOptions_GoOnToTheStack()
    {
        var ip = Packets.Ipv4WithOptions("10.0.0.1", "10.0.0.2", 17, Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame())));
        Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Frame(ip)));
    }

    [RootFact]
    public void Run_Fragments_GoOnToTheStackToBeReassembled_ButDontFragmentIsDropped()
    {
        var udp = Packets.Udp(40000, VxlanPort, Packets.Vxlan(1, Packets.SampleFrame()));
        foreach (ushort fragment in new ushort[] { 0x2000, 0x0001, 0x1000, 0x00B9 })
        {
            Assert.Equal(Bpf.TcxNext, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, fragment))));
        }

        Assert.Equal(Dropped, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x4000))));
        Assert.Equal(Dropped, Run(VxlanPort, null, Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, udp, 0x0000))));
    }

    [RootFact]
    public void Run_FramesShorterThanTheHeaders_AreNotDropped()
    {
        // A load past the end ends the program with 0 (TCX_PASS): the stack, which discards it, as the ring's filter does.
        var whole = Udp(VxlanPort);
        Assert.NotEqual(Dropped, Run(VxlanPort, null, whole[..37]));
        Assert.NotEqual(Dropped, Run(VxlanPort, null, whole[..34])); // the IP header, no UDP (the test run refuses less than an IP header for tc)
        Assert.Equal(Dropped, Run(VxlanPort, null, whole[..38]));
    }

    private static byte[] Frame(byte[] ip, string destinationMac = ThisHost) => Packets.Ethernet(destinationMac, "02:00:00:00:00:01", 0x0800, ip);

    private static byte[] Udp(int dstPort, string destinationMac = ThisHost)
        => Frame(Packets.Ipv4("10.0.0.1", "10.0.0.2", 17, Packets.Udp(40000, (ushort)dstPort, Packets.Vxlan(1, Packets.SampleFrame()))), destinationMac);

    private static int Run(int vxlanPort, int? genevePort, byte[] frame)
    {
        int program = Bpf.LoadTcxIngressProgram(PacketRingPrograms.IngressDrop(vxlanPort, genevePort), "am_test");
        try
        {
            return Bpf.TestRun(program, frame);
        }
        finally
        {
            LibC.close(program);
        }
    }
}
