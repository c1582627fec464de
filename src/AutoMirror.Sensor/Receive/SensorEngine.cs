using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Output;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// Owns the outputs and the receive workers: opens the TAP/pcap, binds every socket before it
/// reports started (a bind or TAP failure stops start-up), and on shutdown stops the workers,
/// then flushes and closes the outputs.
/// </summary>
public sealed class SensorEngine : IHostedService, IDisposable
{
    private readonly SensorSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<SensorEngine> _logger;
    private readonly List<IReceiveWorker> _workers = [];
    private XdpAttachment? _xdp;
    private int _ringLink = -1;
    private int _ringProgram = -1;
    private readonly List<IFrameOutput> _outputs = [];
    private ITimer? _flushTimer;
    private ITimer? _statsTimer;
    private bool _tapWritesLogged;

    public SensorEngine(SensorSettings settings, TimeProvider time, ILogger<SensorEngine> logger)
    {
        _settings = settings;
        _time = time;
        _logger = logger;
    }

    public IReadOnlyList<IReceiveWorker> Workers => _workers;

    /// <summary>Receive queues served by AF_XDP sockets (0: the UDP sockets receive everything).</summary>
    public int XdpQueues { get; private set; }

    /// <summary>Receive threads on the packet ring (0: off or unavailable, the UDP sockets receive everything).</summary>
    public int PacketRingWorkers { get; private set; }

    public IReadOnlyList<IFrameOutput> Outputs => _outputs;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _settings.Options;
        if (!string.IsNullOrEmpty(o.AfXdp.Interface))
        {
            // Before the TAP exists: a persistent TAP created for a start-up that then fails on this setting would outlive the process.
            SensorSettings.RequireInterface(o.AfXdp.Interface, "Sensor:AfXdp:Interface");
        }

        if (!string.IsNullOrEmpty(o.PacketRing.Interface))
        {
            SensorSettings.RequireInterface(o.PacketRing.Interface, "Sensor:PacketRing:Interface");
        }

        if (o.Tap.Enabled)
        {
            var tap = TapDevice.Open(o.Tap.Name, o.Tap.Mtu, o.Tap.Persist);
            _outputs.Add(tap);
            Log.OutputReady(_logger, "tap", tap.InterfaceName + " mtu " + o.Tap.Mtu);
            if (!tap.Ipv6Disabled)
            {
                Log.TapIpv6NotDisabled(_logger, tap.InterfaceName);
            }
        }

        if (o.Pcap.Enabled)
        {
            _outputs.Add(new PcapWriter(o.Pcap.Directory, o.Pcap.FilePrefix, (long)o.Pcap.MaxFileMegabytes << 20,
                TimeSpan.FromSeconds(o.Pcap.MaxFileAgeSeconds), o.Pcap.MaxFiles, o.Pcap.SnapLength, _time));
            Log.OutputReady(_logger, "pcap", o.Pcap.Directory);
        }

        Log.SourceNetworks(_logger, string.Join(",", _settings.Sources.Describe()));
        AddWorkers(Encapsulation.Vxlan, o.VxlanPort);
        if (o.GeneveEnabled)
        {
            AddWorkers(Encapsulation.Geneve, o.GenevePort);
        }

        if (!string.IsNullOrEmpty(o.AfXdp.Interface))
        {
            AddXdpWorkers(o.AfXdp.Interface);
        }

        if (!string.IsNullOrEmpty(o.PacketRing.Interface))
        {
            AddPacketRingWorkers(o.PacketRing.Interface);
        }

        foreach (var worker in _workers)
        {
            worker.Start();
        }

        _flushTimer = _time.CreateTimer(_ => FlushOutputs(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var every = TimeSpan.FromSeconds(o.StatsLogSeconds);
        _statsTimer = _time.CreateTimer(_ => LogStats(), null, every, every);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _flushTimer?.Dispose();
        _statsTimer?.Dispose();
        foreach (var worker in _workers)
        {
            worker.Stop(TimeSpan.FromSeconds(2));
        }

        LogStats();
        foreach (var output in _outputs)
        {
            output.Flush();
            output.Dispose();
        }

        Log.Stopped(_logger);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _flushTimer?.Dispose();
        _statsTimer?.Dispose();
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }

        _xdp?.Dispose();
        CloseRingDrop();
        foreach (var output in _outputs)
        {
            output.Dispose();
        }
    }

