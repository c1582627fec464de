using System.Globalization;
using AutoMirror.Aws.CloudWatch;

namespace AutoMirror.Core.Teardown;

public enum TrafficKind
{
    /// <summary>Some mirrored bytes in the window: the instance is in use.</summary>
    Traffic,

    /// <summary>Datapoints cover the window and all are zero: positively no mirrored traffic.</summary>
    Quiet,

    /// <summary>Missing, sparse or failed data: never read as idle.</summary>
    Unknown,
}

public sealed record InstanceTraffic(string InstanceId, TrafficKind Kind, string Reason, double Bytes);

/// <summary>
/// Mirrored-traffic evidence per instance from CloudWatch's <c>AWS/EC2</c> <c>NetworkMirrorIn</c>/<c>NetworkMirrorOut</c>
/// (dimension <c>InstanceId</c>, Sum per period). AWS collects these from interfaces that are part of a mirror session
/// and publishes them at five-minute resolution; it does not promise a zero datapoint for a quiet period, so an
/// empty series means "no data", not "no traffic". Hence quiet is only claimed when zero-valued datapoints cover
/// the whole window; anything less is unknown, and unknown never tears a lab down.
/// </summary>
public static class MirrorTraffic
{
    public const string Namespace = "AWS/EC2";

    public const string InMetric = "NetworkMirrorIn";

    public const string OutMetric = "NetworkMirrorOut";

    /// <summary>Mirror metrics are published every five minutes even with detailed monitoring on.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(5);

    /// <summary>How stale the newest datapoint may be: CloudWatch publishes a period a few minutes after it ends.</summary>
    public static readonly TimeSpan PublishingLag = TimeSpan.FromMinutes(15);

    /// <summary>Two queries per instance; ids follow AWS's rule (start with a lower-case letter) and map back by index.</summary>
    public static IReadOnlyList<MetricDataQuery> Queries(IReadOnlyList<string> instanceIds)
    {
        ArgumentNullException.ThrowIfNull(instanceIds);
        var queries = new List<MetricDataQuery>(instanceIds.Count * 2);
        for (var i = 0; i < instanceIds.Count; i++)
        {
            var dimensions = new Dictionary<string, string> { ["InstanceId"] = instanceIds[i] };
            queries.Add(new MetricDataQuery(InId(i), Namespace, InMetric, dimensions, (int)Period.TotalSeconds, "Sum"));
            queries.Add(new MetricDataQuery(OutId(i), Namespace, OutMetric, dimensions, (int)Period.TotalSeconds, "Sum"));
        }

        return queries;
    }

    public static IReadOnlyDictionary<string, InstanceTraffic> Interpret(
        IReadOnlyList<string> instanceIds, IReadOnlyList<MetricDataResult> results, DateTimeOffset windowStart, DateTimeOffset windowEnd)
    {
        ArgumentNullException.ThrowIfNull(instanceIds);
        ArgumentNullException.ThrowIfNull(results);
        var byId = new Dictionary<string, List<MetricDataResult>>(StringComparer.Ordinal);
        foreach (var result in results)
        {
            // Pages of one query arrive as several results with the same id.
            if (!byId.TryGetValue(result.Id, out var list))
            {
                byId[result.Id] = list = [];
            }

            list.Add(result);
        }

        var answer = new Dictionary<string, InstanceTraffic>(StringComparer.Ordinal);
        for (var i = 0; i < instanceIds.Count; i++)
        {
            var instanceId = instanceIds[i];
            var inbound = Series(byId.GetValueOrDefault(InId(i)), InMetric, windowStart, windowEnd);
            var outbound = Series(byId.GetValueOrDefault(OutId(i)), OutMetric, windowStart, windowEnd);
            answer[instanceId] = Combine(instanceId, inbound, outbound);
        }

        return answer;
    }

    private static InstanceTraffic Combine(string instanceId, SeriesVerdict inbound, SeriesVerdict outbound)
    {
        var bytes = inbound.Bytes + outbound.Bytes;
        if (inbound.Kind == TrafficKind.Traffic || outbound.Kind == TrafficKind.Traffic)
        {
            return new InstanceTraffic(instanceId, TrafficKind.Traffic,
                string.Create(CultureInfo.InvariantCulture, $"{bytes:0} mirrored bytes in the window"), bytes);
        }

        if (inbound.Kind == TrafficKind.Unknown)
        {
            return new InstanceTraffic(instanceId, TrafficKind.Unknown, inbound.Reason, bytes);
        }

        if (outbound.Kind == TrafficKind.Unknown)
        {
            return new InstanceTraffic(instanceId, TrafficKind.Unknown, outbound.Reason, bytes);
        }

        return new InstanceTraffic(instanceId, TrafficKind.Quiet, "zero mirrored bytes over the whole window", 0);
    }

    private readonly record struct SeriesVerdict(TrafficKind Kind, string Reason, double Bytes);

    private static SeriesVerdict Series(List<MetricDataResult>? pages, string metric, DateTimeOffset windowStart, DateTimeOffset windowEnd)
    {
        if (pages is null)
        {
            return new(TrafficKind.Unknown, $"{metric}: CloudWatch returned no result", 0);
        }

        var points = new List<(DateTimeOffset Time, double Value)>();
        var complete = true;
        foreach (var page in pages)
        {
            complete &= string.Equals(page.StatusCode, "Complete", StringComparison.Ordinal);
            for (var k = 0; k < Math.Min(page.Timestamps.Count, page.Values.Count); k++)
            {
                if (page.Timestamps[k] >= windowStart && page.Timestamps[k] < windowEnd)
                {
                    points.Add((page.Timestamps[k], page.Values[k]));
                }
            }
        }

        // Traffic is traffic whatever else is missing: a positive datapoint is never a false "active".
        var bytes = points.Sum(p => Math.Max(0, p.Value));
        if (points.Exists(p => p.Value > 0))
        {
            return new(TrafficKind.Traffic, "", bytes);
        }

        if (!complete)
        {
            return new(TrafficKind.Unknown, $"{metric}: CloudWatch answered with partial data", bytes);
        }

        if (points.Count == 0)
        {
            return new(TrafficKind.Unknown, $"{metric}: no datapoints in the window", 0);
        }

        var first = points.Min(p => p.Time);
        var last = points.Max(p => p.Time);
        var expected = (int)Math.Max(1, Math.Floor((windowEnd - windowStart) / Period));
        if (first > windowStart + Period)
        {
            return new(TrafficKind.Unknown, string.Create(CultureInfo.InvariantCulture,
                $"{metric}: datapoints start only {(first - windowStart).TotalMinutes:0} min into the window"), 0);
        }

        if (last < windowEnd - PublishingLag)
        {
            return new(TrafficKind.Unknown, string.Create(CultureInfo.InvariantCulture,
                $"{metric}: newest datapoint is {(windowEnd - last).TotalMinutes:0} min old"), 0);
        }

        // Gaps: a period with no datapoint is a period we know nothing about.
        if (points.Select(p => p.Time).Distinct().Count() * 2 < expected)
        {
            return new(TrafficKind.Unknown, string.Create(CultureInfo.InvariantCulture,
                $"{metric}: only {points.Count} of {expected} periods have data"), 0);
        }

        return new(TrafficKind.Quiet, "", 0);
    }

    private static string InId(int index) => "in" + index.ToString(CultureInfo.InvariantCulture);

    private static string OutId(int index) => "out" + index.ToString(CultureInfo.InvariantCulture);
}
