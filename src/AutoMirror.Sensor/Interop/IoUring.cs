using System.Runtime.InteropServices;

namespace AutoMirror.Sensor.Interop;

/// <summary>
/// A minimal io_uring (Linux 5.6+) for one thread: queue writes to one registered file, submit them
/// with one io_uring_enter and wait for their completions. Used to put a whole receive batch of
/// frames into the TAP with one syscall instead of one write() per frame (the TAP takes one frame per
/// write). Raw syscalls, because liburing is not a .NET dependency; the ring layout is the kernel's
/// UAPI (include/uapi/linux/io_uring.h) and the syscall numbers are the same on x86_64 and arm64.
/// Not thread-safe: one ring per receive worker.
/// </summary>
internal sealed unsafe partial class IoUring : IDisposable
{
    private const long SysSetup = 425;
    private const long SysEnter = 426;
    private const long SysRegister = 427;
    private const uint EnterGetEvents = 1;
    private const uint RegisterFiles = 2;
    private const uint UnregisterFiles = 3;
    private const uint FeatSingleMmap = 1;
    private const long OffSqRing = 0;
    private const long OffCqRing = 0x8000000;
    private const long OffSqes = 0x10000000;
    private const byte OpWrite = 23;
    private const byte SqeFixedFile = 1;
    private const int SqeSize = 64;
    private const int CqeSize = 16;
    private const int ProtReadWrite = 3;
    private const int MapSharedPopulate = 0x01 | 0x8000;

    private readonly int _fd;
    private readonly uint _entries;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly byte* _sqes;
    private readonly byte* _cqes;
    private readonly (nint Address, nuint Length)[] _mappings;
    private uint _queued;
    private int _disposed;

    private IoUring(int fd, uint entries, IoUringParams p, (nint, nuint)[] mappings, byte* sqRing, byte* cqRing, byte* sqes)
    {
        _fd = fd;
        _entries = entries;
        _mappings = mappings;
        _sqHead = (uint*)(sqRing + p.SqOff.Head);
        _sqTail = (uint*)(sqRing + p.SqOff.Tail);
        _sqMask = *(uint*)(sqRing + p.SqOff.RingMask);
        _cqHead = (uint*)(cqRing + p.CqOff.Head);
        _cqTail = (uint*)(cqRing + p.CqOff.Tail);
        _cqMask = *(uint*)(cqRing + p.CqOff.RingMask);
        _cqes = cqRing + p.CqOff.Cqes;
        _sqes = sqes;

        // Submission slot i is always entry i (the indirection array is the identity).
        uint* array = (uint*)(sqRing + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++)
        {
            array[i] = i;
        }
    }

    /// <summary>Writes that can be queued before <see cref="SubmitAndWait"/>.</summary>
    public uint Capacity => _entries;

