namespace AutoMirror.Aws.CloudWatch;

/// <summary>The CloudWatch operation AutoMirror calls (API version 2010-08-01): GetMetricData, all pages.</summary>
public interface ICloudWatchClient
{
    /// <summary>Batches queries as the API allows (500 per call) and follows NextToken.</summary>
    Task<IReadOnlyList<MetricDataResult>> GetMetricDataAsync(
        IReadOnlyList<MetricDataQuery> queries, DateTimeOffset startTime, DateTimeOffset endTime, CancellationToken cancellationToken);
}

/// <summary>One MetricStat query: Id must start with a lower-case letter (AWS's rule).</summary>
public sealed record MetricDataQuery(
    string Id,
    string Namespace,
    string MetricName,
    IReadOnlyDictionary<string, string> Dimensions,
    int PeriodSeconds,
    string Stat);

public sealed record MetricDataResult(string Id, string StatusCode, IReadOnlyList<DateTimeOffset> Timestamps, IReadOnlyList<double> Values);
