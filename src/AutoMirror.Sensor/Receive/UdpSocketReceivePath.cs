using AutoMirror.Sensor.Forwarding;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// The UDP sockets: per port (VXLAN, and GENEVE when enabled) one SO_REUSEPORT socket and thread per
/// Sensor:ReceiveWorkers, steered by the inner addresses when there are several. Works everywhere; the
/// packet ring and AF_XDP keep one of these for what they leave to the kernel's stack (fragments, IP options).
/// </summary>
public sealed class UdpSocketReceivePath : IReceivePath
{
    private readonly List<IReceiveWorker> _workers = [];

    public string Name => ReceivePlan.Sockets;

    public IReadOnlyList<IReceiveWorker> Workers => _workers;

    /// <summary>A bind failure (port in use, address not local) is an <see cref="IOException"/>: no path could receive then.</summary>
    public void Open(ReceiveContext context)
    {
        var o = context.Settings.Options;
        Bind(context, Encapsulation.Vxlan, o.VxlanPort);
        if (o.GeneveEnabled)
        {
            Bind(context, Encapsulation.Geneve, o.GenevePort);
        }
    }

    public void Start() => _workers.StartAll();

    public void Stop(TimeSpan wait) => _workers.StopAll(wait);

    public void Dispose()
    {
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }
    }

    private void Bind(ReceiveContext context, Encapsulation encapsulation, int port)
    {
        var s = context.Settings;
        var o = s.Options;
        UdpReceiveWorker? first = null;
        for (int i = 0; i < o.ReceiveWorkers; i++)
        {
            var worker = new UdpReceiveWorker("rx-" + port + "-" + i, context.NewForwarder(encapsulation), o.BatchSize, o.MaxDatagramBytes, o.ReceiveCoalesceMicroseconds);
            // Listed before the bind: a worker whose bind fails is disposed with the rest.
            _workers.Add(worker);
            worker.Bind(s.BindAddress, port, o.SocketReceiveBufferBytes);
            first ??= worker;
        }

        if (o.ReceiveWorkers > 1)
        {
            // Socket i of the reuseport group is the i-th bound; the program picks it by index.
            first!.SteerByInnerAddresses(encapsulation, o.ReceiveWorkers);
        }

        Log.Receiving(context.Logger, encapsulation.ToString(), s.BindAddress.ToString(), port, o.ReceiveWorkers);
    }
}
