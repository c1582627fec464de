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
