using AutoMirror.Aws.CloudWatch;
using Xunit;

namespace AutoMirror.Testing.Fakes;

/// <summary>CloudWatch answering from per-instance series: instance id → (metric → datapoints).</summary>
public sealed class FakeCloudWatch : ICloudWatchClient
{
    public Dictionary<string, Dictionary<string, List<(DateTimeOffset Time, double Value)>>> Series { get; } = [];

    public string StatusCode { get; set; } = "Complete";

    public int Calls { get; private set; }

    /// <summary>Zero- or fixed-valued datapoints every five minutes from <paramref name="from"/> up to <paramref name="to"/>.</summary>
    public void Fill(string instanceId, DateTimeOffset from, DateTimeOffset to, double value, params string[] metrics)
    {
        if (!Series.TryGetValue(instanceId, out var byMetric))
        {
            Series[instanceId] = byMetric = [];
        }

        foreach (var metric in metrics.Length == 0 ? ["NetworkMirrorIn", "NetworkMirrorOut"] : metrics)
        {
            if (!byMetric.TryGetValue(metric, out var points))
            {
                byMetric[metric] = points = [];
            }

            for (var t = from; t < to; t += TimeSpan.FromMinutes(5))
            {
                points.Add((t, value));
            }
        }
    }

    public Task<IReadOnlyList<MetricDataResult>> GetMetricDataAsync(
        IReadOnlyList<MetricDataQuery> queries, DateTimeOffset startTime, DateTimeOffset endTime, CancellationToken cancellationToken)
    {
        Calls++;
        var results = new List<MetricDataResult>();
        foreach (var query in queries)
        {
            Assert.Equal("AWS/EC2", query.Namespace);
            Assert.Equal("Sum", query.Stat);
            var points = Series.GetValueOrDefault(query.Dimensions["InstanceId"])?.GetValueOrDefault(query.MetricName) ?? [];
            var inRange = points.Where(p => p.Time >= startTime && p.Time < endTime).ToList();
            results.Add(new MetricDataResult(query.Id, StatusCode, [.. inRange.Select(p => p.Time)], [.. inRange.Select(p => p.Value)]));
        }

        return Task.FromResult<IReadOnlyList<MetricDataResult>>(results);
    }
}
