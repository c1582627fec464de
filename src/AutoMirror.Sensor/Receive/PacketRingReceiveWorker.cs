using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// One receive thread on the packet ring of the mirror interface (<see cref="PacketRing"/>): the kernel
/// copies every VXLAN/GENEVE datagram addressed to this host into the ring as its packet taps see it,
/// and the tcx program (<see cref="PacketRingPrograms"/>) then drops it before the IP/UDP stack. The
/// thread walks each block the kernel hands over, checks the outer headers as the stack would have
/// (<see cref="OuterFrame"/>; the kernel's per-packet status says when the UDP checksum was already
/// verified), forwards the frames in place, and gives the block back once its frames are written.
/// A block is handed over when full or after a millisecond, so a quiet link wakes the thread at most
/// once a millisecond and a busy one once per block: no pause is needed to batch.
/// </summary>
public sealed unsafe class PacketRingReceiveWorker : FrameReceiveWorker
{
    private readonly PacketRing _ring;
    private readonly int _interfaceIndex;
    private readonly string _interfaceName;
    private int _next;

    public PacketRingReceiveWorker(string label, FrameForwarder forwarder, PacketRing ring, int interfaceIndex, string interfaceName, int batchSize, int? genevePort, int maxDatagramBytes)
        : base(label, forwarder, batchSize, coalesceMicroseconds: 0, genevePort, maxDatagramBytes)
    {
        _ring = ring;
        _interfaceIndex = interfaceIndex;
        _interfaceName = interfaceName;
    }

    /// <summary>The kernel's counters of the ring (dropped: the ring was full), read at scrape time.</summary>
    public PacketRing.Statistics Statistics => _ring.ReadStatistics();

    protected override void FreeNative()
    {
        _ring.Dispose();
        base.FreeNative();
    }

    protected override string? Receive()
    {
        while (!Stopping)
        {
            // Blocks are handed over in ring order, so the next one to read is always the one after the last.
            if (_ring.TryTake(_next) is not { } block)
            {
                if (_ring.Wait(200, _interfaceIndex, _interfaceName) is { } lost)
                {
                    // Nothing will arrive here again, and the NLB must stop sending to this sensor: health says why.
                    return "cannot receive: " + lost;
                }

                continue;
            }

            int packets = (int)block.PacketCount;
            byte* packet = block.FirstPacket;
            for (int i = 0; i < packets; i++)
            {
                uint captured = PacketRing.CapturedLength(packet);
                var frame = new Span<byte>(PacketRing.Frame(packet), (int)captured);
                if (captured < PacketRing.WireLength(packet))
                {
                    // Larger than a block can hold (the settings make blocks larger than any datagram the sensor accepts).
                    Forwarder.CountRejected(DecapError.Oversized, frame.Length);
                }
                else
                {
                    uint status = PacketRing.Status(packet);
                    ForwardFrame(frame, PacketRing.TimestampNanoseconds(packet), (status & (PacketRing.StatusChecksumValid | PacketRing.StatusChecksumNotReady)) != 0);
                }

                packet += PacketRing.NextOffset(packet);
            }

            // The block's frames (the forwarder writes every BatchSize of them as it goes) are written before the kernel may reuse it.
            Forwarder.EndBatch();
            PacketRing.Release(block);
            _next = (_next + 1) % _ring.Blocks;
            BatchDone(packets);
        }

        return null;
    }
}
