namespace AutoMirror.Aws;

/// <summary>
/// Bounded retries with capped exponential backoff and full jitter (delay = random × min(cap, base × 2^(n-1))),
/// the scheme the AWS SDKs' standard retry mode uses. Throttling starts from a larger base: the bucket refills
/// in whole seconds, so a 100 ms retry mostly spends a token for nothing.
/// </summary>
public sealed record RetryPolicy
{
    public static RetryPolicy Default { get; } = new();

    /// <summary>Total attempts, the first included.</summary>
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ThrottlingBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>One attempt's limit; an attempt that outlives it counts as a transient failure.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(20);

    internal TimeSpan Delay(int failedAttempt, bool throttled, double jitter)
    {
        var baseDelay = throttled ? ThrottlingBaseDelay : BaseDelay;
        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failedAttempt - 1, 30));
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, exponential);
        return TimeSpan.FromMilliseconds(ceiling * jitter);
    }
}
