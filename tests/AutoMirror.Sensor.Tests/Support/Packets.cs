using System.Buffers.Binary;
using System.Net;
using AutoMirror.Sensor.Decap;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>Hand-built frames and datagrams, byte by byte, independent of the code under test.</summary>
internal static class Packets
{
    public static byte[] Ethernet(string dst, string src, ushort etherType, byte[] payload)
    {
        var frame = new byte[14 + payload.Length];
        Convert.FromHexString(dst.Replace(":", "", StringComparison.Ordinal)).CopyTo(frame, 0);
        Convert.FromHexString(src.Replace(":", "", StringComparison.Ordinal)).CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        payload.CopyTo(frame, 14);
        return frame;
    }

    public static byte[] SampleFrame(int payloadLength = 46, byte fill = 0xAB)
        => Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, Enumerable.Repeat(fill, payloadLength).ToArray());

    public static byte[] Vxlan(uint vni, byte[] frame, byte flags = 0x08)
    {
        var datagram = new byte[8 + frame.Length];
        datagram[0] = flags;
        datagram[4] = (byte)(vni >> 16);
        datagram[5] = (byte)(vni >> 8);
        datagram[6] = (byte)vni;
        frame.CopyTo(datagram, 8);
        return datagram;
    }

    public static byte[] Udp(ushort srcPort, ushort dstPort, byte[] payload)
    {
        var udp = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        payload.CopyTo(udp, 8);
        return udp;
    }

    public static byte[] Ipv4(string src, string dst, byte protocol, byte[] payload, ushort flagsAndOffset = 0x4000)
    {
        var ip = new byte[20 + payload.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), flagsAndOffset);
        ip[8] = 64;
        ip[9] = protocol;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(ip, 12);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip, 16);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(i));
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), (ushort)~sum);
        payload.CopyTo(ip, 20);
        return ip;
    }

    /// <summary>An IPv4 packet with a 4-byte options field (NOP padding, IHL 6) in front of the payload, checksum redone.</summary>
    public static byte[] Ipv4WithOptions(string src, string dst, byte protocol, byte[] payload)
    {
        var ip = new byte[24 + payload.Length];
        Ipv4(src, dst, protocol, []).AsSpan(0, 20).CopyTo(ip);
        ip[0] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[20] = ip[21] = ip[22] = ip[23] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), InternetChecksum.Of(ip.AsSpan(0, 24)));
        payload.CopyTo(ip, 24);
        return ip;
    }

    public static byte[] Ipv6(string src, string dst, byte nextHeader, byte[] payload)
    {
        var ip = new byte[40 + payload.Length];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)payload.Length);
        ip[6] = nextHeader;
        ip[7] = 64;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(ip, 8);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip, 24);
        payload.CopyTo(ip, 40);
        return ip;
    }

    /// <summary>GENEVE with <paramref name="optionWords"/> 4-byte words of options, as a GWLB adds (flow cookie, endpoint id).</summary>
    public static byte[] Geneve(ushort protocol, byte[] packet, int optionWords = 0, bool oam = false, int version = 0)
    {
        var datagram = new byte[8 + (optionWords * 4) + packet.Length];
        datagram[0] = (byte)((version << 6) | optionWords);
        datagram[1] = (byte)(oam ? 0x80 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), protocol);
        datagram[4] = 0x12;
        datagram[5] = 0x34;
        datagram[6] = 0x56;
        for (int i = 0; i < optionWords * 4; i++)
        {
            datagram[8 + i] = (byte)(0xC0 + i);
        }

        packet.CopyTo(datagram, 8 + (optionWords * 4));
        return datagram;
    }

    /// <summary>What a GWLB endpoint delivers: GENEVE around the mirror's IPv4/UDP/VXLAN datagram.</summary>
    public static byte[] GeneveAroundVxlan(uint vni, byte[] frame, int optionWords = 3)
        => Geneve(GeneveHeader.EtherTypeIpv4, Ipv4("10.0.1.5", "10.0.2.9", 17, Udp(49152, 4789, Vxlan(vni, frame))), optionWords);

    public static byte[] SockaddrV4(string address, ushort port = 40000)
    {
        var sa = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(sa, 2);
        BinaryPrimitives.WriteUInt16BigEndian(sa.AsSpan(2), port);
        IPAddress.Parse(address).GetAddressBytes().CopyTo(sa, 4);
        return sa;
    }

    public static byte[] SockaddrV6(string address, ushort port = 40000)
    {
        var sa = new byte[28];
        BinaryPrimitives.WriteUInt16LittleEndian(sa, 10);
        BinaryPrimitives.WriteUInt16BigEndian(sa.AsSpan(2), port);
        IPAddress.Parse(address).GetAddressBytes().CopyTo(sa, 8);
        return sa;
    }
}
