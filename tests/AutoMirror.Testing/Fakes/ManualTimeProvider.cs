namespace AutoMirror.Testing.Fakes;

/// <summary>
/// A clock that moves only when told. With <see cref="AutoAdvance"/> every timer fires at once (after moving the clock
/// to its due time), so backoff runs instantly while its requested delays are still recorded. The one manual clock
/// of every test project (the AWS client's backoff and buckets, the teardown's idle windows).
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;

    public ManualTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public bool AutoAdvance { get; init; }

    public List<TimeSpan> RequestedDelays { get; } = [];

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_gate)
        {
            RequestedDelays.Add(dueTime);
        }

        if (AutoAdvance)
        {
            lock (_gate)
            {
                _now += dueTime;
            }

            // Fired on the pool, never inside CreateTimer: Task.Delay has not stored its timer yet at that point.
            ThreadPool.QueueUserWorkItem(_ => callback(state));
            return timer;
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock to <paramref name="now"/>, firing what falls due, as <see cref="Advance"/> does.</summary>
    public void SetUtcNow(DateTimeOffset now) => Advance(now - GetUtcNow());

    public void Advance(TimeSpan by)
    {
        List<ManualTimer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.DueAt <= _now).ToList();
            foreach (var timer in due)
            {
                _timers.Remove(timer);
            }
        }

        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    DueAt = owner._now + dueTime;
                    owner._timers.Add(this);
                }
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
