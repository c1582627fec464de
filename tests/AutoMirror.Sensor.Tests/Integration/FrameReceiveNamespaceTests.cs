using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The real executable with AF_XDP, or the packet ring, on a veth in a network namespace of its own
/// (x0, 10.77.3.2), its peer (y0, 10.77.3.1) in a second one: a misspelt interface stops start-up
/// before anything is created; however the sensor ends (stopped or killed) the mirror interface is left
/// without its program, never redirecting (or dropping) mirrored traffic nobody reads; datagrams a local
/// kernel sends with the UDP checksum left to the device are forwarded as the socket path forwards them;
/// and what the kernel-side program leaves alone (fragments, IP options) still reaches the UDP sockets,
/// each datagram exactly once.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class FrameReceiveNamespaceTests : IDisposable
{
    private const string HealthPort = "18090";
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private readonly string _namespace = "amxn" + Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);
    private readonly string _peer;
    private readonly string _tap;
    private Process? _sensor;

    public FrameReceiveNamespaceTests()
    {
        _peer = "amxp" + _namespace[4..];
        _tap = "amtap" + _namespace[4..];
        if (Prerequisites.MissingNetns() is null && Prerequisites.MissingTools("ip", "dotnet") is null)
        {
            foreach (var ns in new[] { _namespace, _peer })
            {
                Ip("netns", "add", ns);
                Ip("-n", ns, "link", "set", "lo", "up");
            }

            // Jumbo MTU as on a mirror target: the program must accept multi-buffer packets for the attach to succeed.
            Ip("-n", _namespace, "link", "add", "x0", "mtu", "9000", "type", "veth", "peer", "name", "y0", "mtu", "9000", "netns", _peer);
            Ip("-n", _namespace, "addr", "add", "10.77.3.2/24", "dev", "x0");
            Ip("-n", _peer, "addr", "add", "10.77.3.1/24", "dev", "y0");
            Ip("-n", _namespace, "link", "set", "x0", "up");
            Ip("-n", _peer, "link", "set", "y0", "up");
        }
    }

    /// <summary>The receive paths that take whole frames off x0: AF_XDP and the packet ring.</summary>
    public static TheoryData<string> FramePaths => ["af-xdp", "packet-ring"];

    /// <summary>How each path is switched on, what it logs when on, its worker, and its setting.</summary>
    private static (string Flag, string On, string Worker, string Setting) FramePath(string path) => path == "af-xdp"
        ? ("--af-xdp", "AF_XDP on x0:", "rx-xdp-0", "Sensor:AfXdp:Interface")
        : ("--packet-ring", "Packet ring on x0:", "rx-ring-0", "Sensor:PacketRing:Interface");

    [NetnsTheory("ip", "dotnet")]
    [MemberData(nameof(FramePaths))]
    public async Task MissingInterface_StopsWithExitCode2NamingTheSetting_AndLeavesNoTap(string path)
    {
        // Tap:Persist is left at the deploy's default (true): a TAP created before the check would outlive the process.
        var (code, stdout, stderr) = await RunSensor(FramePath(path).Flag, "nosuch0");

        Assert.True(code == 2, "exit code " + code + "\n" + stderr + stdout);
        Assert.Contains(FramePath(path).Setting, stderr, StringComparison.Ordinal);
        Assert.Contains("nosuch0", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        var (tapShown, _) = Ip("-n", _namespace, "link", "show", _tap);
        Assert.True(tapShown != 0, "TAP " + _tap + " is still there after a start-up that failed on configuration");
    }

    [NetnsFact("ip", "dotnet")]
    public Task StoppedSensor_LeavesNoProgramOnTheInterface() => EndSensorAndCheckTheInterface(SigTerm, "Application started");

    /// <summary>
    /// SIGTERM the moment the program is attached, sent as the log line is read: it lands while the host
    /// is still starting (Kestrel binding the health port), which cancels the start. Still a clean stop,
    /// exit 0, program gone (the sensor aborted with 134, an unhandled TaskCanceledException, before).
    /// </summary>
    [NetnsFact("ip", "dotnet")]
    public Task SensorStoppedWhileStarting_ExitsCleanlyAndLeavesNoProgram() => EndSensorAndCheckTheInterface(SigTerm, "AF_XDP on x0:");

    [NetnsFact("ip", "dotnet")]
    public Task KilledSensor_LeavesNoProgramOnTheInterface() => EndSensorAndCheckTheInterface(SigKill, "Application started");

    /// <param name="signalOn">The log line on which the signal is sent, from the reader of the sensor's output (no delay).</param>
    private async Task EndSensorAndCheckTheInterface(int signal, string signalOn)
    {
        var stdout = new StringBuilder();
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool attachedBeforeSignal = false;
        _sensor = StartSensor(stdout, line =>
        {
            if (line.Contains(signalOn, StringComparison.Ordinal) && !signalled.Task.IsCompleted)
            {
                // Where the test can afford the look (the host has started), the program must be there before the signal.
                attachedBeforeSignal = signalOn == "AF_XDP on x0:" || LinkShow("x0").Contains("prog/xdp", StringComparison.Ordinal);
                kill(_sensor!.Id, signal);
                signalled.TrySetResult();
            }
        }, "--af-xdp", "x0", "--Sensor:Tap:Persist=false");
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await Task.WhenAny(signalled.Task, _sensor.WaitForExitAsync(timeout.Token));
        }

        Assert.True(signalled.Task.IsCompleted, "the sensor did not log '" + signalOn + "':\n" + Text(stdout));
        Assert.True(attachedBeforeSignal, "no XDP program on x0 while the sensor ran");
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _sensor.WaitForExitAsync(timeout.Token);
        }

        Assert.True(_sensor.ExitCode == (signal == SigTerm ? 0 : 128 + SigKill), "exit code " + _sensor.ExitCode + "\n" + Text(stdout));
        // The kernel releases the bpf_link when its last descriptor closes; allow it a moment after the exit.
        await WaitFor(() => !LinkShow("x0").Contains("xdp", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("xdp", LinkShow("x0"), StringComparison.Ordinal);
    }

    [NetnsTheory("ip", "dotnet", "curl")]
    [MemberData(nameof(FramePaths))]
    public async Task InterfaceDeleted_HealthTurns503SayingTheWorkerCannotReceive(string path)
    {
        // The kernel unbinds an AF_XDP socket whose interface is unregistered, and poll() does not say so:
        // without the worker asking for the socket's error, /health stayed 200 and the NLB kept sending.
        // A packet socket is told (ENETDOWN), for an interface going down as well as for one going away.
        var stdout = new StringBuilder();
        _sensor = await StartOn(path, stdout);
        await WaitFor(() => Health().Code == "200", TimeSpan.FromSeconds(10));
        Assert.Equal("200", Health().Code);

        Ip("-n", _namespace, "link", "del", "x0");
        await WaitFor(() => Health().Code == "503", TimeSpan.FromSeconds(10));
        var (code, body) = Health();
        Assert.Equal("503", code);
        Assert.Contains(FramePath(path).Worker + ": cannot receive: ", body, StringComparison.Ordinal);
        Assert.Contains("Network is down", body, StringComparison.Ordinal);
        Assert.False(_sensor.HasExited, "the sensor must stay up and say why it is unhealthy");
    }

    private (string Code, string Body) Health()
    {
        var (_, text) = Run("ip", "netns", "exec", _namespace, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", "127.0.0.1:" + HealthPort + "/health");
        int split = text.TrimEnd().LastIndexOf('\n');
        return split < 0 ? (text.Trim(), string.Empty) : (text.TrimEnd()[(split + 1)..], text[..split]);
    }

    [NetnsTheory("ip", "dotnet", "curl", "python3")]
    [MemberData(nameof(FramePaths))]
    public async Task DatagramsFromALocalKernel_WithTheChecksumLeftToTheDevice_AreForwarded(string path)
    {
        // A UDP socket on a veth leaves the checksum unfinished (CHECKSUM_PARTIAL): the kernel accepts it, the
        // AF_XDP and packet-ring paths must too. One datagram with a really wrong checksum must still be refused.
        const int Datagrams = 6;
        var stdout = new StringBuilder();
        _sensor = await StartOn(path, stdout);

        // VXLAN (flags 0x08, VNI 4242) around Ethernet frames, from a plain kernel socket: half of them
        // jumbo (several AF_XDP descriptors, the checksum still unfinished over the whole datagram).
        const string Send = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(int(sys.argv[1])):
                frame = bytes.fromhex("ffffffffffff0200000000010800") + bytes(46 if i % 2 == 0 else 7986)
                s.sendto(bytes([8, 0, 0, 0, 0, 0x10, 0x92, 0]) + frame, ("10.77.3.2", 4789))
            """;
        Assert.Equal(0, Run("ip", "netns", "exec", _peer, "python3", "-c", Send, Datagrams.ToString(CultureInfo.InvariantCulture)).ExitCode);
        const string Corrupt = """
            import sys
            from scapy.all import Ether, IP, UDP, Raw, sendp
            frame = bytearray(bytes(Ether(dst=sys.argv[1]) / IP(src="10.77.3.1", dst="10.77.3.2")
                                    / UDP(sport=40000, dport=4789) / Raw(bytes([8, 0, 0, 0, 0, 0x10, 0x92, 0]) + bytes(60))))
            frame[14 + 20 + 6] ^= 0x40  # the UDP checksum, computed by scapy, made wrong
            sendp(bytes(frame), iface="y0", verbose=False)
            """;
        string x0Mac = LinkShow("x0").Split("link/ether ")[1].Split(' ')[0];
        var corrupt = Run("ip", "netns", "exec", _peer, "/usr/bin/python3", "-c", Corrupt, x0Mac);
        Assert.True(corrupt.ExitCode == 0, corrupt.Output);

        Dictionary<string, long> metrics = [];
        await WaitFor(() => (metrics = Metrics()).GetValueOrDefault("automirror_sensor_datagrams_total") >= Datagrams + 1, TimeSpan.FromSeconds(10));
        Assert.Equal(Datagrams + 1, metrics["automirror_sensor_datagrams_total"]);
        Assert.Equal(Datagrams, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"" + FramePath(path).Worker + "\"}"]);
        Assert.Equal(Datagrams, metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(1, metrics["automirror_sensor_decap_errors_total{reason=\"outer_checksum\"}"]);
    }

    [NetnsTheory("ip", "dotnet", "curl", "python3")]
    [MemberData(nameof(FramePaths))]
    public async Task DatagramsTheProgramPasses_FragmentsAndIpOptions_StillReachTheUdpSockets(string path)
    {
        var stdout = new StringBuilder();
        _sensor = await StartOn(path, stdout);

        // Two plain VXLAN datagrams (a small and a jumbo one) for the AF_XDP socket or the ring; for the kernel:
        // one with IP options (NOPs) and one 3000-byte datagram in three fragments, which the kernel reassembles.
        // Each must be forwarded once: by the ring and by the sockets would be twice, by neither not at all.
        const string Send = """
            import sys
            from scapy.all import Ether, IP, IPOption_NOP, IPOption_EOL, UDP, Raw, fragment, sendp
            def vxlan(size, **ip):
                inner = bytes.fromhex("ffffffffffff0200000000010800") + bytes(size - 14)
                return IP(src="10.77.3.1", dst="10.77.3.2", **ip) / UDP(sport=40000, dport=4789) / Raw(bytes([8, 0, 0, 0, 0, 0x10, 0x92, 0]) + inner)
            packets = [vxlan(60), vxlan(8000), vxlan(60, options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()])]
            packets += fragment(vxlan(3000), fragsize=1400)
            sendp([Ether(dst=sys.argv[1]) / p for p in packets], iface="y0", verbose=False)
            """;
        string x0Mac = LinkShow("x0").Split("link/ether ")[1].Split(' ')[0];
        var sent = Run("ip", "netns", "exec", _peer, "/usr/bin/python3", "-c", Send, x0Mac);
        Assert.True(sent.ExitCode == 0, sent.Output);

        Dictionary<string, long> metrics = [];
        await WaitFor(() => (metrics = Metrics()).GetValueOrDefault("automirror_sensor_frames_forwarded_total") >= 4, TimeSpan.FromSeconds(10));
        Assert.Equal(4, metrics["automirror_sensor_frames_forwarded_total"]);
        await Task.Delay(300);
        metrics = Metrics();
        Assert.Equal(4, metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(2, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"" + FramePath(path).Worker + "\"}"]);
        Assert.Equal(2, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"rx-4789-0\"}"]);
        Assert.Equal(4, metrics["automirror_sensor_datagrams_total"]);
    }

    /// <summary>
    /// The packet ring takes only what is addressed to this host: VXLAN in a frame for another MAC address
    /// (a promiscuous interface, a switch flooding) is neither copied nor dropped, and the stack discards it
    /// as it would without the sensor.
    /// </summary>
    [NetnsFact("ip", "dotnet", "curl", "python3")]
    public async Task PacketRing_LeavesFramesForAnotherHostAlone()
    {
        var stdout = new StringBuilder();
        _sensor = await StartOn("packet-ring", stdout);
        const string Send = """
            import sys
            from scapy.all import Ether, IP, UDP, Raw, sendp
            def vxlan(dst):
                inner = bytes.fromhex("ffffffffffff0200000000010800") + bytes(46)
                return Ether(dst=dst) / IP(src="10.77.3.1", dst="10.77.3.2") / UDP(sport=40000, dport=4789) / Raw(bytes([8, 0, 0, 0, 0, 0x10, 0x92, 0]) + inner)
            sendp([vxlan("02:99:99:99:99:99"), vxlan(sys.argv[1]), vxlan("02:99:99:99:99:98")], iface="y0", verbose=False)
            """;
        string x0Mac = LinkShow("x0").Split("link/ether ")[1].Split(' ')[0];
        var sent = Run("ip", "netns", "exec", _peer, "/usr/bin/python3", "-c", Send, x0Mac);
        Assert.True(sent.ExitCode == 0, sent.Output);

        Dictionary<string, long> metrics = [];
        await WaitFor(() => (metrics = Metrics()).GetValueOrDefault("automirror_sensor_frames_forwarded_total") >= 1, TimeSpan.FromSeconds(10));
        await Task.Delay(300);
        metrics = Metrics();
        Assert.Equal(1, metrics["automirror_sensor_datagrams_total"]);
        Assert.Equal(1, metrics["automirror_sensor_worker_frames_forwarded_total{worker=\"rx-ring-0\"}"]);
    }

    /// <summary>
    /// The packet ring's tcx drop goes with the sensor, however it ends: afterwards a UDP socket on the
    /// VXLAN port receives what the peer sends (with the drop left behind it would get nothing, and nor
    /// would a sensor started later on the socket path).
    /// </summary>
    [NetnsTheory("ip", "dotnet", "curl", "python3")]
    [InlineData(SigTerm)]
    [InlineData(SigKill)]
    public async Task PacketRing_SensorGone_DatagramsReachTheStackAgain(int signal)
    {
        var stdout = new StringBuilder();
        _sensor = await StartOn("packet-ring", stdout);
        kill(_sensor.Id, signal);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _sensor.WaitForExitAsync(timeout.Token);
        }

        const string Listen = """
            import socket, sys, time
            r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            r.bind(("10.77.3.2", 4789))
            r.settimeout(0.2)
            got = 0
            deadline = time.time() + 5
            while got == 0 and time.time() < deadline:
                print("ready", flush=True)
                try:
                    r.recv(2048)
                    got += 1
                except socket.timeout:
                    pass
            print("received", got, flush=True)
            """;
        const string Send = """
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(20):
                s.sendto(bytes([8, 0, 0, 0, 0, 0x10, 0x92, 0]) + bytes(60), ("10.77.3.2", 4789))
                time.sleep(0.1)
            """;
        var listener = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", _namespace, "python3", "-c", Listen]) { RedirectStandardOutput = true })!;
        await listener.StandardOutput.ReadLineAsync();
        Run("ip", "netns", "exec", _peer, "python3", "-c", Send);
        string output = await listener.StandardOutput.ReadToEndAsync();
        await listener.WaitForExitAsync();
        Assert.Contains("received 1", output, StringComparison.Ordinal);
    }

    private async Task<Process> StartOn(string path, StringBuilder stdout)
    {
        var (flag, on, _, _) = FramePath(path);
        var process = StartSensor(stdout, flag, "x0", "--Sensor:Tap:Persist=false", "--source-networks", "10.77.3.0/24", "--workers", "1");
        await WaitFor(() => Contains(stdout, on) || process.HasExited, TimeSpan.FromSeconds(60));
        Assert.True(Contains(stdout, on), "the sensor did not report '" + on + "':\n" + Text(stdout));
        await WaitFor(() => Health().Code == "200", TimeSpan.FromSeconds(20));
        return process;
    }

    public void Dispose()
    {
        if (_sensor is { HasExited: false })
        {
            _sensor.Kill();
            _sensor.WaitForExit(10_000);
        }

        _sensor?.Dispose();
        if (Prerequisites.MissingNetns() is null && Prerequisites.MissingTools("ip") is null)
        {
            Ip("netns", "del", _namespace);
            Ip("netns", "del", _peer);
        }
    }

    /// <summary>The sensor in the test's namespace; ip netns exec execs it, so the process started is the sensor itself and signals reach it.</summary>
    private ProcessStartInfo SensorCommand(string[] flags)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = ["netns", "exec", _namespace, "dotnet", Path.Combine(AppContext.BaseDirectory, "AutoMirror.Sensor.dll"),
            "--tap", _tap, "--health-port", HealthPort, .. flags];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private Process StartSensor(StringBuilder stdout, params string[] flags) => StartSensor(stdout, _ => { }, flags);

    private Process StartSensor(StringBuilder stdout, Action<string> onLine, params string[] flags)
    {
        var process = Process.Start(SensorCommand(flags))!;
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.AppendLine(e.Data);
            }

            if (e.Data is not null)
            {
                onLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => { lock (stdout) { stdout.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunSensor(params string[] flags)
    {
        _sensor = Process.Start(SensorCommand(flags))!;
        var stdout = _sensor.StandardOutput.ReadToEndAsync();
        var stderr = _sensor.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _sensor.WaitForExitAsync(timeout.Token);
        return (_sensor.ExitCode, await stdout, await stderr);
    }

    private Dictionary<string, long> Metrics()
    {
        var (code, text) = Run("ip", "netns", "exec", _namespace, "curl", "-s", "127.0.0.1:" + HealthPort + "/metrics");
        return code != 0 ? [] : text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
    }

    private string LinkShow(string device)
    {
        var (code, text) = Ip("-d", "-n", _namespace, "link", "show", device);
        Assert.True(code == 0, "ip link show " + device + ": " + text);
        return text;
    }

    private static (int ExitCode, string Output) Ip(params string[] args) => Run("ip", args);

    private static (int ExitCode, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        // These commands say little: reading one stream after the other cannot fill the other's pipe.
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private static bool Contains(StringBuilder text, string value) => Text(text).Contains(value, StringComparison.Ordinal);

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private static async Task WaitFor(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }
}
