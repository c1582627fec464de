using AutoMirror.Sensor.Decap;

using System.Numerics;

namespace AutoMirror.Sensor.Metrics;

/// <summary>
/// Counters owned by one receive worker: a single writer thread increments plain fields (no
/// interlocked traffic between cores on the hot path); the metrics endpoint reads them, and a
/// 64-bit read is never torn on the platforms the sensor runs on.
/// </summary>
public sealed class ForwarderCounters
{
    private const uint EmptySlot = uint.MaxValue;

    private readonly uint[] _vniKeys;
    private readonly long[] _vniFrames;
    private readonly long[] _vniBytes;
    private readonly int _maxVnis;
    private int _vniCount;

    public ForwarderCounters(int outputCount, int maxVnis)
    {
        OutputWritten = new long[outputCount];
        OutputFailed = new long[outputCount];
        _maxVnis = maxVnis;
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, maxVnis * 2));
        _vniKeys = new uint[slots];
        Array.Fill(_vniKeys, EmptySlot);
        _vniFrames = new long[slots];
        _vniBytes = new long[slots];
    }

    public long Datagrams;
    public long DatagramBytes;
    public long FramesForwarded;
    public long FrameBytes;
    public long VniOverflowFrames;
    public long VniOverflowBytes;
    public long ReceiveAllocatedBytes;
    public long Batches;

    public long[] Drops { get; } = new long[DropReasonNames.Count];
    public long[] DecapErrors { get; } = new long[DecapErrorNames.Count];
    public long[] OutputWritten { get; }
    public long[] OutputFailed { get; }

    /// <summary>
    /// Counts a frame for its VNI. The table holds at most MaxVnis distinct VNIs so the metric's
    /// cardinality is bounded; later VNIs go to the overflow series.
    /// </summary>
    public void CountVni(uint vni, int bytes)
    {
        int mask = _vniKeys.Length - 1;
        int slot = (int)(vni * 2654435761u) & mask;
        while (true)
        {
            uint key = _vniKeys[slot];
            if (key == vni)
            {
                _vniFrames[slot]++;
                _vniBytes[slot] += bytes;
                return;
            }

            if (key == EmptySlot)
            {
                if (_vniCount >= _maxVnis)
                {
                    VniOverflowFrames++;
                    VniOverflowBytes += bytes;
                    return;
                }

                _vniFrames[slot] = 1;
                _vniBytes[slot] = bytes;
                // Publish the key last so a concurrent reader never sees a key with another VNI's counts.
                Volatile.Write(ref _vniKeys[slot], vni);
                _vniCount++;
                return;
            }

            slot = (slot + 1) & mask;
        }
    }

    public void CopyVnis(Dictionary<uint, (long Frames, long Bytes)> into)
    {
        for (int i = 0; i < _vniKeys.Length; i++)
        {
            uint key = Volatile.Read(ref _vniKeys[i]);
            if (key != EmptySlot)
            {
                into.TryGetValue(key, out var sum);
                into[key] = (sum.Frames + Volatile.Read(ref _vniFrames[i]), sum.Bytes + Volatile.Read(ref _vniBytes[i]));
            }
        }
    }
}
