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
    /// <summary>Packet bytes in one UMEM frame in copy mode: the kernel keeps XDP_PACKET_HEADROOM (256) in front.</summary>
    internal const int FrameData = XskSocket.FrameSize - 256;

    private const int EthernetHeader = 14;

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
                    if (JumboRefusal(socket.MultiBuffer, InterfaceMtu(interfaceName), interfaceName) is { } refusal)
                    {
                        throw new IOException(refusal);
                    }

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

    /// <summary>
    /// Why AF_XDP cannot take this interface's packets whole, or null. Without multi-buffer sockets (XDP_USE_SG,
    /// kernel 6.6+) the kernel drops a packet larger than one frame's <see cref="FrameData"/> bytes and counts it
    /// only as a lost datagram of the socket (receive_queue_full, not oversized): at a jumbo MTU (ENA's 9001) that
    /// is every jumbo mirrored packet. The path is refused instead, and the next one receives them whole.
    /// </summary>
    /// <param name="mtu">The interface's MTU; null: unknown (not refused).</param>
    internal static string? JumboRefusal(bool multiBuffer, int? mtu, string interfaceName)
        => multiBuffer || mtu is not { } m || m + EthernetHeader <= FrameData
            ? null
            : "the kernel has no AF_XDP multi-buffer sockets (XDP_USE_SG, 6.6+) and the MTU of " + interfaceName + " (" + m
              + ") is above what one " + XskSocket.FrameSize + "-byte frame holds (" + (FrameData - EthernetHeader) + "): jumbo datagrams would be dropped";

    private static int? InterfaceMtu(string name)
        => int.TryParse(File.Exists("/sys/class/net/" + name + "/mtu") ? File.ReadAllText("/sys/class/net/" + name + "/mtu").Trim() : null,
            System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int mtu) ? mtu : null;

    public void Start() => _workers.StartAll();

    public void Stop(TimeSpan wait) => _workers.StopAll(wait);

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
