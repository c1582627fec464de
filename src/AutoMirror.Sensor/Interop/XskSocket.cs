using System.Runtime.InteropServices;

namespace AutoMirror.Sensor.Interop;

/// <summary>
/// One AF_XDP socket bound to one receive queue of an interface, with its own UMEM (the frames the
/// kernel copies packets into), fill ring (frames handed to the kernel), RX ring (packets received)
/// and the completion ring the kernel requires even though nothing is sent. The rings are shared
/// memory: user space reads the RX ring and refills the fill ring without a syscall per packet.
/// </summary>
public sealed unsafe class XskSocket : IDisposable
{
    public const int FrameSize = 4096;

    private const int AF_XDP = 44;
    private const int SOCK_RAW = 3;
    private const int SOL_XDP = 283;
    private const int XDP_MMAP_OFFSETS = 1;
    private const int XDP_RX_RING = 2;
    private const int XDP_UMEM_REG = 4;
    private const int XDP_UMEM_FILL_RING = 5;
    private const int XDP_UMEM_COMPLETION_RING = 6;
    private const int XDP_STATISTICS = 7;
    private const int XDP_OPTIONS = 8;
    private const int XDP_OPTIONS_ZEROCOPY = 1;
    private const ushort XDP_USE_SG = 1 << 4;
    private const int EINVAL = 22;

    /// <summary>Descriptor option: the packet continues in the next descriptor.</summary>
    public const uint PacketContinues = 1;
    private const long XDP_PGOFF_RX_RING = 0;
    private const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    private const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;
    private const int CompletionRingSize = 64;

    private readonly byte* _umem;
    private readonly Ring _rx;
    private readonly Ring _fill;
    private readonly Ring _completion;
    private int _fd;

