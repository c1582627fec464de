using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Output;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// Owns the outputs and runs one receive path: opens the TAP/pcap, then opens the path the
/// <see cref="ReceivePlan"/> picks (the first that this kernel, driver and the process's capabilities allow,
/// each refusal logged with its reason) before it reports started (a bind or TAP failure stops start-up),
/// and on shutdown stops the path, then flushes and closes the outputs. The path owns its sockets,
/// programs and threads; the engine only its outputs and its flush and stats timers.
/// </summary>
public sealed class SensorEngine : IHostedService, IDisposable
{
    private readonly SensorSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<SensorEngine> _logger;
    private readonly Func<ReceivePlan, IReadOnlyList<IReceivePath>> _candidates;
    private readonly Func<string?> _defaultRouteInterface;
    private readonly List<IFrameOutput> _outputs = [];
    private readonly List<ReceiveFallback> _fallbacks = [];
    private IReceivePath? _path;
    private ITimer? _flushTimer;
    private ITimer? _statsTimer;
    private bool _tapWritesLogged;

    public SensorEngine(SensorSettings settings, TimeProvider time, ILogger<SensorEngine> logger)
        : this(settings, time, logger, ReceivePaths, () => ReceivePlan.DefaultRouteInterface())
    {
    }

    /// <param name="candidates">The paths to try for a plan, in its order (tests give fakes).</param>
    /// <param name="defaultRouteInterface">The interface of the IPv4 default route, or null.</param>
    internal SensorEngine(SensorSettings settings, TimeProvider time, ILogger<SensorEngine> logger,
        Func<ReceivePlan, IReadOnlyList<IReceivePath>> candidates, Func<string?> defaultRouteInterface)
    {
        _settings = settings;
        _time = time;
        _logger = logger;
        _candidates = candidates;
        _defaultRouteInterface = defaultRouteInterface;
    }

    public IReadOnlyList<IReceiveWorker> Workers => _path?.Workers ?? [];

    /// <summary>The path receiving ("packet-ring", "af-xdp", "sockets"); null before start.</summary>
    public string? ReceivePath => _path?.Name;

    /// <summary>The paths tried before the one receiving, each with why it was refused.</summary>
    public IReadOnlyList<ReceiveFallback> Fallbacks => _fallbacks;

    /// <summary>Receive queues served by AF_XDP sockets (0: the UDP sockets receive everything).</summary>
    public int XdpQueues => (_path as AfXdpReceivePath)?.Queues ?? 0;

    /// <summary>Receive threads on the packet ring (0: off or unavailable, the UDP sockets receive everything).</summary>
    public int PacketRingWorkers => (_path as PacketRingReceivePath)?.RingWorkers ?? 0;

    public IReadOnlyList<IFrameOutput> Outputs => _outputs;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _settings.Options;
        var plan = ReceivePlan.Resolve(o, _defaultRouteInterface);
        if (plan is { Interface: not null, InterfaceSetting: not null })
        {
            // Before the TAP exists: a persistent TAP created for a start-up that then fails on this setting would outlive the process.
            SensorSettings.RequireInterface(plan.Interface, plan.InterfaceSetting);
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
        var outputs = _outputs.ToArray();
        var context = new ReceiveContext(_settings,
            encapsulation => new FrameForwarder(encapsulation, o.VxlanPort, _settings.Sources, _settings.Vlans, outputs, o.MaxVnis, OpenBatches(outputs)),
            _logger);
        _path = Open(plan, _candidates(plan), context);
        _path.Start();

        _flushTimer = _time.CreateTimer(_ => FlushOutputs(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var every = TimeSpan.FromSeconds(o.StatsLogSeconds);
        _statsTimer = _time.CreateTimer(_ => LogStats(), null, every, every);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _flushTimer?.Dispose();
        _statsTimer?.Dispose();
        _path?.Stop(TimeSpan.FromSeconds(2));
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
        _path?.Dispose();
        foreach (var output in _outputs)
        {
            output.Dispose();
        }
    }

    /// <summary>The paths a plan names, each on the plan's interface.</summary>
    private static IReadOnlyList<IReceivePath> ReceivePaths(ReceivePlan plan)
        => plan.Paths.Select(name => name switch
        {
            ReceivePlan.PacketRing => (IReceivePath)new PacketRingReceivePath(plan.Interface, plan.NoInterfaceReason),
            ReceivePlan.AfXdp => new AfXdpReceivePath(plan.Interface, plan.NoInterfaceReason),
            _ => new UdpSocketReceivePath(),
        }).ToList();

    /// <summary>
    /// Opens the first path that is available; each refused one is logged with its reason and the path tried next.
    /// The last is never skipped: what it throws (a port in use) stops start-up.
    /// </summary>
    private IReceivePath Open(ReceivePlan plan, IReadOnlyList<IReceivePath> candidates, ReceiveContext context)
    {
        for (int i = 0; i < candidates.Count; i++)
        {
            var path = candidates[i];
            try
            {
                path.Open(context);
                Log.ReceivePathChosen(_logger, path.Name, plan.Mode, plan.Interface ?? "-",
                    _fallbacks.Count == 0 ? "-" : string.Join("; ", _fallbacks.Select(f => f.Path + ": " + f.Reason)));
                return path;
            }
            catch (ReceivePathUnavailableException e) when (i < candidates.Count - 1)
            {
                path.Dispose();
                _fallbacks.Add(new ReceiveFallback(path.Name, e.Message));
                Log.ReceivePathUnavailable(_logger, Describe(path.Name), plan.Interface ?? "(none)", e.Message, Describe(candidates[i + 1].Name));
            }
            catch
            {
                path.Dispose();
                throw;
            }
        }

        throw new InvalidOperationException("no receive path to try");
    }

    /// <summary>A path as the log names it (the operator's words, as in the README).</summary>
    private static string Describe(string path) => path switch
    {
        ReceivePlan.PacketRing => "Packet ring",
        ReceivePlan.AfXdp => "AF_XDP",
        ReceivePlan.Sockets => "the UDP sockets",
        _ => path,
    };

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
        var workers = Workers;
        foreach (var worker in workers)
        {
            var c = worker.Counters;
            datagrams += c.Datagrams;
            forwarded += c.FramesForwarded;
            rejected += c.Drops[(int)DropReason.SourceRejected];
            decap += c.Drops[(int)DropReason.DecapError] + c.Drops[(int)DropReason.Oversized];
            output += c.Drops[(int)DropReason.OutputError];
        }

        queue = SocketQueues.Read(workers).Drops;

        Log.Stats(_logger, datagrams, forwarded, rejected, decap, output, queue);
    }
}
