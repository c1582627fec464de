using AutoMirror.Sensor.Output;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>
/// A batch writer that records what it was given and when it was submitted, and fails the frames
/// whose ordinal (counted from 0 over all frames added) is in <see cref="FailOrdinals"/>.
/// </summary>
internal sealed class CountingBatch(int capacity, bool keepFrames = true) : IFrameBatch
{
    private int _queued;

    public int Capacity { get; } = capacity;

    public List<byte[]> Written { get; } = [];

    public HashSet<long> FailOrdinals { get; } = [];

    public long Added { get; private set; }

    public int Submits { get; private set; }

    public bool Disposed { get; private set; }

    /// <summary>Frames added since the last submit (what the real writer would still hold as pointers).</summary>
    public int Queued => _queued;

    private readonly List<byte[]> _pending = [];

    public void Add(ReadOnlySpan<byte> frame)
    {
        if (_queued == Capacity)
        {
            throw new InvalidOperationException("forwarder queued more frames than the capacity");
        }

        if (keepFrames)
        {
            _pending.Add(frame.ToArray());
        }

        _queued++;
        Added++;
    }

    public void Submit(Span<bool> written)
    {
        Submits++;
        long first = Added - _queued;
        for (int i = 0; i < _queued; i++)
        {
            written[i] = !FailOrdinals.Contains(first + i);
            if (written[i] && keepFrames)
            {
                Written.Add(_pending[i]);
            }
        }

        _pending.Clear();
        _queued = 0;
    }

    public void Dispose() => Disposed = true;
}
