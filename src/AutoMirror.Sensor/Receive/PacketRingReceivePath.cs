using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// The packet ring on the mirror interface: one TPACKET_V3 ring and thread per Sensor:ReceiveWorkers (a fanout
/// group steered by inner addresses when there are several) and the tcx ingress program that drops what the
/// rings took before the IP/UDP stack. What the rings do not take (fragments, IP options) reaches the UDP
/// sockets this path also binds. Owns the rings, the program and its bpf_link, the sockets and threads.
/// </summary>
/// <param name="interfaceName">The mirror interface; null: none found (<paramref name="noInterfaceReason"/> says why) and the path is refused.</param>
public sealed class PacketRingReceivePath(string? interfaceName, string? noInterfaceReason) : IReceivePath
{
    private readonly UdpSocketReceivePath _stack = new();
    private readonly List<PacketRing> _rings = [];
    private readonly List<PacketRingReceiveWorker> _ringWorkers = [];
    private readonly List<IReceiveWorker> _workers = [];
    private int _link = -1;
    private int _program = -1;

    public string Name => ReceivePlan.PacketRing;

    public IReadOnlyList<IReceiveWorker> Workers => _workers;

    /// <summary>Receive threads on the packet ring.</summary>
    public int RingWorkers => _ringWorkers.Count;

    /// <summary>
    /// The drop is attached before the rings are bound: a datagram arriving in the microseconds between the two
    /// is dropped rather than forwarded twice (by a ring and the UDP sockets).
    /// </summary>
    public void Open(ReceiveContext context)
    {
        if (interfaceName is null)
        {
            throw new ReceivePathUnavailableException(noInterfaceReason ?? "no mirror interface");
        }

        var o = context.Settings.Options;
        int? geneve = o.GeneveEnabled ? o.GenevePort : null;
        int index = (int)LibC.if_nametoindex(interfaceName);
        if (index == 0)
        {
            throw new ReceivePathUnavailableException("no interface named '" + interfaceName + "'");
        }

        try
        {
            for (int i = 0; i < o.ReceiveWorkers; i++)
            {
                _rings.Add(new PacketRing(o.PacketRing.Blocks, o.PacketRing.BlockKilobytes * 1024, PacketRingPrograms.RingFilter(o.VxlanPort, geneve)));
            }

            _program = Bpf.LoadTcxIngressProgram(PacketRingPrograms.IngressDrop(o.VxlanPort, geneve), "automirror_ring");
            _link = Bpf.AttachTcxIngress(_program, index);
            _rings[0].Bind(index);
            if (_rings.Count > 1)
            {
                // Both directions of a conversation to one worker, as the socket path's SO_REUSEPORT steering does.
                // A ring joins right after its bind (the kernel takes only bound sockets): until then, microseconds at
                // start-up, it copies the group's datagrams too.
                int group = _rings[0].StartFanout(InnerAddressSteering.ForFanout(_rings.Count, geneve));
                for (int i = 1; i < _rings.Count; i++)
                {
                    _rings[i].Bind(index);
                    _rings[i].JoinFanout(group);
                }
            }
        }
        catch (IOException e)
        {
            // No tcx before kernel 6.6, no CAP_BPF, no CAP_NET_RAW: nothing of the ring stays open, the next path is tried.
            Dispose();
            throw new ReceivePathUnavailableException(e.Message, e);
        }

        for (int i = 0; i < _rings.Count; i++)
        {
            _ringWorkers.Add(new PacketRingReceiveWorker("rx-ring-" + i, context.NewForwarder(Encapsulation.Vxlan), _rings[i], index, interfaceName, o.BatchSize, geneve, o.MaxDatagramBytes));
        }

        // The workers own their rings from here on.
        _rings.Clear();
        _stack.Open(context);
        _workers.AddRange(_stack.Workers);
        _workers.AddRange(_ringWorkers);
        Log.PacketRingReceiving(context.Logger, interfaceName, _ringWorkers.Count, o.PacketRing.Blocks, o.PacketRing.BlockKilobytes);
    }

    public void Start() => _workers.StartAll();

    public void Stop(TimeSpan wait) => _workers.StopAll(wait);

    public void Dispose()
    {
        // The link first: the stack gets the datagrams back before the rings go.
        Close(ref _link);
        Close(ref _program);
        foreach (var ring in _rings)
        {
            ring.Dispose();
        }

        _rings.Clear();
        foreach (var worker in _ringWorkers)
        {
            worker.Dispose();
        }

        _stack.Dispose();
    }

    private static void Close(ref int fd)
    {
        int closing = Interlocked.Exchange(ref fd, -1);
        if (closing >= 0)
        {
            LibC.close(closing);
        }
    }
}
