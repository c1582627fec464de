using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Health;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Receive;
using Microsoft.Extensions.Logging;

namespace AutoMirror.Sensor.Tests.Receive;

/// <summary>
/// How the engine picks its receive path, with stand-in paths that accept or refuse as a kernel would: the first
/// available one in the plan's order receives, each refused one is logged with its reason and disposed, and
/// /health and /metrics say which path runs. (The real paths refusing for real reasons, in namespaces: AutoReceiveTests.)
/// </summary>
public sealed class SensorEngineReceivePathTests : IDisposable
{
    private readonly string _pcap = Directory.CreateTempSubdirectory("automirror-engine-").FullName;
    private readonly ListLogger _log = new();

    public void Dispose() => Directory.Delete(_pcap, recursive: true);

    private SensorEngine Engine(Func<ReceivePlan, IReadOnlyList<IReceivePath>> candidates, Func<string?>? defaultRoute = null)
    {
        // No TAP (it needs root): the pcap output stands in for it.
        var settings = SensorSettings.Validate(new SensorOptions { Tap = { Enabled = false }, Pcap = { Enabled = true, Directory = _pcap } });
        return new SensorEngine(settings, TimeProvider.System, _log, candidates, defaultRoute ?? (() => "lo"));
    }

    [Fact]
    public async Task Auto_PacketRingRefused_OpensAfXdp_LogsTheReason_AndHealthAndMetricsShowIt()
    {
        var ring = new FakePath("packet-ring", refuse: "attaching the tcx program: Operation not permitted (CAP_BPF)");
        var xdp = new FakePath("af-xdp");
        var sockets = new FakePath("sockets");
        ReceivePlan? seen = null;
        using var engine = Engine(plan => { seen = plan; return [ring, xdp, sockets]; });

        await engine.StartAsync(CancellationToken.None);

        Assert.Equal(["packet-ring", "af-xdp", "sockets"], seen!.Paths);
        Assert.Equal("lo", seen.Interface);
        Assert.Equal("af-xdp", engine.ReceivePath);
        Assert.True(ring.Disposed, "a refused path must leave nothing open");
        Assert.True(xdp.Started);
        Assert.False(sockets.Opened, "a later path is not tried once one receives");
        Assert.Contains(_log.Lines, l => l.StartsWith("Warning: Packet ring on lo is not available (attaching the tcx program: Operation not permitted (CAP_BPF)): falling back to AF_XDP", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.StartsWith("Information: Receive path: af-xdp (Sensor:Receive=auto", StringComparison.Ordinal));

        var exporter = new PrometheusExporter(engine, 16).Render();
        Assert.Contains("automirror_sensor_receive_path{path=\"af-xdp\"} 1\n", exporter, StringComparison.Ordinal);
        Assert.DoesNotContain("automirror_sensor_receive_path{path=\"packet-ring\"}", exporter, StringComparison.Ordinal);

        var health = new HealthEvaluator(engine, new DownstreamProbe(string.Empty, string.Empty));
        var problems = health.Problems();
        Assert.Empty(problems);
        using var json = System.Text.Json.JsonDocument.Parse(health.Json(problems));
        Assert.Equal("ok", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("af-xdp", json.RootElement.GetProperty("receive_path").GetString());
        var fallback = Assert.Single(json.RootElement.GetProperty("receive_fallbacks").EnumerateArray());
        Assert.Equal("packet-ring", fallback.GetProperty("path").GetString());
        Assert.Contains("CAP_BPF", fallback.GetProperty("reason").GetString(), StringComparison.Ordinal);

        await engine.StopAsync(CancellationToken.None);
        Assert.True(xdp.Stopped);
    }

    [Fact]
    public async Task Auto_EveryFastPathRefused_TheSocketsReceive_EachRefusalLogged()
    {
        var ring = new FakePath("packet-ring", refuse: "no tcx");
        var xdp = new FakePath("af-xdp", refuse: "socket(AF_XDP): Operation not permitted");
        using var engine = Engine(_ => [ring, xdp, new FakePath("sockets")]);

        await engine.StartAsync(CancellationToken.None);

        Assert.Equal("sockets", engine.ReceivePath);
        Assert.Equal(["packet-ring", "af-xdp"], engine.Fallbacks.Select(f => f.Path));
        Assert.Contains(_log.Lines, l => l.Contains("Packet ring on lo is not available (no tcx): falling back to AF_XDP", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("AF_XDP on lo is not available (socket(AF_XDP): Operation not permitted): falling back to the UDP sockets", StringComparison.Ordinal));
        Assert.Contains("automirror_sensor_receive_path{path=\"sockets\"} 1\n", new PrometheusExporter(engine, 16).Render(), StringComparison.Ordinal);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task LastPath_Failing_StopsStartUp_AndNothingStaysOpen()
    {
        // The sockets are never skipped: a port in use is a start-up failure, not a reason to receive nothing.
        var ring = new FakePath("packet-ring", refuse: "no tcx");
        var sockets = new FakePath("sockets", fail: new IOException("bind 0.0.0.0:4789: Address already in use"));
        using var engine = Engine(_ => [ring, sockets]);

        var e = await Assert.ThrowsAsync<IOException>(() => engine.StartAsync(CancellationToken.None));

        Assert.Contains("Address already in use", e.Message, StringComparison.Ordinal);
        Assert.True(sockets.Disposed);
        Assert.Null(engine.ReceivePath);
    }

    [Fact]
    public async Task AutoWithoutADefaultRoute_PassesTheReasonToThePathsThatNeedAnInterface()
    {
        ReceivePlan? seen = null;
        using var engine = Engine(plan => { seen = plan; return [new FakePath("sockets")]; }, defaultRoute: () => null);

        await engine.StartAsync(CancellationToken.None);

        Assert.Null(seen!.Interface);
        Assert.Contains("no IPv4 default route", seen.NoInterfaceReason, StringComparison.Ordinal);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void RealPaths_WithoutAnInterface_AreRefusedWithTheReason()
    {
        // What the engine's fallback relies on: without an interface the fast paths refuse (no exception of another kind).
        var settings = SensorSettings.Validate(new SensorOptions { Tap = { Enabled = false }, Pcap = { Enabled = true, Directory = _pcap } });
        var context = new ReceiveContext(settings, _ => throw new InvalidOperationException("nothing may be built"), _log);
        foreach (IReceivePath path in new IReceivePath[] { new PacketRingReceivePath(null, "no mirror interface: because"), new AfXdpReceivePath(null, "no mirror interface: because") })
        {
            using (path)
            {
                var e = Assert.Throws<ReceivePathUnavailableException>(() => path.Open(context));
                Assert.Equal("no mirror interface: because", e.Message);
                Assert.Empty(path.Workers);
            }
        }
    }

    private sealed class FakePath(string name, string? refuse = null, Exception? fail = null) : IReceivePath
    {
        private readonly List<IReceiveWorker> _workers = [];

        public string Name => name;

        public IReadOnlyList<IReceiveWorker> Workers => _workers;

        public bool Opened { get; private set; }

        public bool Started { get; private set; }

        public bool Stopped { get; private set; }

        public bool Disposed { get; private set; }

        public void Open(ReceiveContext context)
        {
            Opened = true;
            if (refuse is not null)
            {
                throw new ReceivePathUnavailableException(refuse);
            }

            if (fail is not null)
            {
                throw fail;
            }

            _workers.Add(new FakeWorker("rx-" + name));
        }

        public void Start()
        {
            Started = true;
            foreach (var worker in _workers)
            {
                worker.Start();
            }
        }

        public void Stop(TimeSpan wait) => Stopped = true;

        public void Dispose() => Disposed = true;
    }

    private sealed class FakeWorker(string label) : IReceiveWorker
    {
        public string Label => label;

        public ForwarderCounters Counters { get; } = new(1, 16);

        public string? Problem { get; private set; } = "not started";

        public void Start() => Problem = null;

        public void Stop(TimeSpan wait) => Problem = "stopped";

        public void Dispose()
        {
        }
    }

    /// <summary>Each log line as "Level: message".</summary>
    private sealed class ListLogger : ILogger<SensorEngine>
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add(logLevel + ": " + formatter(state, exception));
            }
        }
    }
}
