using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Output;

/// <summary>
/// A Linux TAP interface (IFF_TAP | IFF_NO_PI via /dev/net/tun): each write puts one Ethernet frame
/// on the interface as if it had arrived from a wire, which is what Zeek (or tcpdump) sniffs. The TAP
/// takes one frame per write, so receive workers batch their writes through an io_uring
/// (<see cref="OpenBatch"/>): one syscall per receive batch instead of one per frame.
/// </summary>
public sealed unsafe class TapDevice : IFrameBatchOutput
{
    private readonly int _controlSocket;
    private int _fd;
    private int _lastErrno;

    private TapDevice(int fd, int controlSocket, string interfaceName)
    {
        _fd = fd;
        _controlSocket = controlSocket;
        InterfaceName = interfaceName;
    }

    public string Name => "tap";

    public string InterfaceName { get; }

    /// <summary>False when the sysctl could not be written (no CAP_NET_ADMIN over /proc/sys/net); the engine warns.</summary>
    public bool Ipv6Disabled { get; private init; }

    /// <summary>Creates the interface (or attaches to an existing persistent one), sets its MTU and brings it up.</summary>
    public static TapDevice Open(string name, int mtu, bool persist)
    {
        // Non-blocking: io_uring then writes inline in io_uring_enter instead of handing each write to a
        // kernel worker thread. A TAP write does not wait anyway (its send buffer is unlimited).
        int fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NONBLOCK);
        if (fd < 0)
        {
            throw new IOException("cannot open /dev/net/tun: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        int control = -1;
        try
        {
            var request = NewRequest(name);
            request.Value = LibC.IFF_TAP | LibC.IFF_NO_PI;
            if (LibC.ioctl(fd, LibC.TUNSETIFF, &request) < 0)
            {
                throw new IOException("TUNSETIFF " + name + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            string actual = ReadName(request);
            if (LibC.ioctl(fd, LibC.TUNSETPERSIST, persist ? 1 : 0) < 0)
            {
                throw new IOException("TUNSETPERSIST " + actual + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            control = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
            if (control < 0)
            {
                throw new IOException("control socket failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            bool ipv6Disabled = DisableIpv6(actual);
            var mtuRequest = NewRequest(actual);
            mtuRequest.Value = mtu;
            if (LibC.ioctl(control, LibC.SIOCSIFMTU, &mtuRequest) < 0)
            {
                throw new IOException("setting MTU " + mtu + " on " + actual + " failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            var flags = NewRequest(actual);
            if (LibC.ioctl(control, LibC.SIOCGIFFLAGS, &flags) < 0 ||
                (flags.Value |= LibC.IFF_UP) == 0 ||
                LibC.ioctl(control, LibC.SIOCSIFFLAGS, &flags) < 0)
            {
                throw new IOException("bringing " + actual + " up failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            return new TapDevice(fd, control, actual) { Ipv6Disabled = ipv6Disabled };
        }
        catch
        {
            LibC.close(fd);
            if (control >= 0)
            {
                LibC.close(control);
            }

            throw;
        }
    }

    public bool Write(ReadOnlySpan<byte> frame, long unixTimeNanoseconds)
    {
        nint written;
        fixed (byte* pointer = frame)
        {
            written = LibC.write(_fd, pointer, (nuint)frame.Length);
        }

        if (written < 0)
        {
            _lastErrno = Marshal.GetLastPInvokeError();
            return false;
        }

        if (_lastErrno != 0)
        {
            _lastErrno = 0;
        }

        return true;
    }

    public IFrameBatch? OpenBatch(int capacity, out string? reason)
    {
        try
        {
            var batch = new TapWriteBatch(this, IoUring.Create((uint)capacity, _fd));
            reason = null;
            return batch;
        }
        catch (IOException e)
        {
            // Old kernel, io_uring disabled (kernel.io_uring_disabled) or blocked by a seccomp profile.
            reason = e.Message;
            return null;
        }
    }

    public string? Problem()
    {
        if (Volatile.Read(ref _fd) < 0)
        {
            return "tap " + InterfaceName + " is closed";
        }

        var flags = NewRequest(InterfaceName);
        if (LibC.ioctl(_controlSocket, LibC.SIOCGIFFLAGS, &flags) < 0)
        {
            return "tap " + InterfaceName + " is gone: " + LibC.Describe(Marshal.GetLastPInvokeError());
        }

        if ((flags.Value & LibC.IFF_UP) == 0)
        {
            return "tap " + InterfaceName + " is down";
        }

        int errno = Volatile.Read(ref _lastErrno);
        return errno == 0 ? null : "tap " + InterfaceName + " write failed: " + LibC.Describe(errno);
    }

    /// <summary>Records the outcome of a batched write for the health endpoint, as <see cref="Write"/> does.</summary>
    internal void RecordWrite(int errno)
    {
        if (_lastErrno != errno)
        {
            _lastErrno = errno;
        }
    }

    public void Flush()
    {
        // Each write() is already a delivered frame.
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.close(fd);
            LibC.close(_controlSocket);
        }
    }

    /// <summary>
    /// Without this the host would send its own IPv6 router/neighbour solicitations out of the TAP,
    /// and Zeek would log traffic that never crossed the mirrored network.
    /// </summary>
    private static bool DisableIpv6(string interfaceName)
    {
        string path = "/proc/sys/net/ipv6/conf/" + interfaceName + "/disable_ipv6";
        try
        {
            if (File.Exists(path))
            {
                File.WriteAllText(path, "1");
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static LibC.IfReq NewRequest(string name)
    {
        var request = default(LibC.IfReq);
        int count = Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, 15));
        request.Name[count] = 0;
        return request;
    }

    private static string ReadName(LibC.IfReq request)
    {
        var span = new ReadOnlySpan<byte>(request.Name, 16);
        int end = span.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
    }

    /// <summary>One receive worker's io_uring of TAP writes.</summary>
    private sealed class TapWriteBatch(TapDevice tap, IoUring ring) : IFrameBatch
    {
        private readonly uint[] _lengths = new uint[ring.Capacity];
        private readonly int[] _results = new int[ring.Capacity];
        private int _count;

        public int Capacity => (int)ring.Capacity;

        public void Add(ReadOnlySpan<byte> frame)
        {
            byte* pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(frame));
            if (!ring.TryQueueWrite(pointer, (uint)frame.Length, (ulong)_count))
            {
                throw new InvalidOperationException("more frames than the batch capacity " + Capacity);
            }

            _lengths[_count++] = (uint)frame.Length;
        }

        public void Submit(Span<bool> written)
        {
            int count = _count;
            _count = 0;
            if (count == 0)
            {
                return;
            }

            ring.SubmitAndWait(_results.AsSpan(0, count));
            int lastErrno = 0;
            for (int i = 0; i < count; i++)
            {
                int result = _results[i];
                // A TAP write takes the whole frame or fails; a short count would be a kernel change.
                written[i] = result == _lengths[i];
                if (!written[i])
                {
                    lastErrno = result < 0 ? -result : LibC.EIO;
                }
            }

            tap.RecordWrite(lastErrno);
        }

        public void Dispose() => ring.Dispose();
    }
}