    /// <summary>Creates a ring for at least <paramref name="entries"/> writes to <paramref name="file"/>; throws with errno when the kernel refuses.</summary>
    public static IoUring Create(uint entries, int file)
    {
        var p = default(IoUringParams);
        int fd = (int)syscall(SysSetup, entries, (long)(&p), 0, 0, 0, 0);
        if (fd < 0)
        {
            throw new IOException("io_uring_setup failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        var mappings = new List<(nint, nuint)>();
        try
        {
            nuint sqBytes = p.SqOff.Array + (p.SqEntries * sizeof(uint));
            nuint cqBytes = p.CqOff.Cqes + (p.CqEntries * (uint)CqeSize);
            bool single = (p.Features & FeatSingleMmap) != 0;
            if (single)
            {
                sqBytes = cqBytes = Math.Max(sqBytes, cqBytes);
            }

            byte* sqRing = Map(fd, sqBytes, OffSqRing, mappings);
            byte* cqRing = single ? sqRing : Map(fd, cqBytes, OffCqRing, mappings);
            byte* sqes = Map(fd, p.SqEntries * (uint)SqeSize, OffSqes, mappings);

            // A registered file saves the per-request fd lookup and reference counting.
            int registered = file;
            if (syscall(SysRegister, fd, RegisterFiles, (long)(&registered), 1, 0, 0) < 0)
            {
                throw new IOException("io_uring_register(files) failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
            }

            return new IoUring(fd, Math.Min(entries, p.SqEntries), p, [.. mappings], sqRing, cqRing, sqes);
        }
        catch
        {
            foreach (var (address, length) in mappings)
            {
                LibC.munmap((void*)address, length);
            }

            LibC.close(fd);
            throw;
        }
    }

    /// <summary>
    /// Queues a write of <paramref name="length"/> bytes at <paramref name="buffer"/> to the registered
    /// file; the memory must stay as it is until <see cref="SubmitAndWait"/> returns. False when full.
    /// </summary>
    public bool TryQueueWrite(byte* buffer, uint length, ulong userData)
    {
        if (_queued == _entries)
        {
            return false;
        }

        uint tail = *_sqTail + _queued;
        byte* sqe = _sqes + ((tail & _sqMask) * SqeSize);
        new Span<byte>(sqe, SqeSize).Clear();
        sqe[0] = OpWrite;
        sqe[1] = SqeFixedFile;
        *(int*)(sqe + 4) = 0;                  // index 0 of the registered files
        *(ulong*)(sqe + 8) = ulong.MaxValue;   // offset -1: at the file's position, in order, as write() does
        *(ulong*)(sqe + 16) = (ulong)buffer;   // addr
        *(uint*)(sqe + 24) = length;
        *(ulong*)(sqe + 32) = userData;
        _queued++;
        return true;
    }

    /// <summary>
    /// Submits the queued writes and waits until every one has completed; <c>results[userData]</c>
    /// gets each one's result (bytes written, or -errno). Returns 0, or the errno of io_uring_enter
    /// itself; the writes it did not take then get -errno as their result.
    /// </summary>
    public int SubmitAndWait(Span<int> results)
    {
        uint queued = _queued;
        if (queued == 0)
        {
            return 0;
        }

        uint headBefore = Volatile.Read(ref *_sqHead);
        uint tailBefore = *_sqTail;
        Volatile.Write(ref *_sqTail, tailBefore + queued);
        _queued = 0;

        int failure = 0;
        uint completed = 0;
        uint taken = 0;
        while (completed < queued)
        {
            long result = syscall(SysEnter, _fd, queued - taken, queued - completed, EnterGetEvents, 0, 0);
            int errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
            uint before = completed;
            completed += Reap(results);

            // The kernel's consumed-entries head says how many it took, even when the call was interrupted.
            uint takenNow = Volatile.Read(ref *_sqHead) - headBefore;
            bool progress = takenNow != taken || completed != before;
            taken = takenNow;
            if (errno is not (0 or LibC.EINTR))
            {
                failure = errno;
                break;
            }

            if (errno == 0 && !progress)
            {
                // Neither took nor completed anything without an error: do not spin.
                failure = LibC.EAGAIN;
                break;
            }
        }

        if (failure == 0)
        {
            return 0;
        }

        // io_uring_enter failed: wait for what the kernel took, report the rest as not written.
        while (completed < taken)
        {
            if (syscall(SysEnter, _fd, 0, taken - completed, EnterGetEvents, 0, 0) < 0 && Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                break;
            }

            completed += Reap(results);
        }

        for (uint i = taken; i < queued; i++)
        {
            byte* sqe = _sqes + (((tailBefore + i) & _sqMask) * SqeSize);
            Store(results, *(ulong*)(sqe + 32), -failure);
        }

        // Withdraw the entries the kernel did not take so the next batch starts clean.
        Volatile.Write(ref *_sqTail, headBefore + taken);
        return failure;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Drop the ring's reference to the file now: closing the ring releases it later, from a kernel
        // work queue, and a non-persistent TAP would outlive the sensor's shutdown until then.
        syscall(SysRegister, _fd, UnregisterFiles, 0, 0, 0, 0);
        foreach (var (address, length) in _mappings)
        {
            LibC.munmap((void*)address, length);
        }

        LibC.close(_fd);
    }

    private uint Reap(Span<int> results)
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail);
        uint count = tail - head;
        for (; head != tail; head++)
        {
            byte* cqe = _cqes + ((head & _cqMask) * CqeSize);
            Store(results, *(ulong*)cqe, *(int*)(cqe + 8));
        }

        Volatile.Write(ref *_cqHead, head);
        return count;
    }

    private static void Store(Span<int> results, ulong userData, int result)
    {
        if (userData < (ulong)results.Length)
        {
            results[(int)userData] = result;
        }
    }

    private static byte* Map(int fd, nuint length, long offset, List<(nint, nuint)> mappings)
    {
        void* address = LibC.mmap(null, length, ProtReadWrite, MapSharedPopulate, fd, offset);
        if (address == (void*)-1)
        {
            throw new IOException("mmap of the io_uring failed: " + LibC.Describe(Marshal.GetLastPInvokeError()));
        }

        mappings.Add(((nint)address, length));
        return (byte*)address;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SqRingOffsets
    {
        public uint Head;
        public uint Tail;
        public uint RingMask;
        public uint RingEntries;
        public uint Flags;
        public uint Dropped;
        public uint Array;
        public uint Reserved1;
        public ulong UserAddress;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CqRingOffsets
    {
        public uint Head;
        public uint Tail;
        public uint RingMask;
        public uint RingEntries;
        public uint Overflow;
        public uint Cqes;
        public uint Flags;
        public uint Reserved1;
        public ulong UserAddress;
    }

    /// <summary>struct io_uring_params (120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct IoUringParams
    {
        public uint SqEntries;
        public uint CqEntries;
        public uint Flags;
        public uint SqThreadCpu;
        public uint SqThreadIdle;
        public uint Features;
        public uint WqFd;
        public fixed uint Reserved[3];
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
}