    [StructLayout(LayoutKind.Sequential)]
    private struct RingOffset
    {
        public ulong Producer;
        public ulong Consumer;
        public ulong Descriptors;
        public ulong Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MmapOffsets
    {
        public RingOffset Rx;
        public RingOffset Tx;
        public RingOffset Fill;
        public RingOffset Completion;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Descriptor
    {
        public ulong Address;
        public uint Length;
        public uint Options;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Statistics
    {
        public ulong RxDropped;
        public ulong RxInvalidDescriptors;
        public ulong TxInvalidDescriptors;
        public ulong RxRingFull;
        public ulong RxFillRingEmpty;
        public ulong TxRingEmpty;

        /// <summary>Datagrams the kernel could not hand over (RX ring full, or dropped: no free frame, too large).</summary>
        public readonly long Lost => (long)(RxDropped + RxRingFull);
    }

    private readonly struct Ring(byte* map, nuint mapLength, uint* producer, uint* consumer, byte* descriptors, uint size)
    {
        public readonly byte* Map = map;
        public readonly nuint MapLength = mapLength;
        public readonly uint* Producer = producer;
        public readonly uint* Consumer = consumer;
        public readonly byte* Descriptors = descriptors;
        public readonly uint Mask = size - 1;
    }

    /// <param name="frames">UMEM frames (power of two): the fill ring holds all of them, the RX ring half.</param>
    public XskSocket(int interfaceIndex, int queue, int frames)
    {
        int fd = LibC.socket(AF_XDP, SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException("socket(AF_XDP) failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        _fd = fd;
        try
        {
            _umem = (byte*)NativeMemory.AlignedAlloc((nuint)frames * FrameSize, 4096);
            var registration = stackalloc ulong[4];
            registration[0] = (ulong)_umem;
            registration[1] = (ulong)frames * FrameSize;
            ((uint*)registration)[4] = FrameSize;   // chunk size
            ((uint*)registration)[5] = 0;           // headroom
            registration[3] = 0;                    // flags, tx metadata length
            SetOption(XDP_UMEM_REG, registration, 32, "XDP_UMEM_REG");
            int fillSize = frames, rxSize = frames, completionSize = CompletionRingSize;
            SetOption(XDP_UMEM_FILL_RING, &fillSize, sizeof(int), "XDP_UMEM_FILL_RING");
            SetOption(XDP_UMEM_COMPLETION_RING, &completionSize, sizeof(int), "XDP_UMEM_COMPLETION_RING");
            SetOption(XDP_RX_RING, &rxSize, sizeof(int), "XDP_RX_RING");

            MmapOffsets offsets;
            uint length = (uint)sizeof(MmapOffsets);
            if (LibC.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &offsets, &length) < 0)
            {
                throw new IOException("XDP_MMAP_OFFSETS failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            _rx = MapRing(offsets.Rx, rxSize, sizeof(Descriptor), XDP_PGOFF_RX_RING, "RX");
            _fill = MapRing(offsets.Fill, fillSize, sizeof(ulong), XDP_UMEM_PGOFF_FILL_RING, "fill");
            _completion = MapRing(offsets.Completion, completionSize, sizeof(ulong), XDP_UMEM_PGOFF_COMPLETION_RING, "completion");

            // Every frame starts in the kernel's hands.
            var fill = (ulong*)_fill.Descriptors;
            for (int i = 0; i < frames; i++)
            {
                fill[i] = (ulong)i * FrameSize;
            }

            Volatile.Write(ref *_fill.Producer, (uint)frames);

            var address = stackalloc byte[16];
            new Span<byte>(address, 16).Clear();
            *(ushort*)address = AF_XDP;
            *(uint*)(address + 4) = (uint)interfaceIndex;
            *(uint*)(address + 8) = (uint)queue;
            // Zero-copy where the driver supports it, otherwise copy mode. XDP_USE_SG: a packet larger than a
            // frame arrives as several descriptors (XDP_PKT_CONTD on all but the last); kernels before 6.6
            // refuse the flag, and then drop such packets (counted in the socket's statistics).
            *(ushort*)(address + 2) = XDP_USE_SG;
            MultiBuffer = true;
            int bound = LibC.bind(fd, address, 16);
            if (bound < 0 && Marshal.GetLastPInvokeError() == EINVAL)
            {
                *(ushort*)(address + 2) = 0;
                MultiBuffer = false;
                bound = LibC.bind(fd, address, 16);
            }

            if (bound < 0)
            {
                throw new IOException("bind AF_XDP to interface " + interfaceIndex + " queue " + queue + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            int options = 0;
            length = sizeof(int);
            ZeroCopy = LibC.getsockopt(fd, SOL_XDP, XDP_OPTIONS, &options, &length) == 0 && (options & XDP_OPTIONS_ZEROCOPY) != 0;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int FileDescriptor => _fd;

    public bool ZeroCopy { get; }

    /// <summary>Packets larger than a frame arrive as several descriptors (XDP_USE_SG); false on kernels before 6.6, which drop them.</summary>
    public bool MultiBuffer { get; }

    /// <summary>Received descriptors ready to read, up to <paramref name="max"/>; their index starts at <paramref name="first"/>.</summary>
    public uint Peek(uint max, out uint first)
    {
        first = *_rx.Consumer;
        uint available = Volatile.Read(ref *_rx.Producer) - first;
        return available < max ? available : max;
    }

    public ref Descriptor RxAt(uint index) => ref ((Descriptor*)_rx.Descriptors)[index & _rx.Mask];

    public byte* Frame(ulong address) => _umem + address;

    /// <summary>
    /// Gives the read descriptors' frames back to the kernel and releases the RX slots. The fill ring
    /// holds every frame, so it always has room for the ones returned.
    /// </summary>
    public void Release(uint first, uint count)
    {
        var fill = (ulong*)_fill.Descriptors;
        uint producer = *_fill.Producer;
        for (uint i = 0; i < count; i++)
        {
            fill[(producer + i) & _fill.Mask] = RxAt(first + i).Address & ~(ulong)(FrameSize - 1);
        }

        Volatile.Write(ref *_fill.Producer, producer + count);
        Volatile.Write(ref *_rx.Consumer, first + count);
    }

    /// <summary>
    /// Blocks until the RX ring has something or the timeout passes. Returns null, or why the socket can
    /// no longer receive (its interface was unregistered: the kernel unbinds the socket and reports ENETDOWN).
    /// </summary>
    public string? Wait(int timeoutMilliseconds)
    {
        var request = new LibC.PollFd { Fd = _fd, Events = LibC.POLLIN };
        if (LibC.poll(&request, 1, timeoutMilliseconds) > 0 && (request.Returned & LibC.POLLIN) != 0)
        {
            return null;
        }

        // An unbound AF_XDP socket does not say so through poll(): the kernel only sets the socket's error.
        int error = 0;
        uint length = sizeof(int);
        return LibC.getsockopt(_fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length) == 0 && error != 0 ? LibC.Describe(error) : null;
    }

    public Statistics ReadStatistics()
    {
        Statistics statistics = default;
        uint length = (uint)sizeof(Statistics);
        if (_fd >= 0)
        {
            _ = LibC.getsockopt(_fd, SOL_XDP, XDP_STATISTICS, &statistics, &length);
        }

        return statistics;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0)
        {
            return;
        }

        Unmap(_rx);
        Unmap(_fill);
        Unmap(_completion);
        LibC.close(fd);
        // The kernel unpins the UMEM when the socket is gone.
        if (_umem is not null)
        {
            NativeMemory.AlignedFree(_umem);
        }
    }

    private Ring MapRing(RingOffset offset, int size, int entrySize, long pageOffset, string name)
    {
        nuint length = (nuint)(offset.Descriptors + (ulong)(size * entrySize));
        byte* map = (byte*)LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, _fd, pageOffset);
        if (map == (byte*)-1)
        {
            throw new IOException("mmap of the AF_XDP " + name + " ring failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        return new Ring(map, length, (uint*)(map + offset.Producer), (uint*)(map + offset.Consumer), map + offset.Descriptors, (uint)size);
    }

    private static void Unmap(Ring ring)
    {
        if (ring.Map is not null)
        {
            _ = LibC.munmap(ring.Map, ring.MapLength);
        }
    }

    private void SetOption(int name, void* value, int length, string what)
    {
        if (LibC.setsockopt(_fd, SOL_XDP, name, value, (uint)length) < 0)
        {
            throw new IOException(what + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }
    }
}
