namespace AutoMirror.Bench.Burst;

/// <summary>
/// Time running <c>scale</c> times faster than the wall clock, to match the local cloud's time-scaled token buckets:
/// the AWS clients' own rate buckets and backoff, and the workflow's waits, all live in the same simulated time.
/// </summary>
public sealed class ScaledTimeProvider(double scale) : TimeProvider
{
    private readonly long _startTimestamp = System.GetTimestamp();
    private readonly DateTimeOffset _startUtc = System.GetUtcNow();

    public double Scale { get; } = scale;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => _startTimestamp + (long)((System.GetTimestamp() - _startTimestamp) * Scale);

    public override DateTimeOffset GetUtcNow() => _startUtc + (System.GetUtcNow() - _startUtc) * Scale;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new ScaledTimer(System.CreateTimer(callback, state, ToReal(dueTime), ToReal(period)), this);

    private TimeSpan ToReal(TimeSpan simulated) => simulated == Timeout.InfiniteTimeSpan ? simulated : simulated / Scale;

    private sealed class ScaledTimer(ITimer inner, ScaledTimeProvider owner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(owner.ToReal(dueTime), owner.ToReal(period));

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
