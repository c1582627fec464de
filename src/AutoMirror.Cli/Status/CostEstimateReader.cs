using System.Text.Json.Serialization;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Costs;

namespace AutoMirror.Cli.Status;

/// <summary>`automirror status`'s estimate: what the current stack's mirroring costs per hour and per mirrored GB.</summary>
public sealed record StatusEstimate(
    [property: JsonPropertyName("targetKind")] string TargetKind,
    [property: JsonPropertyName("sessions")] int Sessions,
    [property: JsonPropertyName("sensors")] int Sensors,
    [property: JsonPropertyName("sensorType")] string? SensorType,
    [property: JsonPropertyName("zones")] int Zones,
    [property: JsonPropertyName("zoneLocal")] bool ZoneLocal,
    [property: JsonPropertyName("lines")] IReadOnlyList<EstimateLine> Lines,
    [property: JsonPropertyName("hourlyTotal")] decimal HourlyTotal,
    [property: JsonPropertyName("perMirroredGb")] decimal PerMirroredGb,
    [property: JsonPropertyName("pricesAsOf")] string PricesAsOf,
    [property: JsonPropertyName("notes")] IReadOnlyList<string> Notes);

public sealed record EstimateLine(
    [property: JsonPropertyName("item")] string Item,
    [property: JsonPropertyName("quantity")] decimal Quantity,
    [property: JsonPropertyName("unitPrice")] decimal UnitPrice,
    [property: JsonPropertyName("hourly")] decimal Hourly);

/// <summary>
/// Reads what the estimate needs from the stack as it runs: the target's kind (its EC2 Type, unless given), the
/// sessions the status counted, and the zones of the sensors behind the target group and of the mirrored instances,
/// with the sensors' type (one DescribeInstances).
/// The arithmetic and the rate card are Core's <see cref="MirrorCosts"/>.
/// </summary>
public sealed class CostEstimateReader(IEc2Client ec2, AutoMirrorSettings settings)
{
    public async Task<StatusEstimate> ReadAsync(StatusReport report, TargetKind? kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        var notes = new List<string>();
        if (kind is null)
        {
            var target = (await ec2.DescribeTrafficMirrorTargetsAsync([new Ec2Filter("traffic-mirror-target-id", settings.MirrorTargetId)], cancellationToken)).FirstOrDefault();
            kind = MirrorCosts.ParseKind(target?.Type);
            if (kind is null)
            {
                notes.Add($"target {settings.MirrorTargetId} not readable here: priced as nlb (pass --target-kind)");
            }
        }

        // One DescribeInstances for the sensors (type, zone) and the mirrored sources (zone): the zones both span decide
        // how many mirrored bytes cross zones.
        var sensorIds = report.Sensor.Targets.Select(t => t.TargetId).Where(id => id.StartsWith("i-", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        var sourceIds = report.Instances.Where(i => i.Sessions.Count > 0).Select(i => i.InstanceId);
        var ids = sensorIds.Concat(sourceIds).Distinct(StringComparer.Ordinal).ToList();
        var described = ids.Count == 0 ? [] : await ec2.DescribeInstancesAsync([new Ec2Filter("instance-id", ids)], cancellationToken);
        var sensors = described.Where(i => sensorIds.Contains(i.InstanceId)).ToList();
        if (sensors.Count == 0)
        {
            notes.Add("no sensor instance found behind the target group: one c6in.large (the stack's default) assumed");
        }

        var sensorType = sensors.Select(s => s.InstanceType).Distinct(StringComparer.Ordinal).OrderBy(t => t, StringComparer.Ordinal).FirstOrDefault();
        decimal sensorPrice = 0;
        if (sensorType is not null && !MirrorPrices.SensorHour.TryGetValue(sensorType, out sensorPrice))
        {
            notes.Add($"no list price here for sensor type {sensorType}: sensors priced at $0");
        }
        else if (sensorType is null)
        {
            sensorPrice = MirrorPrices.SensorHour["c6in.large"];
        }

        var zones = Math.Max(1, described.Select(s => s.AvailabilityZone).OfType<string>().Distinct(StringComparer.Ordinal).Count());
        var inputs = new CostInputs(kind ?? TargetKind.Nlb, report.Totals.Sessions, Math.Max(1, sensors.Count), zones, sensorPrice, settings.ZoneLocalDelivery)
        {
            SessionHourlyPrice = settings.SessionHourlyPrice,
        };
        var estimate = MirrorCosts.Estimate(inputs);
        return new StatusEstimate(MirrorCosts.Name(estimate.Kind), inputs.Sessions, estimate.Sensors, sensorType, zones, inputs.ZoneLocal,
            [.. estimate.Lines.Select(l => new EstimateLine(l.Item, l.Quantity, l.UnitPrice, l.Hourly))],
            estimate.HourlyTotal, estimate.PerMirroredGb, estimate.PricesAsOf, notes);
    }
}
