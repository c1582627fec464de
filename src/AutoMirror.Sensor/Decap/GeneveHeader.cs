using System.Buffers.Binary;

namespace AutoMirror.Sensor.Decap;

/// <summary>
/// GENEVE (RFC 8926) as a Gateway Load Balancer delivers to its targets: the original IP packet
/// (here the mirror's own IP/UDP/VXLAN datagram) behind an 8-byte header plus options.
/// </summary>
public static class GeneveHeader
{
    public const int Length = 8;
    public const int DefaultPort = 6081;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeIpv6 = 0x86DD;
    private const int UdpHeaderLength = 8;
    private const int Ipv6HeaderLength = 40;
    private const byte ProtocolUdp = 17;

    /// <summary>
    /// Peels GENEVE, the inner IP and UDP headers, then the VXLAN header, and yields the mirrored frame.
    /// </summary>
    public static DecapError Parse(ReadOnlySpan<byte> datagram, int vxlanPort, out uint vni, out ReadOnlySpan<byte> frame)
    {
        vni = 0;
        frame = default;
        if (datagram.Length < Length)
        {
            return DecapError.HeaderTruncated;
        }

        if (datagram[0] >> 6 != 0)
        {
            return DecapError.GeneveVersion;
        }

        if ((datagram[1] & 0x80) != 0)
        {
            return DecapError.GeneveOam;
        }

        // C: a critical option is present; the sensor interprets no options, so RFC 8926 says drop.
        if ((datagram[1] & 0x40) != 0)
        {
            return DecapError.GeneveCriticalOption;
        }

        int headerLength = Length + ((datagram[0] & 0x3F) * 4);
        if (datagram.Length < headerLength)
        {
            return DecapError.HeaderTruncated;
        }

        ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        ReadOnlySpan<byte> packet = datagram[headerLength..];
        ReadOnlySpan<byte> udp;
        DecapError error = protocol switch
        {
            EtherTypeIpv4 => Ipv4Payload(packet, out udp),
            EtherTypeIpv6 => Ipv6Payload(packet, out udp),
            _ => Unsupported(out udp),
        };
        if (error != DecapError.None)
        {
            return error;
        }

        if (udp.Length < UdpHeaderLength)
        {
            return DecapError.InnerUdpInvalid;
        }

        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < UdpHeaderLength || udpLength > udp.Length)
        {
            return DecapError.InnerUdpInvalid;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != vxlanPort)
        {
            return DecapError.InnerNotVxlanPort;
        }

        return VxlanHeader.Parse(udp[UdpHeaderLength..udpLength], out vni, out frame);
    }

    private static DecapError Unsupported(out ReadOnlySpan<byte> udp)
    {
        udp = default;
        return DecapError.GeneveProtocol;
    }

    private static DecapError Ipv4Payload(ReadOnlySpan<byte> packet, out ReadOnlySpan<byte> udp)
    {
        udp = default;
        if (packet.Length < 20 || packet[0] >> 4 != 4)
        {
            return DecapError.InnerIpInvalid;
        }

        int headerLength = (packet[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (headerLength < 20 || totalLength < headerLength || totalLength > packet.Length)
        {
            return DecapError.InnerIpInvalid;
        }

        // More-fragments flag or a fragment offset: the VXLAN payload is not whole here.
        if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0)
        {
            return DecapError.InnerIpFragment;
        }

        if (packet[9] != ProtocolUdp)
        {
            return DecapError.InnerNotUdp;
        }

        udp = packet[headerLength..totalLength];
        return DecapError.None;
    }

    private static DecapError Ipv6Payload(ReadOnlySpan<byte> packet, out ReadOnlySpan<byte> udp)
    {
        udp = default;
        if (packet.Length < Ipv6HeaderLength || packet[0] >> 4 != 6)
        {
            return DecapError.InnerIpInvalid;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (Ipv6HeaderLength + payloadLength > packet.Length)
        {
            return DecapError.InnerIpInvalid;
        }

        // AWS does not put extension headers on the mirror's datagram; anything else is not ours.
        if (packet[6] != ProtocolUdp)
        {
            return DecapError.InnerNotUdp;
        }

        udp = packet.Slice(Ipv6HeaderLength, payloadLength);
        return DecapError.None;
    }
}
