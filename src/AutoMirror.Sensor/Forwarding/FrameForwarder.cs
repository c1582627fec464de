using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Output;

namespace AutoMirror.Sensor.Forwarding;

/// <summary>
/// The per-datagram decision for one receive worker: source check, decapsulation, optional VLAN
/// tag, hand-off to the outputs. Every datagram ends as exactly one of: forwarded, or a drop with
/// a reason. No allocation, no logging: counters only.
/// With batch writers (one per batching output, owned by this worker) a frame is queued in
/// <see cref="Process"/> and written, then counted, in <see cref="EndBatch"/>: the datagrams must
/// then stay in place (native receive slots) until EndBatch, which the worker calls after each recvmmsg.
/// </summary>
public sealed class FrameForwarder : IDisposable
{
    private readonly Encapsulation _encapsulation;
    private readonly int _vxlanPort;
    private readonly SourceNetworkFilter _sources;
    private readonly VlanMap _vlans;
    private readonly IFrameOutput[] _outputs;
    private readonly IFrameBatch?[] _batches;
    private readonly bool _batching;
    private readonly int _pendingCapacity;
    private readonly uint[] _pendingVni;
    private readonly int[] _pendingLength;
    private readonly bool[] _pendingWritten;
    private readonly bool[] _batchWritten;
    private int _pending;

    /// <param name="batches">Per output, this worker's batch writer or null (the output is written frame by frame); null: none.</param>
    public FrameForwarder(Encapsulation encapsulation, int vxlanPort, SourceNetworkFilter sources, VlanMap vlans, IFrameOutput[] outputs, int maxVnis, IFrameBatch?[]? batches = null)
    {
        _encapsulation = encapsulation;
        _vxlanPort = vxlanPort;
        _sources = sources;
        _vlans = vlans;
        _outputs = outputs;
        _batches = batches ?? new IFrameBatch?[outputs.Length];
        if (_batches.Length != outputs.Length)
        {
            throw new ArgumentException("one batch (or null) per output", nameof(batches));
        }

        _batching = _batches.Any(b => b is not null);
        _pendingCapacity = _batching ? _batches.Where(b => b is not null).Min(b => b!.Capacity) : 0;
        _pendingVni = new uint[_pendingCapacity];
        _pendingLength = new int[_pendingCapacity];
        _pendingWritten = new bool[_pendingCapacity];
        _batchWritten = new bool[_pendingCapacity];
        Counters = new ForwarderCounters(outputs.Length, maxVnis);
    }

    /// <summary>Whether frames are queued until <see cref="EndBatch"/> (some output writes a batch at a time).</summary>
    public bool Batching => _batching;

    public ForwarderCounters Counters { get; }

    /// <param name="datagram">The received UDP payload; may be modified in place (VLAN tag).</param>
    /// <param name="source">The sender's sockaddr as the kernel filled it.</param>
    /// <param name="truncated">The kernel cut the datagram to the buffer (MSG_TRUNC).</param>
    public void Process(Span<byte> datagram, ReadOnlySpan<byte> source, bool truncated, long unixTimeNanoseconds)
        => Process(datagram, source, truncated, unixTimeNanoseconds, _encapsulation);

