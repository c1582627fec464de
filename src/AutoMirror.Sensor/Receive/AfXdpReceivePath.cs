using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// AF_XDP on the mirror interface: an XDP program (<see cref="XdpFilterProgram"/>) redirects VXLAN/GENEVE
/// datagrams to one AF_XDP socket and thread per receive queue; what it passes (fragments, IP options) reaches
/// the UDP sockets this path also binds. Owns the attachment (map, program, bpf_link), the sockets and threads.
/// </summary>
/// <param name="interfaceName">The mirror interface; null: none found (<paramref name="noInterfaceReason"/> says why) and the path is refused.</param>
public sealed class AfXdpReceivePath(string? interfaceName, string? noInterfaceReason) : IReceivePath
{
    private readonly UdpSocketReceivePath _stack = new();
    private readonly List<XdpReceiveWorker> _xdpWorkers = [];
    private readonly List<IReceiveWorker> _workers = [];
    private XdpAttachment? _attachment;

    public string Name => ReceivePlan.AfXdp;

    public IReadOnlyList<IReceiveWorker> Workers => _workers;

    /// <summary>Receive queues served by AF_XDP sockets.</summary>
    public int Queues => _attachment?.Queues ?? 0;

    public void Open(ReceiveContext context)
    {
        if (interfaceName is null)
        {
            throw new ReceivePathUnavailableException(noInterfaceReason ?? "no mirror interface");
        }

        var o = context.Settings.Options;
        int index = (int)LibC.if_nametoindex(interfaceName);
        if (index == 0)
        {
            throw new ReceivePathUnavailableException("no interface named '" + interfaceName + "'");
        }

        try
        {
            _attachment = XdpAttachment.Create(interfaceName, index);
            for (int queue = 0; queue < _attachment.Queues; queue++)
            {
                var socket = new XskSocket(_attachment.InterfaceIndex, queue, o.AfXdp.Frames);
                // A socket not yet in a worker is closed here if a later step fails.
                try
                {
                    _attachment.Register(queue, socket);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }

                // Datagrams to either port arrive on the same queue: the worker tells the forwarder which each is.
                _xdpWorkers.Add(new XdpReceiveWorker("rx-xdp-" + queue, context.NewForwarder(Encapsulation.Vxlan), socket, o.BatchSize, o.ReceiveCoalesceMicroseconds,
                    o.GeneveEnabled ? o.GenevePort : null, o.MaxDatagramBytes));
            }

            _attachment.Attach(o.VxlanPort, o.GeneveEnabled ? o.GenevePort : null, o.AfXdp.Mode);
        }
        catch (IOException e)
        {
            // Kernel, driver or capabilities: nothing of AF_XDP stays open, the next path is tried.
            Dispose();
            throw new ReceivePathUnavailableException(e.Message, e);
        }

        // What the program passes still reaches the stack: the sockets are bound too (a failure there stops start-up).
        _stack.Open(context);
        _workers.AddRange(_stack.Workers);
        _workers.AddRange(_xdpWorkers);
        Log.XdpReceiving(context.Logger, interfaceName, _attachment.Queues, _attachment.AttachedMode,
            _xdpWorkers.Count > 0 && _xdpWorkers[0].ZeroCopy ? "zero-copy" : "copy");
    }

    public void Start()
    {
        foreach (var worker in _workers)
        {
            worker.Start();
        }
    }

    public void Stop(TimeSpan wait)
    {
        foreach (var worker in _workers)
        {
            worker.Stop(wait);
        }
    }

    public void Dispose()
    {
        foreach (var worker in _xdpWorkers)
        {
            worker.Dispose();
        }

        _stack.Dispose();
        // After the workers (their sockets are in its map); the link closes first inside.
        _attachment?.Dispose();
    }
}
