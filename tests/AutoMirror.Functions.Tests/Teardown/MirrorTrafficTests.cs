using AutoMirror.Aws.CloudWatch;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Tests.Teardown;

public class MirrorTrafficTests
{
    private static readonly DateTimeOffset End = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Start = End.AddHours(-2);

    private static List<DateTimeOffset> Every5Min(DateTimeOffset from, DateTimeOffset to)
    {
        var list = new List<DateTimeOffset>();
        for (var t = from; t < to; t = t.AddMinutes(5))
        {
            list.Add(t);
        }

        return list;
    }

    private static MetricDataResult Result(string id, IReadOnlyList<DateTimeOffset> times, double value, string status = "Complete") =>
        new(id, status, times, [.. times.Select(_ => value)]);

    [Fact]
    public void Queries_AskSumOfBothMirrorMetricsPerInstanceWithValidIds()
    {
        var queries = MirrorTraffic.Queries(["i-a", "i-b"]);

        Assert.Equal(["in0", "out0", "in1", "out1"], queries.Select(q => q.Id));
        Assert.All(queries, q => Assert.True(char.IsAsciiLetterLower(q.Id[0])));
        Assert.Equal(["NetworkMirrorIn", "NetworkMirrorOut"], queries.Take(2).Select(q => q.MetricName));
        Assert.All(queries, q => Assert.Equal(("AWS/EC2", "Sum", 300), (q.Namespace, q.Stat, q.PeriodSeconds)));
        Assert.Equal("i-b", queries[3].Dimensions["InstanceId"]);
    }

    [Fact]
    public void Interpret_ZeroDatapointsCoveringTheWindow_IsQuiet()
    {
        var times = Every5Min(Start, End);

        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", times, 0), Result("out0", times, 0)], Start, End);

        Assert.Equal(TrafficKind.Quiet, answer["i-a"].Kind);
    }

    [Fact]
    public void Interpret_AnyPositiveDatapoint_IsTrafficEvenIfTheOtherMetricIsMissing()
    {
        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", [Start.AddMinutes(40)], 1500)], Start, End);

        Assert.Equal(TrafficKind.Traffic, answer["i-a"].Kind);
        Assert.Equal(1500, answer["i-a"].Bytes);
    }

    [Fact]
    public void Interpret_NoDatapoints_IsUnknownNotQuiet()
    {
        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", [], 0), Result("out0", [], 0)], Start, End);

        Assert.Equal(TrafficKind.Unknown, answer["i-a"].Kind);
        Assert.Contains("no datapoints", answer["i-a"].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Interpret_ZerosOnlyForTheLastHour_IsUnknown()
    {
        var times = Every5Min(End.AddHours(-1), End);

        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", times, 0), Result("out0", times, 0)], Start, End);

        Assert.Equal(TrafficKind.Unknown, answer["i-a"].Kind);
        Assert.Contains("start only 60 min into the window", answer["i-a"].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Interpret_ZerosThatStoppedArrivingLongAgo_AreUnknown()
    {
        var times = Every5Min(Start, End.AddMinutes(-40));

        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", times, 0), Result("out0", times, 0)], Start, End);

        Assert.Equal(TrafficKind.Unknown, answer["i-a"].Kind);
    }

    [Fact]
    public void Interpret_SparseZeros_AreUnknown()
    {
        var times = Every5Min(Start, End).Where((_, k) => k % 4 == 0 || k == 23).ToList();

        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", times, 0), Result("out0", times, 0)], Start, End);

        Assert.Equal(TrafficKind.Unknown, answer["i-a"].Kind);
        Assert.Contains("periods have data", answer["i-a"].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Interpret_PartialDataWithoutTraffic_IsUnknown()
    {
        var times = Every5Min(Start, End);

        var answer = MirrorTraffic.Interpret(["i-a"], [Result("in0", times, 0, "PartialData"), Result("out0", times, 0)], Start, End);

        Assert.Equal(TrafficKind.Unknown, answer["i-a"].Kind);
    }

    [Fact]
    public void Interpret_PagesOfOneQueryAreJoined()
    {
        var times = Every5Min(Start, End);
        var half = times.Count / 2;

        var answer = MirrorTraffic.Interpret(["i-a"],
            [Result("in0", times[..half], 0), Result("out0", times, 0), Result("in0", times[half..], 0)], Start, End);

        Assert.Equal(TrafficKind.Quiet, answer["i-a"].Kind);
    }
}

public class StopTimeTests
{
    [Theory]
    [InlineData("User initiated (2026-11-22 01:02:03 GMT)", "2026-11-22T01:02:03Z")]
    [InlineData("Service initiated (2025-01-31 23:59:59 GMT)", "2025-01-31T23:59:59Z")]
    [InlineData("User initiated (2026-11-22 02:08:02 UTC)", "2026-11-22T02:08:02Z")]
    public void TryParse_ReadsTheTimeEc2WritesIntoTheReason(string reason, string expected)
    {
        Assert.True(StopTime.TryParse(reason, out var at));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), at);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Client.UserInitiatedShutdown: User initiated shutdown")]
    [InlineData("User initiated (2026-13-45 01:02:03 GMT)")]
    public void TryParse_WithoutAReadableTime_Fails(string? reason)
    {
        Assert.False(StopTime.TryParse(reason, out _));
    }
}
