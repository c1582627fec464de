using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// One receive thread with its own SO_REUSEPORT socket (a BPF program spreads datagrams over the
/// workers by the mirrored frame's address pair, see <see cref="SteerByInnerAddresses"/>, so both
/// directions of a conversation stay in order on one thread). recvmmsg fills a batch of native
/// (never moved) slots per syscall; each datagram is decapsulated and written in place (run to
/// completion, like Kestrel's inline scheduling; batching outputs write the batch's frames with one
/// syscall after it; after a batch less than half full the thread pauses briefly so that the next
/// one fills, instead of being woken for each datagram): the only queue is the socket's bounded receive buffer,
/// and what overflows it is counted by the kernel per socket (the drops column of /proc/net/udp,
/// read at scrape time rather than as a per-datagram SO_RXQ_OVFL control message) as receive_queue_full.
/// </summary>
public sealed unsafe class UdpReceiveWorker : ReceiveWorker
{
    private const int NameSlot = 32;   // >= sizeof(sockaddr_in6) (28)

    private readonly int _slotBytes;
    private readonly byte* _buffers;
    private readonly byte* _names;
    private readonly LibC.IoVec* _iovecs;
    private readonly LibC.MMsgHdr* _messages;
    private int _fd = -1;

    /// <param name="coalesceMicroseconds">Pause after a batch less than half full, so the next one fills (0: none).</param>
    public UdpReceiveWorker(string label, FrameForwarder forwarder, int batchSize, int slotBytes, int coalesceMicroseconds = 0)
        : base(label, forwarder, batchSize, coalesceMicroseconds)
    {
        _slotBytes = slotBytes;
        _buffers = (byte*)NativeMemory.AlignedAlloc((nuint)(batchSize * slotBytes), 64);
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(batchSize * NameSlot));
        _iovecs = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)(batchSize * sizeof(LibC.IoVec)));
        _messages = (LibC.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(batchSize * sizeof(LibC.MMsgHdr)));
        for (int i = 0; i < batchSize; i++)
        {
            _iovecs[i].Base = _buffers + ((long)i * slotBytes);
            _iovecs[i].Length = (nuint)slotBytes;
            _messages[i].Header.Iov = &_iovecs[i];
            _messages[i].Header.IovLength = 1;
            _messages[i].Header.Name = _names + (i * NameSlot);
        }
    }

    public int Port { get; private set; }

    /// <summary>Creates and binds the socket; throws with the address and errno when that fails.</summary>
    public void Bind(IPAddress address, int port, int receiveBufferBytes)
    {
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException("socket() failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        try
        {
            int one = 1;
            SetOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEPORT, one, "SO_REUSEPORT");
            // SO_RCVBUFFORCE passes net.core.rmem_max when we are privileged; otherwise take what is allowed.
            if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, &receiveBufferBytes, sizeof(int)) < 0)
            {
                SetOption(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, receiveBufferBytes, "SO_RCVBUF");
            }

            // A receive timeout lets the thread notice shutdown without closing the socket under it.
            var timeout = new LibC.TimeVal { Seconds = 0, Microseconds = 200_000 };
            if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, &timeout, (uint)sizeof(LibC.TimeVal)) < 0)
            {
                throw new IOException("SO_RCVTIMEO failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            Span<byte> sockaddr = stackalloc byte[28];
            sockaddr.Clear();
            sockaddr[2] = (byte)(port >> 8);
            sockaddr[3] = (byte)port;
            uint length;
            if (v6)
            {
                SetOption(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, 0, "IPV6_V6ONLY");
                sockaddr[0] = LibC.AF_INET6;
                address.TryWriteBytes(sockaddr.Slice(8, 16), out _);
                length = 28;
            }
            else
            {
                sockaddr[0] = LibC.AF_INET;
                address.TryWriteBytes(sockaddr.Slice(4, 4), out _);
                length = 16;
            }

            fixed (byte* pointer = sockaddr)
            {
                if (LibC.bind(fd, pointer, length) < 0)
                {
                    throw new IOException("bind " + address + ":" + port + "/udp failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
                }
            }
        }
        catch
        {
            LibC.close(fd);
            throw;
        }

        _fd = fd;
        Port = port;
    }

    /// <summary>
    /// Steers datagrams to the group's sockets by a symmetric hash of the mirrored frame's IP
    /// addresses (a classic BPF program run by the kernel's SO_REUSEPORT selection, which sees the UDP
    /// payload at offset 0). The outer source port is a hash of the inner 5-tuple and differs between
    /// the two directions of one connection; steering by it would let two workers reorder a SYN and its
    /// SYN-ACK, and Zeek would see broken connections. Frames that are not IPv4/IPv6 go to worker 0.
    /// </summary>
    public void SteerByInnerAddresses(Encapsulation encapsulation, int groupSize)
    {
        var program = encapsulation == Encapsulation.Vxlan ? InnerAddressSteering.Vxlan(groupSize) : InnerAddressSteering.Geneve(groupSize);
        fixed (LibC.SockFilter* filter = program)
        {
            var fprog = new LibC.SockFprog { Length = (ushort)program.Length, Filter = filter };
            if (LibC.setsockopt(_fd, LibC.SOL_SOCKET, LibC.SO_ATTACH_REUSEPORT_CBPF, &fprog, (uint)sizeof(LibC.SockFprog)) < 0)
            {
                throw new IOException("SO_ATTACH_REUSEPORT_CBPF failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }
        }
    }

    protected override void CloseReceiver()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    protected override void FreeNative()
    {
        NativeMemory.AlignedFree(_buffers);
        NativeMemory.Free(_names);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_messages);
    }

    protected override string? Receive()
    {
        while (!Stopping)
        {
            ResetHeaders();
            int received = LibC.recvmmsg(_fd, _messages, (uint)BatchSize, LibC.MSG_WAITFORONE, null);
            if (received < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is LibC.EAGAIN or LibC.EINTR)
                {
                    continue;
                }

                return Label + " recvmmsg failed: " + LibC.Describe(errno);
            }

            long now = NowUnixNanoseconds();
            for (int i = 0; i < received; i++)
            {
                ref var header = ref _messages[i].Header;
                int length = (int)_messages[i].Length;
                bool truncated = (header.Flags & LibC.MSG_TRUNC) != 0;
                var datagram = new Span<byte>(_buffers + ((long)i * _slotBytes), Math.Min(length, _slotBytes));
                var source = new ReadOnlySpan<byte>(header.Name, (int)header.NameLength);
                Forwarder.Process(datagram, source, truncated, now);
            }

            // Batched outputs write the whole batch now, while the slots still hold the datagrams.
            Forwarder.EndBatch();
            BatchDone(received);
        }

        return null;
    }

    private void ResetHeaders()
    {
        for (int i = 0; i < BatchSize; i++)
        {
            _messages[i].Header.NameLength = NameSlot;
            _messages[i].Header.Flags = 0;
        }
    }

    private static void SetOption(int fd, int level, int name, int value, string what)
    {
        if (LibC.setsockopt(fd, level, name, &value, sizeof(int)) < 0)
        {
            throw new IOException(what + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }
    }
}
