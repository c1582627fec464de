using System.Buffers.Binary;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>
/// RFC 1071's Internet checksum the plain way, 16 bits at a time with the carry folded each step:
/// written apart from the sensor's 32-bit-at-a-time sum so the two check each other.
/// </summary>
internal static class InternetChecksum
{
    /// <summary>The one's-complement sum; an odd last byte is the high half of a zero-padded word.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += i + 1 < data.Length ? (uint)((data[i] << 8) | data[i + 1]) : (uint)(data[i] << 8);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return sum;
    }

    public static ushort Of(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>The IPv4 pseudo-header's sum: source, destination, protocol 17, UDP length.</summary>
    public static uint UdpPseudoHeader(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, int udpLength)
    {
        Span<byte> pseudo = stackalloc byte[12];
        source.CopyTo(pseudo);
        destination.CopyTo(pseudo[4..]);
        pseudo[9] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo[10..], (ushort)udpLength);
        return Sum(pseudo);
    }
}
