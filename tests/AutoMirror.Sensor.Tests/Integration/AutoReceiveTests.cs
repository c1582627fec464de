using System.Globalization;
using System.Text.Json;
using AutoMirror.Sensor.Tests.Support;
using AutoMirror.Testing;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// Sensor:Receive=auto (the default) as the sensor starts on an instance: no receive setting at all, the mirror
/// interface found by the namespace's default route (x0, as the ENI on a sensor instance), the real paths tried
/// in order against the real kernel. As an unprivileged user with the capabilities the installer grants for auto
/// (the base unit plus af-xdp.conf and packet-ring.conf) the packet ring receives; without CAP_BPF the kernel
/// refuses the ring's tcx program and AF_XDP's map, each refusal is logged and shown by /health, and the
/// sockets receive. Which path runs is read from /metrics and /health, and checked by which worker forwarded.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AutoReceiveTests : IDisposable
{
    private const int Unprivileged = 65534;
    private const string SystemdDefaultMemlock = "8388608";

    private readonly ITestOutputHelper _output;
    private readonly AfXdpVethPair _net;

    public AutoReceiveTests(ITestOutputHelper output)
    {
        _output = output;
        // No receive flag: what a deploy with the defaults runs. The decision's log line is the engine's.
        _net = Prerequisites.MissingNetns() is null ? new AfXdpVethPair(receiveQueues: 1) { ReceiveFlags = [], DecisionMarker = "Receive path: " } : null!;
    }

    public void Dispose() => _net?.Dispose();

    private static string Deploy(string file) => Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "deploy", file);

    /// <summary>What install.sh --receive auto gives the service: the base unit and both drop-ins.</summary>
    private static UnitCapabilities AutoUnit => UnitCapabilities.Read(Deploy("automirror-sensor.service"), Deploy("af-xdp.conf"), Deploy("packet-ring.conf"));

    [NetnsFact("ip", "tcpreplay", "curl", "setpriv", "prlimit", "dotnet")]
    public async Task Auto_WithTheInstallersCapabilities_ReceivesThroughThePacketRingOnTheDefaultRouteInterface() => await Diagnosed(async () =>
    {
        DefaultRouteViaX0();
        var caps = AutoUnit;
        StartUnprivileged(caps.Ambient, caps.Bounding);

        string log = await _net.WaitForXdpDecision();
        Assert.Contains("Receive path: packet-ring (Sensor:Receive=auto, interface x0; refused before it: -)", log, StringComparison.Ordinal);
        Assert.DoesNotContain("is not available", log, StringComparison.Ordinal);

        var inner = InnerFrames();
        _net.Send(inner);
        var metrics = await _net.MetricsAfterForwarding(inner.Count);

        Assert.Equal(1, metrics["automirror_sensor_receive_path{path=\"packet-ring\"}"]);
        Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, "rx-ring-"));
        Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
        var (code, health) = Health();
        Assert.Equal("200", code);
        Assert.Equal("packet-ring", health.GetProperty("receive_path").GetString());
        Assert.Equal(0, health.GetProperty("receive_fallbacks").GetArrayLength());
        Assert.Equal(0, await _net.StopSensor());
        Assert.Equal(inner.Select(Convert.ToHexString), _net.PcapFrames().Select(Convert.ToHexString));
    });

    [NetnsFact("ip", "tcpreplay", "curl", "setpriv", "prlimit", "dotnet")]
    public async Task Auto_WithoutCapBpf_FallsBackPastThePacketRingAndAfXdpToTheSockets_SayingWhyForEach() => await Diagnosed(async () =>
    {
        DefaultRouteViaX0();
        var caps = AutoUnit;
        StartUnprivileged(caps.Ambient.Where(c => c != "CAP_BPF").ToList(), caps.Bounding.Where(c => c != "CAP_BPF").ToList());

        string log = await _net.WaitForXdpDecision();
        Assert.Contains("Packet ring on x0 is not available (", log, StringComparison.Ordinal);
        Assert.Contains("): falling back to AF_XDP", log, StringComparison.Ordinal);
        Assert.Contains("AF_XDP on x0 is not available (", log, StringComparison.Ordinal);
        Assert.Contains("): falling back to the UDP sockets", log, StringComparison.Ordinal);
        Assert.Contains("Receive path: sockets (Sensor:Receive=auto, interface x0; refused before it: packet-ring: ", log, StringComparison.Ordinal);

        var inner = InnerFrames();
        _net.Send(inner);
        var metrics = await _net.MetricsAfterForwarding(inner.Count);

        Assert.Equal(1, metrics["automirror_sensor_receive_path{path=\"sockets\"}"]);
        Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
        Assert.Equal(0, metrics["automirror_sensor_packet_ring_workers"]);
        Assert.Equal(0, metrics["automirror_sensor_af_xdp_queues"]);
        // Nothing of the refused paths left on x0 to drop or redirect what the sockets receive.
        Assert.DoesNotContain("xdp", AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "ip", "-n", _net.Namespace, "link", "show", "x0").Output, StringComparison.Ordinal);
        var (code, health) = Health();
        Assert.Equal("200", code);
        Assert.Equal("sockets", health.GetProperty("receive_path").GetString());
        Assert.Equal(["packet-ring", "af-xdp"], health.GetProperty("receive_fallbacks").EnumerateArray().Select(f => f.GetProperty("path").GetString()));
        Assert.All(health.GetProperty("receive_fallbacks").EnumerateArray(), f => Assert.NotEmpty(f.GetProperty("reason").GetString()!));
        Assert.Equal(0, await _net.StopSensor());
        Assert.Equal(inner.Select(Convert.ToHexString), _net.PcapFrames().Select(Convert.ToHexString));
    });

    [NetnsFact("ip", "tcpreplay", "curl", "dotnet")]
    public async Task Auto_WithoutADefaultRoute_ReceivesOnTheSockets_SayingThereIsNoMirrorInterface() => await Diagnosed(async () =>
    {
        // Root, so only the missing interface can refuse the fast paths.
        _net.StartSensor([], tap: false);

        string log = await _net.WaitForXdpDecision();
        Assert.Contains("Packet ring on (none) is not available (no mirror interface: Sensor:ReceiveInterface is not set and there is no IPv4 default route)", log, StringComparison.Ordinal);
        Assert.Contains("Receive path: sockets (Sensor:Receive=auto, interface -;", log, StringComparison.Ordinal);

        var inner = InnerFrames();
        _net.Send(inner);
        var metrics = await _net.MetricsAfterForwarding(inner.Count);
        Assert.Equal(1, metrics["automirror_sensor_receive_path{path=\"sockets\"}"]);
        Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
        Assert.Equal(0, await _net.StopSensor());
    });

    private void DefaultRouteViaX0()
        => Assert.Equal(0, AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "ip", "-n", _net.Namespace, "route", "add", "default", "via", AfXdpVethPair.PeerAddress, "dev", "x0").ExitCode);

    private (string Code, JsonElement Body) Health()
    {
        var (_, text) = AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "ip", "netns", "exec", _net.Namespace, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", "127.0.0.1:18092/health");
        int split = text.TrimEnd().LastIndexOf('\n');
        using var json = JsonDocument.Parse(text[..split]);
        return (text.TrimEnd()[(split + 1)..], json.RootElement.Clone());
    }

    private void StartUnprivileged(IReadOnlyCollection<string> ambient, IReadOnlyCollection<string> bounding)
    {
        string Caps(IEnumerable<string> names) => string.Join(',', ["-all", .. names.Select(n => "+" + n["CAP_".Length..].ToLowerInvariant())]);
        string uid = Unprivileged.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "chown", uid + ":" + uid, _net.PcapDirectory).ExitCode);
        // systemd's default memlock limit, as the service has it; no TAP (root's /dev/net/tun), the pcap shows what is forwarded.
        _net.StartSensor(
        [
            "prlimit", "--memlock=" + SystemdDefaultMemlock + ":" + SystemdDefaultMemlock,
            "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--no-new-privs",
            "--inh-caps=" + Caps(ambient), "--ambient-caps=" + Caps(ambient), "--bounding-set=" + Caps(bounding),
        ],
        tap: false);
    }

    private static List<byte[]> InnerFrames()
    {
        int[] sizes = [60, 590, 1514, 4000, 8900];
        return Enumerable.Range(0, 20).Select(i => AfXdpJumboTests.InnerFrame(i, sizes[i % sizes.Length])).ToList();
    }

    private async Task Diagnosed(Func<Task> test)
    {
        try
        {
            await test();
        }
        catch
        {
            _output.WriteLine("sensor output:\n" + _net.Log);
            throw;
        }
    }
}
