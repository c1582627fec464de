using AutoMirror.Sensor.Output;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>An output that keeps the frames it was given (or only counts them), and can be told to refuse.</summary>
internal sealed class CountingOutput(bool keepFrames = true) : IFrameOutput
{
    public List<byte[]> Frames { get; } = [];

    public long Count { get; private set; }

    public bool Refuse { get; set; }

    public string Name => "test";

    public bool Write(ReadOnlySpan<byte> frame, long unixTimeNanoseconds)
    {
        if (Refuse)
        {
            return false;
        }

        if (frame.Length < 14)
        {
            throw new InvalidOperationException("forwarder passed a frame shorter than an Ethernet header");
        }

        Count++;
        if (keepFrames)
        {
            Frames.Add(frame.ToArray());
        }

        return true;
    }

    public string? Problem() => Refuse ? "refusing" : null;

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
