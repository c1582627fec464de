using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// Whether the sensor target group has a healthy target: the gate before sessions are made (mirrored packets to a
/// target with no healthy sensor are lost). One per container. A healthy answer is reused for
/// <see cref="MaxAge"/>: an NLB itself needs several health-check intervals (10–30 s each) to mark a target down, so
/// a younger answer is as fresh as the load balancer's own view, and a launch burst then asks ELB once a minute per
/// container instead of once per instance. An unhealthy answer is never reused, so a workflow polling for a sensor
/// sees it recover at the next poll. Concurrent callers (the fleet reconcile) share one request.
/// </summary>
/// <remarks>An interface target (TargetKind eni) has no target group: <paramref name="interfaceTargetProbe"/> says
/// whether its sensor is up, with the same reuse rules.</remarks>
public sealed class SensorHealth(
    ILoadBalancingClient loadBalancing,
    AutoMirrorSettings settings,
    TimeProvider time,
    TimeSpan? maxAge = null,
    Func<CancellationToken, Task<TargetHealth>>? interfaceTargetProbe = null)
{
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private (TargetHealth Health, long At)? _healthy;
    private Task<TargetHealth>? _inFlight;

    public TimeSpan MaxAge { get; } = maxAge ?? settings.SensorHealthMaxAge;

    /// <summary>The health now, or a healthy answer younger than <see cref="MaxAge"/>; the second value says which.</summary>
    public async Task<(TargetHealth Health, bool Cached)> CheckAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<TargetHealth>? mine = null;
        Task<TargetHealth> shared;
        lock (_gate)
        {
            if (_healthy is { } known && time.GetElapsedTime(known.At) < MaxAge)
            {
                return (known.Health, true);
            }

            if (_inFlight is null)
            {
                mine = new TaskCompletionSource<TargetHealth>(TaskCreationOptions.RunContinuationsAsynchronously);
                _inFlight = mine.Task;
            }

            shared = _inFlight;
        }

        if (mine is not null)
        {
            try
            {
                var health = await ProbeAsync(cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _healthy = health.Healthy ? (health, time.GetTimestamp()) : null;
                    _inFlight = null;
                }

                mine.SetResult(health);
            }
            catch (Exception e)
            {
                lock (_gate)
                {
                    _inFlight = null;
                }

                mine.SetException(e);
            }
        }

        return (await shared.WaitAsync(cancellationToken).ConfigureAwait(false), false);
    }

    private async Task<TargetHealth> ProbeAsync(CancellationToken cancellationToken)
    {
        if (settings.TargetKind == MirrorTargetKind.Eni)
        {
            return interfaceTargetProbe is null
                ? throw new InvalidOperationException("an interface target's health needs its probe")
                : await interfaceTargetProbe(cancellationToken).ConfigureAwait(false);
        }

        var targets = await loadBalancing.DescribeTargetHealthAsync(settings.RequireSensorTargetGroupArn(), cancellationToken).ConfigureAwait(false);
        var healthy = SensorZones.Healthy(targets).Count;
        return new TargetHealth(healthy, healthy > 0);
    }
}