    private void AddXdpWorkers(string interfaceName)
    {
        var o = _settings.Options;
        var outputs = _outputs.ToArray();
        var added = new List<XdpReceiveWorker>();
        XdpAttachment? attachment = null;
        try
        {
            attachment = XdpAttachment.Create(interfaceName);
            for (int queue = 0; queue < attachment.Queues; queue++)
            {
                var socket = new XskSocket(attachment.InterfaceIndex, queue, o.AfXdp.Frames);
                // A socket not yet in a worker is closed here if a later step fails.
                try
                {
                    attachment.Register(queue, socket);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }

                // Datagrams to either port arrive on the same queue: the worker tells the forwarder which each is.
                var forwarder = new FrameForwarder(Encapsulation.Vxlan, o.VxlanPort, _settings.Sources, _settings.Vlans, outputs, o.MaxVnis, OpenBatches(outputs));
                added.Add(new XdpReceiveWorker("rx-xdp-" + queue, forwarder, socket, o.BatchSize, o.ReceiveCoalesceMicroseconds, o.GeneveEnabled ? o.GenevePort : null, o.MaxDatagramBytes));
            }

            attachment.Attach(o.VxlanPort, o.GeneveEnabled ? o.GenevePort : null, o.AfXdp.Mode);
        }
        catch (IOException e)
        {
            // The UDP sockets are bound and receive everything the program would have taken.
            foreach (var worker in added)
            {
                worker.Dispose();
            }

            attachment?.Dispose();
            Log.XdpUnavailable(_logger, interfaceName, e.Message);
            return;
        }

        _xdp = attachment;
        _workers.AddRange(added);
        XdpQueues = attachment.Queues;
        Log.XdpReceiving(_logger, interfaceName, attachment.Queues, attachment.AttachedMode, added.Count > 0 && added[0].ZeroCopy ? "zero-copy" : "copy");
    }

    /// <summary>
    /// The packet rings (one per receive worker, in a fanout group steered by inner addresses when there are
    /// several) and their tcx drop. The drop is attached before the rings are bound: a datagram arriving in
    /// the microseconds between the two is dropped rather than forwarded twice (by a ring and the UDP sockets).
    /// </summary>
    private void AddPacketRingWorkers(string interfaceName)
    {
        var o = _settings.Options;
        int? geneve = o.GeneveEnabled ? o.GenevePort : null;
        int index = SensorSettings.RequireInterface(interfaceName, "Sensor:PacketRing:Interface");
        var rings = new List<PacketRing>();
        try
        {
            for (int i = 0; i < o.ReceiveWorkers; i++)
            {
                rings.Add(new PacketRing(o.PacketRing.Blocks, o.PacketRing.BlockKilobytes * 1024, PacketRingPrograms.RingFilter(o.VxlanPort, geneve)));
            }

            _ringProgram = Bpf.LoadTcxIngressProgram(PacketRingPrograms.IngressDrop(o.VxlanPort, geneve), "automirror_ring");
            _ringLink = Bpf.AttachTcxIngress(_ringProgram, index);
            rings[0].Bind(index);
            if (rings.Count > 1)
            {
                // Both directions of a conversation to one worker, as the socket path's SO_REUSEPORT steering does.
                // A ring joins right after its bind (the kernel takes only bound sockets): until then, microseconds at
                // start-up, it copies the group's datagrams too.
                int group = rings[0].StartFanout(InnerAddressSteering.ForFanout(rings.Count, geneve));
                for (int i = 1; i < rings.Count; i++)
                {
                    rings[i].Bind(index);
                    rings[i].JoinFanout(group);
                }
            }
        }
        catch (IOException e)
        {
            // Without the drop (no tcx before kernel 6.6, no CAP_BPF) or the ring (no CAP_NET_RAW) the UDP sockets receive everything.
            CloseRingDrop();
            rings.ForEach(r => r.Dispose());
            Log.PacketRingUnavailable(_logger, interfaceName, e.Message);
            return;
        }

        var outputs = _outputs.ToArray();
        for (int i = 0; i < rings.Count; i++)
        {
            var forwarder = new FrameForwarder(Encapsulation.Vxlan, o.VxlanPort, _settings.Sources, _settings.Vlans, outputs, o.MaxVnis, OpenBatches(outputs));
            _workers.Add(new PacketRingReceiveWorker("rx-ring-" + i, forwarder, rings[i], index, interfaceName, o.BatchSize, geneve, o.MaxDatagramBytes));
        }

        PacketRingWorkers = rings.Count;
        Log.PacketRingReceiving(_logger, interfaceName, rings.Count, o.PacketRing.Blocks, o.PacketRing.BlockKilobytes);
    }

