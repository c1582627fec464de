using System.Collections.Frozen;

namespace AutoMirror.Core.Costs;

/// <summary>What a traffic mirror target is: an NLB, a sensor's own interface, or a Gateway Load Balancer endpoint.</summary>
public enum TargetKind
{
    Nlb,
    Eni,
    Gwlbe,
}

/// <summary>
/// A lab's mirroring setup, as much as its hourly cost depends on: the target kind, the mirrored interfaces (one
/// session each), the sensors, the zones the sources and sensors span, the sensor's instance price, and whether
/// delivery is zone-local (cross-zone load balancing off: no mirrored byte leaves its zone).
/// </summary>
public sealed record CostInputs(TargetKind Kind, int Sessions, int Sensors, int Zones, decimal SensorHourlyPrice, bool ZoneLocal)
{
    public decimal SessionHourlyPrice { get; init; } = MirrorPrices.SessionHour;
}

/// <summary>One billed item: <see cref="Quantity"/> × <see cref="UnitPrice"/> per hour.</summary>
public sealed record CostLine(string Item, decimal Quantity, decimal UnitPrice)
{
    public decimal Hourly => Quantity * UnitPrice;
}

/// <summary>
/// The hourly cost of the fixed items, and the price of each mirrored gigabyte on top (capacity units, endpoint
/// processing, and the share of bytes that cross zones). <see cref="Sensors"/> can exceed the input: an ENI target
/// takes at most 10 sources.
/// </summary>
public sealed record CostEstimate(TargetKind Kind, int Sensors, IReadOnlyList<CostLine> Lines, decimal HourlyTotal, decimal PerMirroredGb, string PricesAsOf);

/// <summary>
/// us-east-1 on-demand list prices (USD) as of <see cref="AsOf"/>. Only the rate card lives here; the arithmetic is
/// <see cref="MirrorCosts.Estimate"/>.
/// </summary>
public static class MirrorPrices
{
    public const string AsOf = "2026-12-06";

    /// <summary>Traffic Mirroring: per session (mirrored interface) hour.</summary>
    public const decimal SessionHour = 0.015m;

    /// <summary>Network Load Balancer hour, and per NLCU-hour (for UDP, 1 NLCU = 1 GB processed in the hour).</summary>
    public const decimal NlbHour = 0.0225m;
    public const decimal NlcuHour = 0.006m;

    /// <summary>Gateway Load Balancer hour, and per GLCU-hour (1 GLCU = 1 GB processed in the hour).</summary>
    public const decimal GwlbHour = 0.0125m;
    public const decimal GlcuHour = 0.004m;

    /// <summary>Gateway Load Balancer endpoint hour (one endpoint per zone with sources), and per GB it processes.</summary>
    public const decimal GwlbeHour = 0.01m;
    public const decimal GwlbeGb = 0.0035m;

    /// <summary>Data crossing zones in a region: $0.01/GB out of one zone and $0.01/GB into the other.</summary>
    public const decimal CrossZoneGb = 0.02m;

    /// <summary>A Traffic Mirroring ENI target takes at most 10 sources (100 on a few large types; not assumed here).</summary>
    public const int EniTargetSources = 10;

    /// <summary>Linux on-demand hour of sensor types; the stack's default is c6in.large.</summary>
    public static readonly FrozenDictionary<string, decimal> SensorHour = new Dictionary<string, decimal>(StringComparer.Ordinal)
    {
        ["c6in.large"] = 0.1134m,
        ["c6in.xlarge"] = 0.2268m,
        ["c6in.2xlarge"] = 0.4536m,
        ["c5n.large"] = 0.108m,
        ["c5n.xlarge"] = 0.216m,
        ["c5n.2xlarge"] = 0.432m,
    }.ToFrozenDictionary(StringComparer.Ordinal);
}

public static class MirrorCosts
{
    /// <summary>
    /// The hourly cost of mirroring with <paramref name="inputs"/>. Per GB: an NLB bills bytes as NLCUs, a GWLB as
    /// GLCUs plus the endpoint's processing; an ENI target has neither. Without zone-local delivery, sources spread
    /// evenly over <see cref="CostInputs.Zones"/> zones send (zones-1)/zones of their bytes to a sensor in another
    /// zone, billed as cross-zone data transfer; zone-local delivery keeps them in the zone (and needs a sensor there).
    /// </summary>
    public static CostEstimate Estimate(CostInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfNegative(inputs.Sessions);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs.Zones, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs.Sensors, 1);

        // An ENI target has no load balancer to keep traffic in its zone: zone-local applies to nlb and gwlbe.
        var zoneLocal = inputs.ZoneLocal && inputs.Kind != TargetKind.Eni;
        var sensors = inputs.Sensors;
        if (zoneLocal)
        {
            sensors = Math.Max(sensors, inputs.Zones);
        }

        if (inputs.Kind == TargetKind.Eni)
        {
            sensors = Math.Max(sensors, (inputs.Sessions + MirrorPrices.EniTargetSources - 1) / MirrorPrices.EniTargetSources);
        }

        var lines = new List<CostLine> { new("mirror sessions", inputs.Sessions, inputs.SessionHourlyPrice) };
        decimal perGb = 0;
        switch (inputs.Kind)
        {
            case TargetKind.Nlb:
                lines.Add(new("network load balancer", 1, MirrorPrices.NlbHour));
                perGb += MirrorPrices.NlcuHour;
                break;
            case TargetKind.Gwlbe:
                lines.Add(new("gateway load balancer", 1, MirrorPrices.GwlbHour));
                lines.Add(new("gateway load balancer endpoints", inputs.Zones, MirrorPrices.GwlbeHour));
                perGb += MirrorPrices.GlcuHour + MirrorPrices.GwlbeGb;
                break;
            case TargetKind.Eni:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(inputs), inputs.Kind, "unknown target kind");
        }

        lines.Add(new("sensor instances", sensors, inputs.SensorHourlyPrice));
        if (!zoneLocal)
        {
            perGb += MirrorPrices.CrossZoneGb * (inputs.Zones - 1) / inputs.Zones;
        }

        return new CostEstimate(inputs.Kind, sensors, lines, lines.Sum(l => l.Hourly), decimal.Round(perGb, 6), MirrorPrices.AsOf);
    }

    /// <summary>nlb | eni | gwlbe, as the TargetKind parameter spells them; EC2's target Type names map too.</summary>
    public static TargetKind? ParseKind(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "nlb" or "network-load-balancer" => TargetKind.Nlb,
        "eni" or "network-interface" => TargetKind.Eni,
        "gwlbe" or "gateway-load-balancer-endpoint" => TargetKind.Gwlbe,
        _ => null,
    };

    public static string Name(TargetKind kind) => kind switch
    {
        TargetKind.Nlb => "nlb",
        TargetKind.Eni => "eni",
        TargetKind.Gwlbe => "gwlbe",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
