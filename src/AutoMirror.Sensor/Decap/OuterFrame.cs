using System.Buffers.Binary;

namespace AutoMirror.Sensor.Decap;

/// <summary>
/// The outer Ethernet/IPv4/UDP headers of a datagram taken off the wire by the AF_XDP or packet-ring
/// receive path, where the kernel's IP and UDP layers have not run: this does their checks (the ones that decide
/// whether a datagram is real) before the encapsulation is looked at. IP header checksum, lengths
/// (Ethernet padding and trailing bytes beyond the IP length are cut off, as the kernel does), and
/// the UDP checksum when the sender set one (0 means none over IPv4, as the kernel's VXLAN device sends).
/// </summary>
public static class OuterFrame
{
    public const int HeadersLength = 14 + 20 + 8;

    /// <param name="payload">The UDP payload (the VXLAN or GENEVE datagram).</param>
    /// <param name="sourceAddress">The outer IPv4 source in host order (the mirror source's ENI address).</param>
    /// <param name="udpChecksumSettled">
    /// The kernel has said the UDP checksum needs no check here (the packet ring's status: verified by the
    /// device, or still to be computed by it for a sender on this host), as the UDP layer would skip it.
    /// </param>
    public static DecapError Parse(ReadOnlySpan<byte> frame, out Range payload, out uint sourceAddress, bool udpChecksumSettled = false)
    {
        payload = default;
        sourceAddress = 0;
        if (frame.Length < HeadersLength ||
            BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800 || frame[14] != 0x45)
        {
            return DecapError.OuterHeaderInvalid;
        }

        var ip = frame.Slice(14, 20);
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (totalLength < 28 || totalLength > frame.Length - 14 || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0 || ip[9] != 17)
        {
            return DecapError.OuterHeaderInvalid;
        }

        if (Fold(Sum(ip, 0)) != 0xFFFF)
        {
            return DecapError.OuterChecksum;
        }

        var udp = frame.Slice(34, totalLength - 20);
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength > udp.Length)
        {
            return DecapError.OuterHeaderInvalid;
        }

        udp = udp[..udpLength];
        if (!udpChecksumSettled && BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != 0)
        {
            // Pseudo-header: source, destination, protocol, UDP length.
            ulong pseudo = (ulong)BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) + BinaryPrimitives.ReadUInt32BigEndian(ip[16..]) + 17u + (uint)udpLength;
            // A sender on the same machine (veth, a VM's virtio) leaves the checksum to the "device": the field
            // then holds only the pseudo-header's sum and the kernel, which knows (CHECKSUM_PARTIAL), accepts it.
            // AF_XDP does not say so, but that exact value is what an unfinished checksum looks like.
            if (Fold(Sum(udp, pseudo)) != 0xFFFF && BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != Fold(pseudo))
            {
                return DecapError.OuterChecksum;
            }
        }

        sourceAddress = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        payload = new Range(HeadersLength, 34 + udpLength);
        return DecapError.None;
    }

    /// <summary>The Internet checksum's one's-complement sum, 32 bits at a time into 64 (carries fold at the end).</summary>
    internal static ulong Sum(ReadOnlySpan<byte> data, ulong initial)
    {
        ulong sum = initial;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        }

        if (i + 2 <= data.Length)
        {
            sum += (uint)BinaryPrimitives.ReadUInt16BigEndian(data[i..]) << 16;
            i += 2;
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8 << ((i & 2) == 0 ? 16 : 0);
        }

        return sum;
    }

    internal static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        uint folded = (uint)(sum & 0xFFFF) + (uint)(sum >> 16);
        folded = (folded & 0xFFFF) + (folded >> 16);
        return (ushort)((folded & 0xFFFF) + (folded >> 16));
    }
}
