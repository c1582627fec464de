using System.Globalization;
using AutoMirror.Sensor.Configuration;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// Which receive paths the sensor tries, in which order, and on which interface: resolved once at start from
/// Sensor:Receive, the per-path interface settings and, for a path without an interface setting, the interface
/// of the IPv4 default route (on a sensor instance, the ENI the load balancer sends to).
/// </summary>
/// <param name="Mode">Sensor:Receive as it applies: an AfXdp:Interface or PacketRing:Interface setting makes it that path.</param>
/// <param name="Paths">The paths to try, fastest first; the last (the sockets) is never refused.</param>
/// <param name="Interface">The mirror interface the packet ring and AF_XDP take; null when none was found.</param>
/// <param name="InterfaceSetting">The setting that named <paramref name="Interface"/> (a missing interface it names stops start-up); null when it came from the default route.</param>
/// <param name="NoInterfaceReason">Why there is no interface, for the log line of each path that needed one.</param>
public sealed record ReceivePlan(string Mode, IReadOnlyList<string> Paths, string? Interface, string? InterfaceSetting, string? NoInterfaceReason)
{
    public const string Sockets = "sockets";
    public const string AfXdp = "af-xdp";
    public const string PacketRing = "packet-ring";

    /// <summary>
    /// Auto's order, from bench/sensor on the 2-core build machine (kernel 6.18): the packet ring delivered
    /// 1.36x the kernel VXLAN device with no loss, AF_XDP 1.33x with 0.14 % loss at 64 B (generic XDP on veth),
    /// the sockets 1.16x. The ring also works on any driver and MTU, where AF_XDP on ENA at a 9001-byte MTU
    /// runs generic XDP and pays an extra copy, so it goes first; AF_XDP where the ring is refused (kernel
    /// before 6.6 has no tcx); the sockets always.
    /// </summary>
    public static readonly IReadOnlyList<string> AutoOrder = [PacketRing, AfXdp, Sockets];

    public static ReceivePlan Resolve(SensorOptions o, Func<string?> defaultRouteInterface)
    {
        const string S = SensorOptions.Section + ":";
        if (!string.IsNullOrEmpty(o.AfXdp.Interface))
        {
            return new ReceivePlan(AfXdp, [AfXdp, Sockets], o.AfXdp.Interface, S + "AfXdp:Interface", null);
        }

        if (!string.IsNullOrEmpty(o.PacketRing.Interface))
        {
            return new ReceivePlan(PacketRing, [PacketRing, Sockets], o.PacketRing.Interface, S + "PacketRing:Interface", null);
        }

        IReadOnlyList<string> paths = o.Receive switch
        {
            Sockets => [Sockets],
            AfXdp => [AfXdp, Sockets],
            PacketRing => [PacketRing, Sockets],
            _ => AutoOrder,
        };
        if (paths.Count == 1)
        {
            return new ReceivePlan(o.Receive, paths, null, null, null);
        }

        if (!string.IsNullOrEmpty(o.ReceiveInterface))
        {
            return new ReceivePlan(o.Receive, paths, o.ReceiveInterface, S + "ReceiveInterface", null);
        }

        string? found = defaultRouteInterface();
        return found is null
            ? new ReceivePlan(o.Receive, paths, null, null, "no mirror interface: Sensor:ReceiveInterface is not set and there is no IPv4 default route")
            : new ReceivePlan(o.Receive, paths, found, null, null);
    }

    /// <summary>
    /// The interface of the IPv4 default route with the lowest metric, from the kernel's routing table in
    /// /proc/net/route (what `ip route show default` prints first); null when there is none.
    /// </summary>
    public static string? DefaultRouteInterface(string routeTable = "/proc/net/route")
    {
        if (!File.Exists(routeTable))
        {
            return null;
        }

        const int RouteUp = 0x1;
        string? best = null;
        long bestMetric = long.MaxValue;
        // "Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT", hexadecimal addresses and flags.
        foreach (var line in File.ReadLines(routeTable).Skip(1))
        {
            var f = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8 || f[1] != "00000000" || f[7] != "00000000"
                || !int.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int flags) || (flags & RouteUp) == 0
                || !long.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out long metric))
            {
                continue;
            }

            if (metric < bestMetric)
            {
                best = f[0];
                bestMetric = metric;
            }
        }

        return best;
    }
}
