using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Metrics;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// What every receive worker shares, whatever it receives from: its thread and its lifecycle (start,
/// stop, dispose once), the problem health reports, the end of a batch (counted, with the thread's
/// allocation, and the pause that lets the next batch fill below full load), and the forwarder whose
/// batch writers belong to the thread and are closed when it ends.
/// </summary>
public abstract unsafe class ReceiveWorker : IReceiveWorker
{
    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;

    private readonly int _batchSize;
    private readonly long _coalesceNanoseconds;
    private int _disposed;
    private volatile bool _stopping;
    private volatile string? _problem = "not started";
    private Thread? _thread;
    private long _allocatedAtStart;

    /// <param name="coalesceMicroseconds">Pause after a batch less than half full, so the next one fills (0: none).</param>
    protected ReceiveWorker(string label, FrameForwarder forwarder, int batchSize, int coalesceMicroseconds)
    {
        Label = label;
        Forwarder = forwarder;
        _batchSize = batchSize;
        _coalesceNanoseconds = coalesceMicroseconds * 1000L;
    }

    public string Label { get; }

    public ForwarderCounters Counters => Forwarder.Counters;

    /// <summary>Null while receiving; otherwise why not.</summary>
    public string? Problem => _problem;

    protected FrameForwarder Forwarder { get; }

    protected int BatchSize => _batchSize;

    protected bool Stopping => _stopping;

    protected bool Coalescing => _coalesceNanoseconds > 0;

    protected long CoalesceNanoseconds => _coalesceNanoseconds;

    /// <summary>One clock read per batch: the datagrams of a batch arrived within microseconds.</summary>
    protected static long NowUnixNanoseconds() => (DateTime.UtcNow.Ticks - UnixEpochTicks) * 100;

    public void Start()
    {
        _problem = null;
        _thread = new Thread(Run) { IsBackground = true, Name = Label };
        _thread.Start();
    }

    public void Stop(TimeSpan wait)
    {
        _stopping = true;
        _thread?.Join(wait);
        _problem = "stopped";
    }

    public void Dispose()
    {
        // The host disposes the engine twice (as singleton and as the hosted service's factory result).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CloseReceiver();
        if (_thread is { IsAlive: true })
        {
            // The thread may still be reading into the native buffers; leaking them at exit beats a crash.
            return;
        }

        if (_thread is null)
        {
            // Never started (start-up failed after it was built): its batch writers were never used.
            Forwarder.Dispose();
        }

        FreeNative();
    }

    /// <summary>Receives until <see cref="Stopping"/>; returns null then, or why it can no longer receive.</summary>
    protected abstract string? Receive();

    /// <summary>At dispose, before the thread is looked at: what may be closed even under a running thread.</summary>
    protected virtual void CloseReceiver()
    {
    }

    /// <summary>At dispose, once the thread is not running: the native memory and sockets left.</summary>
    protected abstract void FreeNative();

    /// <summary>Pauses for the coalescing interval.</summary>
    protected void Pause()
    {
        var pause = new LibC.TimeSpec { Seconds = 0, Nanoseconds = _coalesceNanoseconds };
        LibC.nanosleep(&pause, null);
    }

    /// <summary>After a batch has been written and its buffers given back: counts it and, below full load, pauses.</summary>
    protected void BatchDone(int datagrams)
    {
        if (Coalescing && datagrams < _batchSize / 2)
        {
            // The source is (nearly) empty. Blocking now would mean a wakeup, a context switch and a
            // syscall for nearly every datagram below full load (measured on the socket path: 2-2.6 us of
            // CPU per frame at 200 000 pps, against 0.8 us in full batches); a short pause lets a batch
            // accumulate instead. It adds at most the pause (plus timer slack) of latency, nothing at
            // full load (batches are full).
            Pause();
        }

        var counters = Counters;
        counters.Batches++;
        counters.ReceiveAllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart;
    }

    private void Run()
    {
        _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            if (Receive() is { } problem)
            {
                _problem = problem;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Never reached by bad input (the forwarder does not throw on data); this is a defect, made visible to health.
            _problem = Label + " stopped: " + e.GetType().Name + ": " + e.Message;
        }
        finally
        {
            // The batch writers (io_uring) belong to this thread; closing them also releases their TAP reference.
            Forwarder.Dispose();
        }
    }
}
