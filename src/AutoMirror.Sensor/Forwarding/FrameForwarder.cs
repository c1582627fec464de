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
/// </summary>
public sealed class FrameForwarder
{
    private readonly Encapsulation _encapsulation;
    private readonly int _vxlanPort;
    private readonly SourceNetworkFilter _sources;
    private readonly VlanMap _vlans;
    private readonly IFrameOutput[] _outputs;

    public FrameForwarder(Encapsulation encapsulation, int vxlanPort, SourceNetworkFilter sources, VlanMap vlans, IFrameOutput[] outputs, int maxVnis)
    {
        _encapsulation = encapsulation;
        _vxlanPort = vxlanPort;
        _sources = sources;
        _vlans = vlans;
        _outputs = outputs;
        Counters = new ForwarderCounters(outputs.Length, maxVnis);
    }

    public ForwarderCounters Counters { get; }

    /// <param name="datagram">The received UDP payload; may be modified in place (VLAN tag).</param>
    /// <param name="source">The sender's sockaddr as the kernel filled it.</param>
    /// <param name="truncated">The kernel cut the datagram to the buffer (MSG_TRUNC).</param>
    public void Process(Span<byte> datagram, ReadOnlySpan<byte> source, bool truncated, long unixTimeNanoseconds)
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
        DecapError error = _encapsulation == Encapsulation.Vxlan
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
}