    /// <summary>The link first: the stack gets the datagrams back before the ring goes.</summary>
    private void CloseRingDrop()
    {
        int link = Interlocked.Exchange(ref _ringLink, -1);
        if (link >= 0)
        {
            LibC.close(link);
        }

        int program = Interlocked.Exchange(ref _ringProgram, -1);
        if (program >= 0)
        {
            LibC.close(program);
        }
    }

    private void AddWorkers(Encapsulation encapsulation, int port)
    {
        var o = _settings.Options;
        var outputs = _outputs.ToArray();
        UdpReceiveWorker? first = null;
        for (int i = 0; i < o.ReceiveWorkers; i++)
        {
            var forwarder = new FrameForwarder(encapsulation, o.VxlanPort, _settings.Sources, _settings.Vlans, outputs, o.MaxVnis, OpenBatches(outputs));
            var worker = new UdpReceiveWorker("rx-" + port + "-" + i, forwarder, o.BatchSize, o.MaxDatagramBytes, o.ReceiveCoalesceMicroseconds);
            _workers.Add(worker);
            worker.Bind(_settings.BindAddress, port, o.SocketReceiveBufferBytes);
            first ??= worker;
        }

        if (o.ReceiveWorkers > 1)
        {
            // Socket i of the reuseport group is the i-th bound; the program picks it by index.
            first!.SteerByInnerAddresses(encapsulation, o.ReceiveWorkers);
        }

        Log.Receiving(_logger, encapsulation.ToString(), _settings.BindAddress.ToString(), port, o.ReceiveWorkers);
    }

    /// <summary>One worker's batch writers: the TAP through an io_uring unless disabled or unavailable (then write() per frame, with a warning).</summary>
    private IFrameBatch?[] OpenBatches(IFrameOutput[] outputs)
    {
        var batches = new IFrameBatch?[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i] is not TapDevice tap)
            {
                continue;
            }

            string? reason = null;
            if (_settings.Options.Tap.IoUring)
            {
                batches[i] = tap.OpenBatch(_settings.Options.BatchSize, out reason);
            }

            // Said once, from what the first worker got: the log tells which path the TAP really takes.
            if (!_tapWritesLogged)
            {
                _tapWritesLogged = true;
                if (batches[i] is not null)
                {
                    Log.TapWrites(_logger, tap.InterfaceName, "batched writes (io_uring), one io_uring_enter per receive batch");
                }
                else if (reason is not null)
                {
                    Log.TapBatchingUnavailable(_logger, tap.InterfaceName, reason);
                }
                else
                {
                    Log.TapWrites(_logger, tap.InterfaceName, "one write() per frame (Sensor:Tap:IoUring=false)");
                }
            }
        }

        return batches;
    }

    private void FlushOutputs()
    {
        foreach (var output in _outputs)
        {
            output.Flush();
        }
    }

    private void LogStats()
    {
        long datagrams = 0, forwarded = 0, rejected = 0, decap = 0, output = 0, queue = 0;
        foreach (var worker in _workers)
        {
            var c = worker.Counters;
            datagrams += c.Datagrams;
            forwarded += c.FramesForwarded;
            rejected += c.Drops[(int)DropReason.SourceRejected];
            decap += c.Drops[(int)DropReason.DecapError] + c.Drops[(int)DropReason.Oversized];
            output += c.Drops[(int)DropReason.OutputError];
        }

        queue = SocketQueues.Read(_workers).Drops;

        Log.Stats(_logger, datagrams, forwarded, rejected, decap, output, queue);
    }
}
