namespace AutoMirror.Sensor.Output;

/// <summary>Where decapsulated frames go (the TAP Zeek sniffs, rotating pcap files).</summary>
public interface IFrameOutput : IDisposable
{
    /// <summary>The metrics label: "tap", "pcap".</summary>
    string Name { get; }

    /// <summary>Writes one Ethernet frame. Called concurrently by receive workers; must not allocate.</summary>
    bool Write(ReadOnlySpan<byte> frame, long unixTimeNanoseconds);

    /// <summary>Why the output cannot take frames now, or null when it can (for the health endpoint).</summary>
    string? Problem();

    /// <summary>Flushes buffered frames (timer and shutdown).</summary>
    void Flush();
}

/// <summary>
/// An output that can take a receive worker's frames a batch at a time (one syscall per batch
/// instead of one per frame).
/// </summary>
public interface IFrameBatchOutput : IFrameOutput
{
    /// <summary>
    /// A batch writer for one receive worker (not shared between threads), or null when this
    /// machine cannot batch (then <paramref name="reason"/> says why and <see cref="IFrameOutput.Write"/> is used).
    /// </summary>
    IFrameBatch? OpenBatch(int capacity, out string? reason);
}

/// <summary>Frames queued by one receive worker and written together.</summary>
public interface IFrameBatch : IDisposable
{
    int Capacity { get; }

    /// <summary>
    /// Queues a frame. It is not copied: it must be in native (never moved) memory and stay unchanged
    /// until <see cref="Submit"/> returns, as a receive slot does until the next recvmmsg.
    /// </summary>
    void Add(ReadOnlySpan<byte> frame);

    /// <summary>Writes the queued frames in order; <paramref name="written"/>[i] tells whether the i-th was written.</summary>
    void Submit(Span<bool> written);
}
