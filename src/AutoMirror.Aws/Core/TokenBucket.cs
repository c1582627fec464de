namespace AutoMirror.Aws;

/// <summary>
/// A client-side token bucket: a request waits for a token instead of being sent into a throttling error.
/// Time comes from a <see cref="TimeProvider"/> so waits are testable without sleeping.
/// </summary>
internal sealed class TokenBucket
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private double _tokens;
    private long _refilledAt;
    private double _rate;
    private long _slowedAt;

    public TokenBucket(int capacity, double refillPerSecond, TimeProvider time, bool adaptive = false)
    {
        Adaptive = adaptive;
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(refillPerSecond);
        Capacity = capacity;
        RefillPerSecond = refillPerSecond;
        _time = time;
        _tokens = capacity;
        _refilledAt = time.GetTimestamp();
        _rate = refillPerSecond;
    }

    public int Capacity { get; }

    public double RefillPerSecond { get; }

    /// <summary>Whether AWS's throttles slow this bucket down (<see cref="OnThrottled"/>); otherwise its rate is fixed.</summary>
    public bool Adaptive { get; }

    /// <summary>The refill rate now: <see cref="RefillPerSecond"/> until AWS throttles, less after (see <see cref="OnThrottled"/>).</summary>
    public double CurrentRate
    {
        get
        {
            lock (_gate)
            {
                return _rate;
            }
        }
    }

    /// <summary>
    /// AWS throttled a call that this bucket let through: other processes (other Lambda containers) share the
    /// account's bucket. The tokens are dropped and the rate cut to a quarter (down to a floor), so this container's share shrinks
    /// at once instead of its retries meeting the empty bucket again; <see cref="OnAccepted"/> grows it back slowly.
    /// The scheme of the AWS SDKs' adaptive retry mode (multiplicative decrease), kept additive on the way up.
    /// </summary>
    public void OnThrottled()
    {
        if (!Adaptive)
        {
            return;
        }

        lock (_gate)
        {
            Refill();
            _tokens = Math.Min(_tokens, 0);

            // Calls already in flight when the first throttle came back meet the same empty bucket: one halving per
            // token interval, not one per call, or a burst of concurrent calls would drive the rate to the floor.
            var now = _time.GetTimestamp();
            if (_slowedAt != 0 && _time.GetElapsedTime(_slowedAt, now).TotalSeconds < 1 / _rate)
            {
                return;
            }

            _slowedAt = now;
            _rate = Math.Max(RefillPerSecond * MinRateShare, _rate * DecreaseFactor);
        }
    }

    /// <summary>A call went through: the rate creeps back towards <see cref="RefillPerSecond"/>, a small step per success.</summary>
    public void OnAccepted()
    {
        if (!Adaptive)
        {
            return;
        }

        lock (_gate)
        {
            if (_rate < RefillPerSecond)
            {
                Refill();
                _rate = Math.Min(RefillPerSecond, _rate + (RefillPerSecond * RecoveryStepShare));
            }
        }
    }

    // A quarter per throttle: two throttles take a container from AWS's rate to a 1/16 share, so a burst of many
    // containers settles after a few throttles each instead of a long cascade of halvings.
    private const double DecreaseFactor = 0.25;

    // Down to 1/50 of AWS's rate: dozens of containers sharing a bucket each get a fair share without starving. One
    // process with much to create alone (the scheduled reconcile) would crawl at this floor after two throttles it
    // did not cause, so it does not adapt (AwsClientOptions.AdaptiveCreateRate).
    private const double MinRateShare = 0.02;

    // Back to the full rate after about 1/0.003 ≈ 330 accepted calls; slow enough that many containers growing at once
    // do not overrun the shared bucket again soon.
    private const double RecoveryStepShare = 0.003;

    public async ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                Refill();
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }

                wait = TimeSpan.FromSeconds((1 - _tokens) / _rate);
            }

            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_refilledAt, now);
        // While slowed down the burst is held at one token: a full burst is what overran the shared bucket.
        var capacity = _rate < RefillPerSecond ? 1 : Capacity;
        _tokens = Math.Min(capacity, _tokens + (elapsed.TotalSeconds * _rate));
        _refilledAt = now;
    }
}
