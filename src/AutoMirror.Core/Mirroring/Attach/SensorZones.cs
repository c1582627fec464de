using AutoMirror.Aws.LoadBalancing;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// Which sources a healthy sensor can serve under zone-local delivery. With cross-zone load balancing on (the
/// default), the load balancer node in a source's zone forwards to a healthy sensor in any zone, so any healthy
/// target will do (<see cref="SensorHealth"/>). With it off, a node forwards only to targets in its own zone: a
/// source in a zone without a healthy sensor would mirror into a black hole.
/// </summary>
public static class SensorZones
{
    public const string AllZones = "all";

    /// <summary>The healthy targets of a DescribeTargetHealth answer.</summary>
    public static IReadOnlyList<TargetHealthDescription> Healthy(IEnumerable<TargetHealthDescription> targets) =>
        [.. targets.Where(t => string.Equals(t.State, "healthy", StringComparison.OrdinalIgnoreCase))];

    /// <summary>
    /// Whether a source in <paramref name="sourceZone"/> reaches a healthy sensor in its own zone.
    /// <paramref name="healthyZones"/> are the zones of the healthy targets ("all" for an IP target registered for
    /// every zone). An unknown source zone is not served: its node cannot be named.
    /// </summary>
    public static bool ServesInZone(string? sourceZone, IReadOnlyCollection<string> healthyZones)
    {
        ArgumentNullException.ThrowIfNull(healthyZones);
        return sourceZone is { Length: > 0 }
            && healthyZones.Any(zone => string.Equals(zone, sourceZone, StringComparison.Ordinal) || string.Equals(zone, AllZones, StringComparison.Ordinal));
    }
}
