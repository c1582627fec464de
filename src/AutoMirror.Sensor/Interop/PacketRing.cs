using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AutoMirror.Sensor.Interop;

/// <summary>
/// An AF_PACKET socket with a TPACKET_V3 receive ring: the kernel copies each packet its socket filter
/// accepts into the current block of a ring shared with user space, and hands over whole blocks (when
/// full, or after <see cref="BlockTimeoutMilliseconds"/>), so there is no syscall per packet and the
/// receiving thread is woken once per block, not per packet. One copy from the socket buffer into the
/// ring, and none of the kernel's IP/UDP work: the packet taps run before the stack.
/// </summary>
public sealed unsafe class PacketRing : IDisposable
{
    /// <summary>A block with packets in it is handed over after this long, full or not: the latency at low rates.</summary>
    public const int BlockTimeoutMilliseconds = 1;

    /// <summary>Per packet, ahead of its frame: the tpacket3_hdr and the sockaddr_ll, aligned (an upper bound).</summary>
    public const int PacketOverhead = 128;

    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const int SOL_PACKET = 263;
    private const int SO_ATTACH_FILTER = 26;
    private const int PACKET_RX_RING = 5;
    private const int PACKET_STATISTICS = 6;
    private const int PACKET_VERSION = 10;
    private const int PACKET_IGNORE_OUTGOING = 23;
    private const int PACKET_FANOUT = 18;
    private const int PACKET_FANOUT_DATA = 22;
    private const int PACKET_FANOUT_CBPF = 6;
    private const int PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;
    private const int TPACKET_V3 = 2;
    private const ushort ETH_P_ALL = 0x0003;
    private const uint TP_STATUS_KERNEL = 0;
    private const uint TP_STATUS_USER = 1;
    private const int FrameSizeForAccounting = 2048;

    /// <summary>Packet status: the checksum is still to be computed (a sender on this host left it to the device).</summary>
    public const uint StatusChecksumNotReady = 1 << 3;

    /// <summary>Packet status: the device (or veth for a local sender) has verified the checksum.</summary>
    public const uint StatusChecksumValid = 1 << 7;

    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly Lock _statisticsLock = new();
    private long _dropped;
    private long _frozen;
    private int _fd;

    [StructLayout(LayoutKind.Sequential)]
    private struct Request
    {
        public uint BlockSize;
        public uint BlockCount;
        public uint FrameSize;
        public uint FrameCount;
        public uint RetireBlockTimeout;
        public uint PrivateSize;
        public uint FeatureRequest;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct KernelStatistics
    {
        public uint Packets;
        public uint Drops;
        public uint FreezeQueueCount;
    }

    /// <summary>The ring's counters since it was created (the kernel's reset at every read; these add them up).</summary>
    public readonly record struct Statistics(long Dropped, long Frozen);

