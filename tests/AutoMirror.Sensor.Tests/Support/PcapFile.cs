using System.Buffers.Binary;

namespace AutoMirror.Sensor.Tests.Support;

/// <summary>A minimal reader for classic pcap files (tcpdump's default), micro- or nanosecond, either byte order.</summary>
internal static class PcapFile
{
    public sealed record Record(long Seconds, long Fraction, int OriginalLength, byte[] Data);

    public static (int LinkType, List<Record> Records) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        bool little = magic is 0xA1B2C3D4 or 0xA1B23C4D;
        if (!little && BinaryPrimitives.ReadUInt32BigEndian(bytes) is not (0xA1B2C3D4 or 0xA1B23C4D))
        {
            throw new InvalidDataException(path + " is not a classic pcap file (pcapng?)");
        }

        uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
        int linkType = (int)(U32(20) & 0x0FFFFFFF);
        var records = new List<Record>();
        int offset = 24;
        while (offset + 16 <= bytes.Length)
        {
            int captured = (int)U32(offset + 8);
            if (offset + 16 + captured > bytes.Length)
            {
                break; // a file still being written ends mid-record
            }

            records.Add(new Record(U32(offset), U32(offset + 4), (int)U32(offset + 12), bytes.AsSpan(offset + 16, captured).ToArray()));
            offset += 16 + captured;
        }

        return (linkType, records);
    }

    /// <summary>The UDP payload of an Ethernet/IPv4/UDP (or Linux cooked) frame, or null.</summary>
    public static byte[]? UdpPayload(byte[] frame, int linkType, out ushort dstPort, out byte[] sourceIp)
    {
        dstPort = 0;
        sourceIp = [];
        int ip = linkType switch { 1 => 14, 113 => 16, _ => -1 };
        if (ip < 0 || frame.Length < ip + 28)
        {
            return null;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ip - 2));
        if (etherType != 0x0800 || frame[ip + 9] != 17)
        {
            return null;
        }

        int udp = ip + ((frame[ip] & 0x0F) * 4);
        sourceIp = frame.AsSpan(ip + 12, 4).ToArray();
        dstPort = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(udp + 2));
        int length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(udp + 4));
        return frame.AsSpan(udp + 8, Math.Min(length - 8, frame.Length - udp - 8)).ToArray();
    }
}
