using System.Runtime.InteropServices;
using AutoMirror.Sensor.Interop;
using Microsoft.Win32.SafeHandles;

namespace AutoMirror.Sensor.Tests.Interop;

/// <summary>
/// The io_uring the TAP output batches its writes through, against an ordinary file (no root needed):
/// every queued write lands, in queue order, with its own result; failures come back per write.
/// </summary>
public sealed unsafe class IoUringTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "automirror-iouring-" + Guid.NewGuid().ToString("N"));
    private readonly byte* _buffer = (byte*)NativeMemory.Alloc(4096);

    public void Dispose()
    {
        NativeMemory.Free(_buffer);
        File.Delete(_path);
    }

    [Fact]
    public void SubmitAndWait_WritesEveryQueuedBufferInOrderWithItsResult()
    {
        using var file = File.OpenHandle(_path, FileMode.Create, FileAccess.Write);
        using var ring = Create(8, file);
        var chunks = new[] { Fill(0, 100, 0x11), Fill(100, 1, 0x22), Fill(101, 1400, 0x33) };

        foreach (var (offset, length, index) in chunks.Select((c, i) => (c.Offset, c.Length, i)))
        {
            Assert.True(ring.TryQueueWrite(_buffer + offset, (uint)length, (ulong)index));
        }

        var results = new int[3];
        Assert.Equal(0, ring.SubmitAndWait(results));

        Assert.Equal([100, 1, 1400], results);
        var expected = new byte[1501];
        new ReadOnlySpan<byte>(_buffer, 1501).CopyTo(expected);
        file.Dispose();
        Assert.Equal(expected, File.ReadAllBytes(_path));
    }

    [Fact]
    public void SubmitAndWait_ReusesTheRingBatchAfterBatch()
    {
        using var file = File.OpenHandle(_path, FileMode.Create, FileAccess.Write);
        using var ring = Create(4, file);
        var results = new int[4];
        int total = 0;
        for (int batch = 0; batch < 50; batch++)
        {
            // More batches than ring entries: head and tail wrap many times.
            int count = 1 + (batch % 4);
            for (int i = 0; i < count; i++)
            {
                _buffer[total + i] = (byte)(total + i);
                Assert.True(ring.TryQueueWrite(_buffer + total + i, 1, (ulong)i));
            }

            Array.Clear(results);
            Assert.Equal(0, ring.SubmitAndWait(results));
            Assert.All(results.Take(count), r => Assert.Equal(1, r));
            total += count;
        }

        file.Dispose();
        var written = File.ReadAllBytes(_path);
        Assert.Equal(total, written.Length);
        Assert.Equal(Enumerable.Range(0, total).Select(i => (byte)i), written);
    }

    [Fact]
    public void TryQueueWrite_RefusesMoreThanTheCapacity()
    {
        using var file = File.OpenHandle(_path, FileMode.Create, FileAccess.Write);
        using var ring = Create(2, file);

        Assert.True(ring.TryQueueWrite(_buffer, 1, 0));
        Assert.True(ring.TryQueueWrite(_buffer, 1, 1));
        Assert.False(ring.TryQueueWrite(_buffer, 1, 2));

        var results = new int[2];
        Assert.Equal(0, ring.SubmitAndWait(results));
        Assert.Equal([1, 1], results);
    }

    [Fact]
    public void SubmitAndWait_ReportsEachFailedWriteAsMinusErrno()
    {
        File.WriteAllBytes(_path, []);
        using var readOnly = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        using var ring = Create(4, readOnly);

        Assert.True(ring.TryQueueWrite(_buffer, 10, 0));
        Assert.True(ring.TryQueueWrite(_buffer, 10, 1));
        var results = new int[2];
        Assert.Equal(0, ring.SubmitAndWait(results));

        Assert.Equal([-LibC.EBADF, -LibC.EBADF], results);
    }

    [Fact]
    public void SubmitAndWait_WithNothingQueued_DoesNothing()
    {
        using var file = File.OpenHandle(_path, FileMode.Create, FileAccess.Write);
        using var ring = Create(4, file);

        Assert.Equal(0, ring.SubmitAndWait(new int[4]));
        file.Dispose();
        Assert.Empty(File.ReadAllBytes(_path));
    }

    [Fact]
    public void Dispose_ReleasesTheFileAtOnce()
    {
        // A non-persistent TAP disappears when its last reference goes; the ring must not keep one
        // past Dispose (the kernel would otherwise drop it later, from a work queue).
        int* fds = stackalloc int[2];
        Assert.Equal(0, pipe2(fds, LibC.O_NONBLOCK | LibC.O_CLOEXEC));
        var ring = IoUring.Create(2, fds[1]);
        LibC.close(fds[1]);
        byte b;
        Assert.Equal(-1, LibC.read(fds[0], &b, 1));   // the ring still holds the write end: no EOF yet

        ring.Dispose();

        Assert.Equal(0, LibC.read(fds[0], &b, 1));    // end of file: nothing holds the write end
        LibC.close(fds[0]);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int pipe2(int* fds, int flags);

    private static IoUring Create(uint entries, SafeFileHandle file) => IoUring.Create(entries, (int)file.DangerousGetHandle());

    private (int Offset, int Length) Fill(int offset, int length, byte value)
    {
        new Span<byte>(_buffer + offset, length).Fill(value);
        return (offset, length);
    }
}
