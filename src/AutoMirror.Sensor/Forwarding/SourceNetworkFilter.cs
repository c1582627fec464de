using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AutoMirror.Sensor.Forwarding;

/// <summary>
/// Decides from the outer source address (a raw sockaddr, as recvmmsg fills it) whether a datagram
/// comes from an allowed network. The NLB preserves the client address for UDP, so this is the
/// mirror source's ENI address; anything else is counted as rejected and never forwarded.
/// </summary>
public sealed class SourceNetworkFilter
{
    public const string PrivateRanges = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

    private readonly (uint Network, uint Mask)[] _v4;
    private readonly (UInt128 Network, UInt128 Mask)[] _v6;

    private SourceNetworkFilter((uint, uint)[] v4, (UInt128, UInt128)[] v6)
    {
        _v4 = v4;
        _v6 = v6;
    }

    public IReadOnlyList<string> Describe()
    {
        var list = new List<string>();
        Span<byte> bytes = stackalloc byte[16];
        foreach (var (network, mask) in _v4)
        {
            list.Add(new IPAddress(BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(network))) + "/" + UInt32.PopCount(mask));
        }

        foreach (var (network, mask) in _v6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(bytes, network);
            list.Add(new IPAddress(bytes) + "/" + UInt128.PopCount(mask));
        }

        return list;
    }

    /// <summary>Parses a comma-separated CIDR list; a bad entry is reported by its text.</summary>
    public static bool TryParse(string text, out SourceNetworkFilter filter, out string error)
    {
        var v4 = new List<(uint, uint)>();
        var v6 = new List<(UInt128, UInt128)>();
        filter = new SourceNetworkFilter([], []);
        error = string.Empty;
        Span<byte> bytes = stackalloc byte[16];
        foreach (var raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPNetwork.TryParse(raw, out var network))
            {
                error = "'" + raw + "' is not a CIDR network (for example 10.0.0.0/16)";
                return false;
            }

            network.BaseAddress.TryWriteBytes(bytes, out int written);
            if (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork)
            {
                uint mask = network.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - network.PrefixLength);
                // Host bits in the text (10.0.0.1/8) are cleared: the network is what the operator meant.
                v4.Add((BinaryPrimitives.ReadUInt32BigEndian(bytes[..written]) & mask, mask));
            }
            else
            {
                UInt128 mask = network.PrefixLength == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - network.PrefixLength);
                v6.Add((BinaryPrimitives.ReadUInt128BigEndian(bytes[..written]) & mask, mask));
            }
        }

        if (v4.Count + v6.Count == 0)
        {
            error = "no network given";
            return false;
        }

        filter = new SourceNetworkFilter([.. v4], [.. v6]);
        return true;
    }

    /// <summary>sockaddr_in (family 2, address at 4) or sockaddr_in6 (family 10, address at 8, IPv4-mapped allowed).</summary>
    public bool Allows(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 8)
        {
            return false;
        }

        ushort family = BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        if (family == 2)
        {
            return AllowsV4(BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..]));
        }

        if (family == 10 && sockaddr.Length >= 24)
        {
            UInt128 address = BinaryPrimitives.ReadUInt128BigEndian(sockaddr.Slice(8, 16));
            if (address >> 32 == 0xFFFF)
            {
                return AllowsV4((uint)address);
            }

            foreach (var (network, mask) in _v6)
            {
                if ((address & mask) == network)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool AllowsV4(uint address)
    {
        foreach (var (network, mask) in _v4)
        {
            if ((address & mask) == network)
            {
                return true;
            }
        }

        return false;
    }
}