    /// <param name="filter">Classic BPF: the bytes of a packet to copy, 0 for packets the ring must not take.</param>
    internal PacketRing(int blocks, int blockBytes, ReadOnlySpan<LibC.SockFilter> filter)
    {
        // Protocol 0: the socket receives nothing until Bind names the protocol and the interface.
        int fd = LibC.socket(AF_PACKET, SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException("socket(AF_PACKET) failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        _fd = fd;
        try
        {
            int version = TPACKET_V3;
            SetOption(SOL_PACKET, PACKET_VERSION, &version, sizeof(int), "PACKET_VERSION (TPACKET_V3)");
            // What the host sends on the interface is not mirrored traffic; without this the tap clones it before the filter says no.
            int one = 1;
            _ = LibC.setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(int));
            fixed (LibC.SockFilter* instructions = filter)
            {
                var program = new LibC.SockFprog { Length = (ushort)filter.Length, Filter = instructions };
                SetOption(LibC.SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(LibC.SockFprog), "SO_ATTACH_FILTER");
            }

            var request = new Request
            {
                BlockSize = (uint)blockBytes,
                BlockCount = (uint)blocks,
                FrameSize = FrameSizeForAccounting,
                FrameCount = (uint)(blocks * (blockBytes / FrameSizeForAccounting)),
                RetireBlockTimeout = BlockTimeoutMilliseconds,
            };
            SetOption(SOL_PACKET, PACKET_RX_RING, &request, sizeof(Request), "PACKET_RX_RING");

            _mapLength = (nuint)blocks * (nuint)blockBytes;
            _map = (byte*)LibC.mmap(null, _mapLength, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
            if (_map == (byte*)-1)
            {
                _map = null;
                throw new IOException("mmap of the packet ring failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            Blocks = blocks;
            BlockBytes = blockBytes;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Blocks { get; }

    public int BlockBytes { get; }

    /// <summary>Starts receiving the interface's packets (those the filter accepts) into the ring.</summary>
    public void Bind(int interfaceIndex)
    {
        // sockaddr_ll: family, protocol (network order), interface index; the rest unused for bind.
        var address = stackalloc byte[20];
        new Span<byte>(address, 20).Clear();
        *(ushort*)address = AF_PACKET;
        *(ushort*)(address + 2) = BinaryPrimitives.ReverseEndianness(ETH_P_ALL);
        *(int*)(address + 4) = interfaceIndex;
        if (LibC.bind(_fd, address, 20) < 0)
        {
            throw new IOException("bind AF_PACKET to interface " + interfaceIndex + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }
    }

    /// <summary>
    /// Makes this (bound) ring the first member of a new fanout group whose classic BPF program picks the
    /// member for each packet, and returns the group's id (the kernel picks one not in use) for the others.
    /// </summary>
    internal int StartFanout(ReadOnlySpan<LibC.SockFilter> steering)
    {
        int request = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        SetOption(SOL_PACKET, PACKET_FANOUT, &request, sizeof(int), "PACKET_FANOUT (new group)");
        int group = 0;
        uint length = sizeof(int);
        if (LibC.getsockopt(_fd, SOL_PACKET, PACKET_FANOUT, &group, &length) < 0)
        {
            throw new IOException("PACKET_FANOUT (group id) failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        fixed (LibC.SockFilter* instructions = steering)
        {
            var program = new LibC.SockFprog { Length = (ushort)steering.Length, Filter = instructions };
            SetOption(SOL_PACKET, PACKET_FANOUT_DATA, &program, sizeof(LibC.SockFprog), "PACKET_FANOUT_DATA");
        }

        return group & 0xFFFF;
    }

    /// <summary>Joins the fanout group another ring started: member i of the group is the i-th to join.</summary>
    public void JoinFanout(int group)
    {
        int request = group | (PACKET_FANOUT_CBPF << 16);
        SetOption(SOL_PACKET, PACKET_FANOUT, &request, sizeof(int), "PACKET_FANOUT (join)");
    }

    /// <summary>The block at <paramref name="index"/> (0 to Blocks-1), when the kernel has handed it over; null while it is the kernel's.</summary>
    public Block? TryTake(int index)
    {
        byte* block = _map + ((long)index * BlockBytes);
        // tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1 (block_status first).
        return (Volatile.Read(ref *(uint*)(block + 8)) & TP_STATUS_USER) != 0 ? new Block(block) : null;
    }

    /// <summary>Gives a block back to the kernel; the packets in it must not be used after this.</summary>
    public static void Release(Block block) => Volatile.Write(ref *(uint*)(block.Start + 8), TP_STATUS_KERNEL);

    /// <summary>
    /// Blocks until the kernel hands over a block or the timeout passes. Returns null, or why the socket
    /// can no longer receive (its interface was unregistered).
    /// </summary>
    public string? Wait(int timeoutMilliseconds, int interfaceIndex, string interfaceName)
    {
        var request = new LibC.PollFd { Fd = _fd, Events = LibC.POLLIN };
        if (LibC.poll(&request, 1, timeoutMilliseconds) <= 0 || (request.Returned & LibC.POLLERR) == 0)
        {
            return null;
        }

        // ENETDOWN when the interface went down (it resumes when it comes back up) or was unregistered (it never will).
        int error = 0;
        uint length = sizeof(int);
        _ = LibC.getsockopt(_fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length);
        return LibC.if_nametoindex(interfaceName) != (uint)interfaceIndex ? "interface " + interfaceName + " is gone (" + LibC.Describe(error) + ")" : null;
    }

    public Statistics ReadStatistics()
    {
        lock (_statisticsLock)
        {
            KernelStatistics read = default;
            uint length = (uint)sizeof(KernelStatistics);
            if (_fd >= 0 && LibC.getsockopt(_fd, SOL_PACKET, PACKET_STATISTICS, &read, &length) == 0)
            {
                _dropped += read.Drops;
                _frozen += read.FreezeQueueCount;
            }

            return new Statistics(_dropped, _frozen);
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0)
        {
            return;
        }

        if (_map is not null)
        {
            _ = LibC.munmap(_map, _mapLength);
        }

        LibC.close(fd);
    }

    /// <summary>A block handed over by the kernel: its packets, each a tpacket3_hdr followed (at tp_mac) by the frame.</summary>
    public readonly struct Block(byte* start)
    {
        public readonly byte* Start = start;

        public uint PacketCount => *(uint*)(Start + 12);

        public byte* FirstPacket => Start + *(uint*)(Start + 16);
    }

    /// <summary>tpacket3_hdr, the fields the receive path reads.</summary>
    public static uint NextOffset(byte* packet) => *(uint*)packet;

    public static long TimestampNanoseconds(byte* packet) => (*(uint*)(packet + 4) * 1_000_000_000L) + *(uint*)(packet + 8);

    public static uint CapturedLength(byte* packet) => *(uint*)(packet + 12);

    public static uint WireLength(byte* packet) => *(uint*)(packet + 16);

    public static uint Status(byte* packet) => *(uint*)(packet + 20);

    public static byte* Frame(byte* packet) => packet + *(ushort*)(packet + 24);

    private void SetOption(int level, int name, void* value, int length, string what)
    {
        if (LibC.setsockopt(_fd, level, name, value, (uint)length) < 0)
        {
            throw new IOException(what + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }
    }
}
