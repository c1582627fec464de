using System.Collections.Concurrent;

namespace AutoMirror.Aws.Ec2;

/// <summary>
/// EC2 throttles each API action in its own bucket per account and region (see "Request throttling for the
/// Amazon EC2 API"): non-mutating actions 100 burst / 20 per s, mutating 50 / 5, CreateTags and DeleteTags 100 / 10.
/// Mirroring those buckets here keeps one process from draining the account's tokens and meeting RequestLimitExceeded.
/// </summary>
internal sealed class Ec2RateLimits(TimeProvider time, bool adaptiveCreates = true)
{
    /// <summary>
    /// The client's burst is 90% of EC2's. EC2's bucket stops refilling while full, and our requests reach it a
    /// network round trip after they leave our bucket, so an exact copy can run one or two tokens ahead of EC2 in a
    /// burst; the headroom absorbs that skew (and leaves a little for the console and CLI on the same account).
    /// Refill rates are EC2's own: over time the process may use the whole documented rate.
    /// </summary>
    public const double BurstHeadroom = 0.9;

    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);

    public TokenBucket For(string action) => _buckets.GetOrAdd(action, Create);

    /// <summary>EC2's documented bucket for an action: (burst capacity, refill per second).</summary>
    public static (int Capacity, double RefillPerSecond) Documented(string action) => action switch
    {
        "CreateTags" or "DeleteTags" => (100, 10),
        _ when action.StartsWith("Describe", StringComparison.Ordinal) => (100, 20),
        _ => (50, 5),
    };

    /// <summary>
    /// Actions whose bucket adapts to AWS's throttles (<see cref="TokenBucket.OnThrottled"/>): CreateTrafficMirrorSession,
    /// the one call a launch burst makes from many containers at once into EC2's smallest bucket (5/s), with nothing
    /// bounding their number. The teardown's deletes are bounded by its Map's concurrency, and the Describe buckets are
    /// four times larger; a fixed rate keeps them fast when throttles are not about their rate (faults, other tools).
    /// </summary>
    public static bool Adapts(string action) => action == "CreateTrafficMirrorSession";

    private TokenBucket Create(string action)
    {
        var (capacity, refill) = Documented(action);
        return new TokenBucket((int)(capacity * BurstHeadroom), refill, time, adaptiveCreates && Adapts(action));
    }
}
