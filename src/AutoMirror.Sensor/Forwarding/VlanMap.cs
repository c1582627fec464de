using System.Buffers.Binary;
using System.Collections.Frozen;

namespace AutoMirror.Sensor.Forwarding;

/// <summary>
/// Optional 802.1Q tag per VNI, so Zeek's logs (vlan field) tell labs apart. Insertion is in place:
/// the encapsulation header in front of the frame leaves room to move the MAC addresses 4 bytes forward.
/// </summary>
public sealed class VlanMap
{
    public const int TagLength = 4;
    private readonly FrozenDictionary<uint, ushort> _map;

    public VlanMap(IReadOnlyDictionary<uint, ushort> map) => _map = map.ToFrozenDictionary();

    public bool IsEmpty => _map.Count == 0;

    public bool TryGetVlan(uint vni, out ushort vlan) => _map.TryGetValue(vni, out vlan);

    /// <summary>
    /// Tags the frame at <paramref name="frameOffset"/> in <paramref name="buffer"/>; needs at least 4
    /// spare bytes before it. Returns the offset of the tagged frame.
    /// </summary>
    public static int InsertTag(Span<byte> buffer, int frameOffset, ushort vlan)
    {
        int start = frameOffset - TagLength;
        buffer.Slice(frameOffset, 12).CopyTo(buffer.Slice(start, 12));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(start + 12)..], 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(start + 14)..], (ushort)(vlan & 0x0FFF));
        return start;
    }
}
