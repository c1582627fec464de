using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// The automirror:status verdicts of the attach fast path, written for many instances in one CreateTags per value
/// (EC2 takes up to 1000 resources per call) instead of one call per instance. One per container. A verdict waits
/// at most <see cref="MaxDelay"/> (a timer flushes it) or until <see cref="MaxBatch"/> are pending. A Lambda
/// container frozen between invocations runs its timer when it is next thawed; one that is never invoked again
/// loses its pending verdicts, and the scheduled reconcile writes every status that differs.
/// </summary>
public sealed class StatusTagBatch : IDisposable
{
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(30);
    public const int DefaultMaxBatch = 50;

    private readonly IEc2Client _ec2;
    private readonly TimeProvider _time;
    private readonly IDecisionLog _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, MirrorStatus> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writing = new(1, 1);
    private ITimer? _timer;

    public StatusTagBatch(IEc2Client ec2, TimeProvider time, IDecisionLog log, TimeSpan? maxDelay = null, int maxBatch = DefaultMaxBatch)
    {
        _ec2 = ec2;
        _time = time;
        _log = log;
        MaxDelay = maxDelay ?? DefaultMaxDelay;
        MaxBatch = maxBatch;
    }

    public TimeSpan MaxDelay { get; }

    public int MaxBatch { get; }

    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Queues an instance's verdict (a later one for the same instance replaces it); writes the batch once full.</summary>
    public async Task AddAsync(string instanceId, MirrorStatus status, CancellationToken cancellationToken)
    {
        bool full;
        lock (_gate)
        {
            _pending[instanceId] = status;
            full = _pending.Count >= MaxBatch;
            if (!full && _timer is null)
            {
                _timer = _time.CreateTimer(_ => _ = FlushInBackgroundAsync(), null, MaxDelay, Timeout.InfiniteTimeSpan);
            }
        }

        if (full)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes every pending verdict: one CreateTags per status value. What fails stays pending for the next flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Dictionary<string, MirrorStatus> batch;
            lock (_gate)
            {
                batch = new Dictionary<string, MirrorStatus>(_pending, StringComparer.Ordinal);
                _pending.Clear();
                _timer?.Dispose();
                _timer = null;
            }

            try
            {
                foreach (var group in batch.GroupBy(p => p.Value))
                {
                    foreach (var ids in group.Select(p => p.Key).Chunk(1000))
                    {
                        await WriteAsync(ids, group.Key, cancellationToken).ConfigureAwait(false);
                        foreach (var id in ids)
                        {
                            batch.Remove(id);
                        }
                    }
                }
            }
            finally
            {
                if (batch.Count > 0)
                {
                    lock (_gate)
                    {
                        foreach (var (id, status) in batch)
                        {
                            _pending.TryAdd(id, status);
                        }

                        _timer ??= _time.CreateTimer(_ => _ = FlushInBackgroundAsync(), null, MaxDelay, Timeout.InfiniteTimeSpan);
                    }
                }
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
        }

        _writing.Dispose();
    }

    private async Task WriteAsync(string[] ids, MirrorStatus status, CancellationToken cancellationToken)
    {
        // One request serves many attaches, each with its own correlation id, and one CreateTags gives every resource
        // the same tags: the id goes on each attach's sessions instead (automirror:correlation-id, under its am3-
        // token), and the instance's tag is emptied so it cannot name an older run (`automirror status` then shows
        // the sessions' ids).
        var tags = new Dictionary<string, string> { [SessionTags.Status] = status.ToWireName(), [SessionTags.CorrelationId] = "" };
        try
        {
            await _ec2.CreateTagsAsync(ids, tags, cancellationToken).ConfigureAwait(false);
            _log.Write(new Decision("status-tag", null, status.ToWireName()) { Counts = new Dictionary<string, int> { ["instances"] = ids.Length } });
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            // EC2 refuses the whole call for one unknown id: the instances are tagged one by one, a gone one skipped.
            foreach (var id in ids)
            {
                try
                {
                    await _ec2.CreateTagsAsync([id], tags, cancellationToken).ConfigureAwait(false);
                }
                catch (AwsServiceException gone) when (AwsErrors.IsInstanceNotFound(gone))
                {
                    _log.Write(new Decision("status-tag", id, "instance-gone") { Level = "warn", Error = gone.ErrorCode });
                }
            }
        }
    }

    private async Task FlushInBackgroundAsync()
    {
        try
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AwsServiceException or ObjectDisposedException)
        {
            // Kept pending (or the container is going away): the next flush or the scheduled reconcile writes it.
            _log.Write(new Decision("status-tag", null, "flush-failed") { Level = "warn", Error = e.Message });
        }
    }
}
