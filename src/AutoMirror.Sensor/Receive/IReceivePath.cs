using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Forwarding;
using Microsoft.Extensions.Logging;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// One way of receiving the mirrored datagrams (the UDP sockets, AF_XDP, the packet ring): it owns its file
/// descriptors, kernel programs and threads from <see cref="Open"/> to <see cref="IDisposable.Dispose"/>.
/// The engine opens one, starts it, and stops and disposes it; disposing twice is harmless (the host does).
/// </summary>
public interface IReceivePath : IDisposable
{
    /// <summary>"sockets", "af-xdp" or "packet-ring": the value of /health's receive_path and of the metric label.</summary>
    string Name { get; }

    /// <summary>Its receive threads, once opened (health and metrics read them).</summary>
    IReadOnlyList<IReceiveWorker> Workers { get; }

    /// <summary>
    /// Opens, binds and attaches everything, threads not yet running. Throws <see cref="ReceivePathUnavailableException"/>
    /// when this kernel, driver or the process's capabilities refuse the path (it then holds nothing and the next path
    /// is tried); an <see cref="IOException"/> (a port in use) or a <see cref="SensorConfigurationException"/> stops start-up.
    /// </summary>
    void Open(ReceiveContext context);

    void Start();

    void Stop(TimeSpan wait);
}

/// <param name="NewForwarder">A forwarder for one receive thread, with its own batch writers (the engine owns the outputs).</param>
public sealed record ReceiveContext(SensorSettings Settings, Func<Encapsulation, FrameForwarder> NewForwarder, ILogger Logger);

/// <summary>The path cannot run here; the message says why (the step that failed and the kernel's error).</summary>
public sealed class ReceivePathUnavailableException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>A path tried before the one receiving, and why it was refused (shown by /health).</summary>
public sealed record ReceiveFallback(string Path, string Reason);
