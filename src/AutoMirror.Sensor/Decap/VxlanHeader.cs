using System.Buffers.Binary;

namespace AutoMirror.Sensor.Decap;

/// <summary>
/// The 8-byte VXLAN header (RFC 7348) as AWS Traffic Mirroring sends it: flags 0x08, 24 reserved
/// bits, 24-bit VNI, 8 reserved bits, followed by the mirrored Ethernet frame.
/// </summary>
public static class VxlanHeader
{
    public const int Length = 8;
    public const int DefaultPort = 4789;
    public const byte IFlag = 0x08;
    public const int EthernetHeaderLength = 14;

    public static bool TryParse(ReadOnlySpan<byte> datagram, out uint vni, out ReadOnlySpan<byte> frame)
        => Parse(datagram, out vni, out frame) == DecapError.None;

    /// <summary>Validates the header and returns the frame behind it untouched (a truncated mirror packet stays as received).</summary>
    public static DecapError Parse(ReadOnlySpan<byte> datagram, out uint vni, out ReadOnlySpan<byte> frame)
    {
        vni = 0;
        frame = default;
        if (datagram.Length < Length)
        {
            return DecapError.HeaderTruncated;
        }

        uint first = BinaryPrimitives.ReadUInt32BigEndian(datagram);
        uint second = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        if ((first & 0x0800_0000u) == 0)
        {
            return DecapError.VxlanNoIFlag;
        }

        // Everything but the I flag in the first word, and the low byte of the second, is reserved.
        if ((first & ~0x0800_0000u) != 0 || (second & 0xFFu) != 0)
        {
            return DecapError.VxlanReservedBits;
        }

        if (datagram.Length - Length < EthernetHeaderLength)
        {
            return DecapError.FrameTooShort;
        }

        vni = second >> 8;
        frame = datagram[Length..];
        return DecapError.None;
    }

    /// <summary>Writes a header for <paramref name="vni"/>; used by tests and the bench generator.</summary>
    public static void Write(Span<byte> destination, uint vni)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 0x0800_0000u);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (vni & 0xFF_FFFFu) << 8);
    }
}
