using System.Runtime.InteropServices;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// One receive thread on one AF_XDP socket (one receive queue of the interface). The XDP program
/// (<see cref="XdpFilterProgram"/>) hands it whole VXLAN/GENEVE datagrams straight from the driver,
/// before the kernel builds a socket buffer, routes or queues them: the thread reads them from the
/// shared RX ring without a syscall, checks the outer headers the kernel would have checked
/// (<see cref="OuterFrame"/>), and runs the same forwarder as the socket path; the frames go back to
/// the fill ring after the batch is written. What the kernel could not place (RX ring full, no free
/// frame) it counts; the sensor reports that as receive_queue_full.
/// </summary>
public sealed unsafe class XdpReceiveWorker : FrameReceiveWorker
{
    private const int AssemblySlots = 16;
    private const int AssemblySlotBytes = 16 * 1024;   // > the largest mirrored datagram (8500 + headers, jumbo MTU 9001)

    private readonly XskSocket _socket;
    private readonly byte* _assembly;
    private int _assembled;

    public XdpReceiveWorker(string label, FrameForwarder forwarder, XskSocket socket, int batchSize, int coalesceMicroseconds, int? genevePort, int maxDatagramBytes)
        : base(label, forwarder, batchSize, coalesceMicroseconds, genevePort, maxDatagramBytes)
    {
        _socket = socket;
        // Packets spread over several frames are copied together here, one slot per packet of a batch
        // (the batch's frames are written after it, so a slot is not reused before EndBatch).
        _assembly = (byte*)NativeMemory.Alloc((nuint)(AssemblySlots * AssemblySlotBytes));
    }

    public bool ZeroCopy => _socket.ZeroCopy;

    /// <summary>The kernel's counters of this socket, read at scrape time.</summary>
    public XskSocket.Statistics Statistics => _socket.ReadStatistics();

    protected override void FreeNative()
    {
        _socket.Dispose();
        NativeMemory.Free(_assembly);
        base.FreeNative();
    }

    protected override string? Receive()
    {
        // Empty looks at the ring (each after a pause) before the thread blocks in poll(): about a millisecond.
        int pausesBeforeBlocking = Coalescing ? (int)Math.Max(1, 1_000_000 / CoalesceNanoseconds) : 0;
        int emptyPauses = 0;
        while (!Stopping)
        {
            // Every descriptor the kernel has produced: the batch is bounded in datagrams below, as on the socket
            // path, so a datagram spanning more descriptors than Sensor:BatchSize (1 or 2, with a jumbo packet)
            // still completes instead of being waited for forever.
            uint received = _socket.Peek(uint.MaxValue, out uint first);
            if (received == 0)
            {
                if (emptyPauses < pausesBeforeBlocking)
                {
                    // A thread blocked in poll() must be woken by the kernel for the next datagram, and that
                    // wake-up is paid in the softirq that delivers it, once per datagram (measured: 11% of the
                    // delivering core at 1 M datagrams/s). While traffic flows, look again after a pause instead.
                    emptyPauses++;
                    Pause();
                    continue;
                }

                // Idle: sleep in poll() until the kernel fills the RX ring (bounded, to notice shutdown).
                if (_socket.Wait(200) is { } lost)
                {
                    // The interface is gone (deleted, driver unloaded): nothing will arrive here again, and the
                    // NLB must stop sending to this sensor, so health says why.
                    return "cannot receive: " + lost;
                }

                continue;
            }

            emptyPauses = 0;

            long now = NowUnixNanoseconds();
            uint taken = 0;
            uint datagrams = 0;
            while (taken < received && datagrams < BatchSize)
            {
                ref var descriptor = ref _socket.RxAt(first + taken);
                Span<byte> frame;
                uint descriptors = 1;
                if ((descriptor.Options & XskSocket.PacketContinues) == 0)
                {
                    // The common case: the packet is in one frame, processed where the kernel put it.
                    frame = new Span<byte>(_socket.Frame(descriptor.Address), (int)descriptor.Length);
                }
                else
                {
                    descriptors = Gather(first + taken, received - taken, out frame);
                    if (descriptors == 0)
                    {
                        // The packet's last descriptor is not in this batch yet: leave it for the next one.
                        break;
                    }
                }

                taken += descriptors;
                datagrams++;
                if (frame.IsEmpty)
                {
                    Forwarder.CountRejected(DecapError.Oversized, 0);
                    continue;
                }

                ForwardFrame(frame, now);
            }

            if (taken == 0)
            {
                // Only the start of a packet is there; its remaining descriptors follow within microseconds.
                Thread.Yield();
                continue;
            }

            // The batch's frames are written before their UMEM frames (and the assembly slots) are reused.
            Forwarder.EndBatch();
            _assembled = 0;
            _socket.Release(first, taken);
            BatchDone((int)datagrams);
        }

        return null;
    }

    /// <summary>
    /// Copies a packet that spans descriptors (XDP_PKT_CONTD) into an assembly slot. Returns how many
    /// descriptors it used, 0 when its last descriptor is not among the <paramref name="available"/>
    /// ones yet; <paramref name="frame"/> is empty when the packet does not fit a slot (counted as oversized).
    /// </summary>
    private uint Gather(uint index, uint available, out Span<byte> frame)
    {
        uint count = 0;
        bool complete = false;
        while (count < available)
        {
            bool continues = (_socket.RxAt(index + count).Options & XskSocket.PacketContinues) != 0;
            count++;
            if (!continues)
            {
                complete = true;
                break;
            }
        }

        if (!complete)
        {
            frame = default;
            return 0;
        }

        if (_assembled == AssemblySlots)
        {
            // All slots hold frames queued for this batch's write: write them now.
            Forwarder.EndBatch();
            _assembled = 0;
        }

        var slot = new Span<byte>(_assembly + ((long)_assembled * AssemblySlotBytes), AssemblySlotBytes);
        int length = 0;
        for (uint i = 0; i < count; i++)
        {
            ref var part = ref _socket.RxAt(index + i);
            if (length + (int)part.Length > slot.Length)
            {
                frame = default;
                return count;
            }

            new ReadOnlySpan<byte>(_socket.Frame(part.Address), (int)part.Length).CopyTo(slot[length..]);
            length += (int)part.Length;
        }

        _assembled++;
        frame = slot[..length];
        return count;
    }
}
