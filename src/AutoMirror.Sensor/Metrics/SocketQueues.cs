using System.Globalization;
using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Metrics;

/// <summary>
/// The receive sockets as the kernel sees them, from /proc/net/udp{,6} for the ports the workers
/// bound: bytes queued (rx_queue column, the queue depth) and datagrams dropped because the queue was
/// full (drops column); plus, for AF_XDP and packet-ring workers, what the kernel could not put in their rings.
/// Read at scrape time, never on the hot path.
/// </summary>
public static class SocketQueues
{
    public static (long QueuedBytes, long Drops) Read(IReadOnlyList<IReceiveWorker> workers)
    {
        var ports = new HashSet<int>();
        long ringDrops = 0;
        foreach (var worker in workers)
        {
            switch (worker)
            {
                case UdpReceiveWorker udp:
                    ports.Add(udp.Port);
                    break;
                case XdpReceiveWorker xdp:
                    // AF_XDP sockets have no /proc/net/udp line: their RX ring overflows are the kernel's socket statistics.
                    ringDrops += xdp.Statistics.Lost;
                    break;
                case PacketRingReceiveWorker ring:
                    // Nor has the packet ring: what found no room in it the kernel counts per socket.
                    ringDrops += ring.Statistics.Dropped;
                    break;
            }
        }

        var v4 = Sum("/proc/net/udp", ports);
        var v6 = Sum("/proc/net/udp6", ports);
        return (v4.QueuedBytes + v6.QueuedBytes, v4.Drops + v6.Drops + ringDrops);
    }

    private static (long QueuedBytes, long Drops) Sum(string path, HashSet<int> ports)
    {
        if (!File.Exists(path))
        {
            return (0, 0);
        }

        long total = 0, drops = 0;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            // "  sl  local_address rem_address   st tx_queue:rx_queue ..."
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5)
            {
                continue;
            }

            int colon = fields[1].LastIndexOf(':');
            int queueColon = fields[4].IndexOf(':');
            if (colon < 0 || queueColon < 0 ||
                !int.TryParse(fields[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port) ||
                !ports.Contains(port) ||
                !long.TryParse(fields[4].AsSpan(queueColon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long queued))
            {
                continue;
            }

            total += queued;
            // The last column is the socket's drop count (decimal).
            if (long.TryParse(fields[^1], NumberStyles.None, CultureInfo.InvariantCulture, out long dropped))
            {
                drops += dropped;
            }
        }

        return (total, drops);
    }
}
