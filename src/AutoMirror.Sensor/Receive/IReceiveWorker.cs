using AutoMirror.Sensor.Metrics;

namespace AutoMirror.Sensor.Receive;

/// <summary>A receive thread feeding its own <see cref="Forwarding.FrameForwarder"/>: a UDP socket, or an AF_XDP socket on one receive queue.</summary>
public interface IReceiveWorker : IDisposable
{
    string Label { get; }

    ForwarderCounters Counters { get; }

    /// <summary>Null while receiving; otherwise why not.</summary>
    string? Problem { get; }

    void Start();

    void Stop(TimeSpan wait);
}

/// <summary>What every receive path does with its workers as a group (each path holds a different mix of them).</summary>
public static class ReceiveWorkerGroup
{
    public static void StartAll(this IReadOnlyList<IReceiveWorker> workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        foreach (var worker in workers)
        {
            worker.Start();
        }
    }

    public static void StopAll(this IReadOnlyList<IReceiveWorker> workers, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(workers);
        foreach (var worker in workers)
        {
            worker.Stop(wait);
        }
    }
}
