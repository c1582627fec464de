using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Forwarding;

public class FrameForwarderTests
{
    private static readonly byte[] Inside = Packets.SockaddrV4("10.0.0.5");

    private static FrameForwarder Forwarder(CountingOutput output, Encapsulation encapsulation = Encapsulation.Vxlan, Dictionary<uint, ushort>? vlans = null, string sources = "10.0.0.0/8", int maxVnis = 16)
    {
        Assert.True(SourceNetworkFilter.TryParse(sources, out var filter, out _));
        return new FrameForwarder(encapsulation, 4789, filter, new VlanMap(vlans ?? []), [output], maxVnis);
    }

    [Fact]
    public void Process_ValidDatagram_ForwardsTheFrameAndCountsIt()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output);
        var frame = Packets.SampleFrame();

        forwarder.Process(Packets.Vxlan(100, frame), Inside, truncated: false, 0);

        Assert.Equal(frame, Assert.Single(output.Frames));
        Assert.Equal(1, forwarder.Counters.FramesForwarded);
        Assert.Equal(frame.Length, forwarder.Counters.FrameBytes);
        var vnis = new Dictionary<uint, (long, long)>();
        forwarder.Counters.CopyVnis(vnis);
        Assert.Equal((1L, (long)frame.Length), vnis[100]);
    }

    [Fact]
    public void Process_SourceOutsideNetworks_IsRejectedAndNeverForwarded()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output);

        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Packets.SockaddrV4("203.0.113.9"), false, 0);

        Assert.Empty(output.Frames);
        Assert.Equal(1, forwarder.Counters.Drops[(int)DropReason.SourceRejected]);
    }

    [Fact]
    public void Process_Truncated_IsCountedOversized()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output);

        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Inside, truncated: true, 0);

        Assert.Empty(output.Frames);
        Assert.Equal(1, forwarder.Counters.Drops[(int)DropReason.Oversized]);
    }

    [Fact]
    public void Process_Garbage_IsCountedAsDecapErrorByReason()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output);

        forwarder.Process(new byte[] { 1, 2, 3 }, Inside, false, 0);
        forwarder.Process(Packets.Vxlan(1, Packets.SampleFrame(), flags: 0), Inside, false, 0);

        Assert.Equal(2, forwarder.Counters.Drops[(int)DropReason.DecapError]);
        Assert.Equal(1, forwarder.Counters.DecapErrors[(int)DecapError.HeaderTruncated]);
        Assert.Equal(1, forwarder.Counters.DecapErrors[(int)DecapError.VxlanNoIFlag]);
    }

    [Fact]
    public void Process_OutputRefuses_CountsOutputErrorNotForwarded()
    {
        var output = new CountingOutput { Refuse = true };
        var forwarder = Forwarder(output);

        forwarder.Process(Packets.Vxlan(1, Packets.SampleFrame()), Inside, false, 0);

        Assert.Equal(0, forwarder.Counters.FramesForwarded);
        Assert.Equal(1, forwarder.Counters.Drops[(int)DropReason.OutputError]);
        Assert.Equal(1, forwarder.Counters.OutputFailed[0]);
    }

    [Fact]
    public void Process_VniWithVlan_InsertsAn8021QTagAfterTheMacs()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output, vlans: new() { [100] = 42 });
        var frame = Packets.SampleFrame();

        forwarder.Process(Packets.Vxlan(100, frame), Inside, false, 0);
        forwarder.Process(Packets.Vxlan(200, frame), Inside, false, 0);

        byte[] expected = [.. frame[..12], 0x81, 0x00, 0x00, 42, .. frame[12..]];
        Assert.Equal(expected, output.Frames[0]);
        Assert.Equal(frame, output.Frames[1]);
    }

    [Fact]
    public void Process_Geneve_ForwardsTheMirroredFrame()
    {
        var output = new CountingOutput();
        var forwarder = Forwarder(output, Encapsulation.Geneve, vlans: new() { [7] = 3 });
        var frame = Packets.SampleFrame();

        forwarder.Process(Packets.GeneveAroundVxlan(7, frame), Inside, false, 0);

        Assert.Equal([.. frame[..12], 0x81, 0x00, 0x00, 3, .. frame[12..]], Assert.Single(output.Frames));
    }

    [Fact]
    public void CountVni_MoreVnisThanTheBound_GoToOverflow()
    {
        var output = new CountingOutput(keepFrames: false);
        var forwarder = Forwarder(output, maxVnis: 4);
        for (uint vni = 1; vni <= 10; vni++)
        {
            forwarder.Process(Packets.Vxlan(vni, Packets.SampleFrame()), Inside, false, 0);
        }

        var vnis = new Dictionary<uint, (long, long)>();
        forwarder.Counters.CopyVnis(vnis);
        Assert.Equal(4, vnis.Count);
        Assert.Equal(6, forwarder.Counters.VniOverflowFrames);
    }

    [Fact]
    public void Process_SteadyState_AllocatesNothingPerPacket()
    {
        var output = new CountingOutput(keepFrames: false);
        var forwarder = Forwarder(output, vlans: new() { [100] = 42 });
        var good = Packets.Vxlan(100, Packets.SampleFrame(1386));
        var other = Packets.Vxlan(101, Packets.SampleFrame());
        var bad = Packets.Vxlan(100, Packets.SampleFrame(), flags: 0);
        forwarder.Process(good.ToArray(), Inside, false, 0);
        forwarder.Process(other.ToArray(), Inside, false, 0);

        // Tagging rewrites the buffer in place (as it does with a receive slot), so refill it each time.
        var slot = new byte[good.Length];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            good.CopyTo(slot, 0);
            forwarder.Process(slot, Inside, false, i);
            forwarder.Process(other, Inside, false, i);
            forwarder.Process(bad, Inside, false, i);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(200_002, output.Count);
    }
}
