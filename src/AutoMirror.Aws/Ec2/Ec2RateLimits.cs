using System.Collections.Concurrent;

namespace AutoMirror.Aws.Ec2;

/// <summary>
/// EC2 throttles each API action in its own bucket per account and region (see "Request throttling for the
/// Amazon EC2 API"): non-mutating actions 100 burst / 20 per s, mutating 50 / 5, CreateTags and DeleteTags 100 / 10.
/// Mirroring those buckets here keeps one process from draining the account's tokens and meeting RequestLimitExceeded.
/// </summary>
public sealed class Ec2RateLimits(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);

    public TokenBucket For(string action) => _buckets.GetOrAdd(action, Create);

    private TokenBucket Create(string action) => action switch
    {
        "CreateTags" or "DeleteTags" => new TokenBucket(100, 10, time),
        _ when action.StartsWith("Describe", StringComparison.Ordinal) => new TokenBucket(100, 20, time),
        _ => new TokenBucket(50, 5, time),
    };
}
