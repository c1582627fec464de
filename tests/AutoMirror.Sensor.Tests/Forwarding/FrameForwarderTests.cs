using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Output;
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

    private static FrameForwarder Batched(IFrameOutput[] outputs, IFrameBatch?[] batches, int maxVnis = 16)
    {
        Assert.True(SourceNetworkFilter.TryParse("10.0.0.0/8", out var filter, out _));
        return new FrameForwarder(Encapsulation.Vxlan, 4789, filter, new VlanMap(new Dictionary<uint, ushort>()), outputs, maxVnis, batches);
    }

    [Fact]
    public void EndBatch_WritesTheQueuedFramesInOrderAndOnlyThenCountsThem()
    {
        var batch = new CountingBatch(8);
        var forwarder = Batched([new CountingOutput()], [batch]);
        var frames = Enumerable.Range(0, 3).Select(i => Packets.SampleFrame(46 + i, (byte)i)).ToArray();

        foreach (var frame in frames)
        {
            forwarder.Process(Packets.Vxlan(100, frame), Inside, false, 0);
        }

        Assert.Equal(3, forwarder.Counters.Datagrams);
        Assert.Equal(0, forwarder.Counters.FramesForwarded);
        Assert.Empty(batch.Written);

        forwarder.EndBatch();

        Assert.Equal(frames, batch.Written);
        Assert.Equal(1, batch.Submits);
        Assert.Equal(3, forwarder.Counters.FramesForwarded);
        Assert.Equal(frames.Sum(f => f.Length), forwarder.Counters.FrameBytes);
        Assert.Equal(3, forwarder.Counters.OutputWritten[0]);
        var vnis = new Dictionary<uint, (long, long)>();
        forwarder.Counters.CopyVnis(vnis);
        Assert.Equal((3L, (long)frames.Sum(f => f.Length)), vnis[100]);
    }

    [Fact]
    public void EndBatch_AFailedWriteIsAnOutputErrorAndTheRestAreForwarded()
    {
        var batch = new CountingBatch(8);
        batch.FailOrdinals.Add(1);
        var forwarder = Batched([new CountingOutput()], [batch]);
        var frame = Packets.SampleFrame();

        for (int i = 0; i < 3; i++)
        {
            forwarder.Process(Packets.Vxlan(100, frame), Inside, false, 0);
        }

        forwarder.EndBatch();

        var c = forwarder.Counters;
        Assert.Equal(2, c.FramesForwarded);
        Assert.Equal(1, c.Drops[(int)DropReason.OutputError]);
        Assert.Equal(2, c.OutputWritten[0]);
        Assert.Equal(1, c.OutputFailed[0]);
        var vnis = new Dictionary<uint, (long, long)>();
        c.CopyVnis(vnis);
        Assert.Equal(2, vnis[100].Item1);
        // Every datagram ends as exactly one of forwarded or dropped.
        Assert.Equal(c.Datagrams, c.FramesForwarded + c.Drops.Sum());
    }

    [Fact]
    public void EndBatch_WithAFrameByFrameOutputBeside_AFrameEitherOutputRefusedIsDropped()
    {
        var pcap = new CountingOutput();
        var batch = new CountingBatch(8);
        batch.FailOrdinals.Add(0);
        var forwarder = Batched([new CountingOutput(), pcap], [batch, null]);

        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Inside, false, 0);   // TAP fails
        pcap.Refuse = true;
        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Inside, false, 0);   // pcap fails
        pcap.Refuse = false;
        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Inside, false, 0);   // both take it
        forwarder.EndBatch();

        var c = forwarder.Counters;
        Assert.Equal(1, c.FramesForwarded);
        Assert.Equal(2, c.Drops[(int)DropReason.OutputError]);
        Assert.Equal([2L, 2L], c.OutputWritten);
        Assert.Equal([1L, 1L], c.OutputFailed);
    }

    [Fact]
    public void Process_MoreFramesThanTheBatchHolds_WritesTheFullBatchFirst()
    {
        var batch = new CountingBatch(2);
        var forwarder = Batched([new CountingOutput()], [batch]);

        for (int i = 0; i < 5; i++)
        {
            forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Inside, false, 0);
        }

        Assert.Equal(2, batch.Submits);
        Assert.Equal(1, batch.Queued);
        forwarder.EndBatch();
        Assert.Equal(5, forwarder.Counters.FramesForwarded);
        Assert.Equal(3, batch.Submits);
    }

    [Fact]
    public void EndBatch_DropsAreCountedAtOnceAndNeverQueued()
    {
        var batch = new CountingBatch(8);
        var forwarder = Batched([new CountingOutput()], [batch]);

        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame()), Packets.SockaddrV4("203.0.113.9"), false, 0);
        forwarder.Process(Packets.Vxlan(100, Packets.SampleFrame(), flags: 0), Inside, false, 0);

        Assert.Equal(0, batch.Added);
        Assert.Equal(1, forwarder.Counters.Drops[(int)DropReason.SourceRejected]);
        Assert.Equal(1, forwarder.Counters.Drops[(int)DropReason.DecapError]);
        forwarder.EndBatch();
        Assert.Equal(0, batch.Submits);
    }

    [Fact]
    public void Dispose_ClosesTheBatchWriters()
    {
        var batch = new CountingBatch(8);
        var forwarder = Batched([new CountingOutput()], [batch]);

        forwarder.Dispose();

        Assert.True(batch.Disposed);
    }

    [Fact]
    public void ProcessAndEndBatch_SteadyState_AllocatesNothingPerPacket()
    {
        var batch = new CountingBatch(64, keepFrames: false);
        var forwarder = Batched([new CountingOutput(keepFrames: false)], [batch]);
        var good = Packets.Vxlan(100, Packets.SampleFrame(1386));
        var bad = Packets.Vxlan(100, Packets.SampleFrame(), flags: 0);
        forwarder.Process(good, Inside, false, 0);
        forwarder.EndBatch();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            for (int j = 0; j < 32; j++)
            {
                forwarder.Process(good, Inside, false, i);
                forwarder.Process(bad, Inside, false, i);
            }

            forwarder.EndBatch();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(320_001, forwarder.Counters.FramesForwarded);
    }
}
