using System.Globalization;

namespace AutoMirror.Aws.CloudWatch;

internal sealed class CloudWatchClient(AwsPipeline pipeline) : ICloudWatchClient
{
    private const int QueriesPerCall = 500;

    private static readonly AwsService Service = AwsService.CloudWatch;

    public async Task<IReadOnlyList<MetricDataResult>> GetMetricDataAsync(
        IReadOnlyList<MetricDataQuery> queries, DateTimeOffset startTime, DateTimeOffset endTime, CancellationToken cancellationToken)
    {
        // One query's data points may be split over several pages: gather them per Id, in order.
        var merged = new Dictionary<string, (string Status, List<DateTimeOffset> Times, List<double> Values)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var batch in queries.Chunk(QueriesPerCall))
        {
            string? nextToken = null;
            do
            {
                var request = Build(batch, startTime, endTime).Add("NextToken", nextToken);
                var answer = await pipeline.SendQueryAsync(Service, request.Action, request.ToBody(), bucket: null, cancellationToken).ConfigureAwait(false);
                var result = Xml.ParseAnswer(answer, request.Action).Child("GetMetricDataResult");
                foreach (var item in result.Items("MetricDataResults"))
                {
                    var id = item.Required("Id");
                    if (!merged.TryGetValue(id, out var entry))
                    {
                        entry = (string.Empty, [], []);
                        order.Add(id);
                    }

                    entry.Times.AddRange(item.Items("Timestamps").Select(t => DateTimeOffset.Parse(t.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)));
                    entry.Values.AddRange(item.Items("Values").Select(v => double.Parse(v.Value, NumberStyles.Float, CultureInfo.InvariantCulture)));
                    merged[id] = (item.Text("StatusCode") ?? entry.Status, entry.Times, entry.Values);
                }

                nextToken = Xml.NextToken(nextToken, result.Text("NextToken"), request.Action);
            }
            while (nextToken is not null);
        }

        return order.Select(id => new MetricDataResult(id, merged[id].Status, merged[id].Times, merged[id].Values)).ToList();
    }

    private static QueryRequest Build(IEnumerable<MetricDataQuery> batch, DateTimeOffset startTime, DateTimeOffset endTime)
    {
        var request = new QueryRequest(Service, "GetMetricData");
        var i = 0;
        foreach (var query in batch)
        {
            var prefix = $"MetricDataQueries.member.{++i}";
            request.Add($"{prefix}.Id", query.Id)
                .Add($"{prefix}.MetricStat.Metric.Namespace", query.Namespace)
                .Add($"{prefix}.MetricStat.Metric.MetricName", query.MetricName);
            var d = 0;
            foreach (var (name, value) in query.Dimensions)
            {
                d++;
                request.Add($"{prefix}.MetricStat.Metric.Dimensions.member.{d}.Name", name)
                    .Add($"{prefix}.MetricStat.Metric.Dimensions.member.{d}.Value", value);
            }

            request.Add($"{prefix}.MetricStat.Period", query.PeriodSeconds)
                .Add($"{prefix}.MetricStat.Stat", query.Stat)
                .Add($"{prefix}.ReturnData", "true");
        }

        return request.Add("StartTime", startTime).Add("EndTime", endTime).Add("ScanBy", "TimestampAscending");
    }
}