    /// <summary>As above, for a receive path that sees both ports (AF_XDP) and says which encapsulation this datagram has.</summary>
    public void Process(Span<byte> datagram, ReadOnlySpan<byte> source, bool truncated, long unixTimeNanoseconds, Encapsulation encapsulation)
    {
        var counters = Counters;
        counters.Datagrams++;
        counters.DatagramBytes += datagram.Length;

        if (!_sources.Allows(source))
        {
            counters.Drops[(int)DropReason.SourceRejected]++;
            return;
        }

        if (truncated)
        {
            counters.Drops[(int)DropReason.Oversized]++;
            counters.DecapErrors[(int)DecapError.Oversized]++;
            return;
        }

        uint vni;
        ReadOnlySpan<byte> frame;
        DecapError error = encapsulation == Encapsulation.Vxlan
            ? VxlanHeader.Parse(datagram, out vni, out frame)
            : GeneveHeader.Parse(datagram, _vxlanPort, out vni, out frame);
        if (error != DecapError.None)
        {
            counters.Drops[(int)DropReason.DecapError]++;
            counters.DecapErrors[(int)error]++;
            return;
        }

        if (!_vlans.IsEmpty && _vlans.TryGetVlan(vni, out ushort vlan))
        {
            int offset = (int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(datagram), ref MemoryMarshal.GetReference(frame));
            int start = VlanMap.InsertTag(datagram, offset, vlan);
            frame = datagram.Slice(start, frame.Length + VlanMap.TagLength);
        }

        if (_batching)
        {
            Queue(frame, vni, unixTimeNanoseconds);
            return;
        }

        bool allWritten = true;
        for (int i = 0; i < _outputs.Length; i++)
        {
            if (_outputs[i].Write(frame, unixTimeNanoseconds))
            {
                counters.OutputWritten[i]++;
            }
            else
            {
                counters.OutputFailed[i]++;
                allWritten = false;
            }
        }

        if (!allWritten)
        {
            counters.Drops[(int)DropReason.OutputError]++;
            return;
        }

        counters.FramesForwarded++;
        counters.FrameBytes += frame.Length;
        counters.CountVni(vni, frame.Length);
    }

    /// <summary>Counts a datagram the receive path rejected before decapsulation (AF_XDP: its outer headers).</summary>
    public void CountRejected(DecapError error, int bytes)
    {
        var counters = Counters;
        counters.Datagrams++;
        counters.DatagramBytes += bytes;
        // Too large for the receive path is its own drop reason, as when a socket truncates the datagram.
        counters.Drops[(int)(error == DecapError.Oversized ? DropReason.Oversized : DropReason.DecapError)]++;
        counters.DecapErrors[(int)error]++;
    }

    /// <summary>Writes the queued frames of the batching outputs and counts every frame of the batch as forwarded or as an output error.</summary>
    public void EndBatch()
    {
        int pending = _pending;
        if (pending == 0)
        {
            return;
        }

        _pending = 0;
        var counters = Counters;
        var written = _batchWritten.AsSpan(0, pending);
        for (int o = 0; o < _batches.Length; o++)
        {
            if (_batches[o] is not { } batch)
            {
                continue;
            }

            written.Clear();
            batch.Submit(written);
            for (int i = 0; i < pending; i++)
            {
                if (written[i])
                {
                    counters.OutputWritten[o]++;
                }
                else
                {
                    counters.OutputFailed[o]++;
                    _pendingWritten[i] = false;
                }
            }
        }

        for (int i = 0; i < pending; i++)
        {
            if (!_pendingWritten[i])
            {
                counters.Drops[(int)DropReason.OutputError]++;
                continue;
            }

            counters.FramesForwarded++;
            counters.FrameBytes += _pendingLength[i];
            counters.CountVni(_pendingVni[i], _pendingLength[i]);
        }
    }

    /// <summary>Closes this worker's batch writers (after its thread has stopped).</summary>
    public void Dispose()
    {
        foreach (var batch in _batches)
        {
            batch?.Dispose();
        }
    }

    private void Queue(ReadOnlySpan<byte> frame, uint vni, long unixTimeNanoseconds)
    {
        var counters = Counters;
        bool written = true;
        for (int i = 0; i < _outputs.Length; i++)
        {
            if (_batches[i] is { } batch)
            {
                batch.Add(frame);
            }
            else if (_outputs[i].Write(frame, unixTimeNanoseconds))
            {
                counters.OutputWritten[i]++;
            }
            else
            {
                counters.OutputFailed[i]++;
                written = false;
            }
        }

        _pendingVni[_pending] = vni;
        _pendingLength[_pending] = frame.Length;
        _pendingWritten[_pending] = written;
        if (++_pending == _pendingCapacity)
        {
            // A receive batch larger than the writers' capacity: write what is queued now.
            EndBatch();
        }
    }
}
