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
