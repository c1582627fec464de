using System.Globalization;
using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Metrics;

/// <summary>
/// Queue depth: the bytes waiting in the receive sockets, read from /proc/net/udp{,6} (rx_queue
/// column) for the ports the workers bound. Read at scrape time, never on the hot path.
/// </summary>
internal static class SocketQueues
{
    public static long PendingBytes(IReadOnlyList<UdpReceiveWorker> workers)
    {
        var ports = new HashSet<int>();
        foreach (var worker in workers)
        {
            ports.Add(worker.Port);
        }

        return Sum("/proc/net/udp", ports) + Sum("/proc/net/udp6", ports);
    }

    private static long Sum(string path, HashSet<int> ports)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        long total = 0;
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
        }

        return total;
    }
}
