using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The sensor's own network namespace with the mirror interface x0 (10.77.6.2), and a peer namespace
/// on the other end of the veth (y0, 10.77.6.1) that sends mirrored VXLAN with tcpreplay, so the
/// datagrams arrive on x0 as they come off a NIC: the XDP program sees them, and what it passes reaches
/// the sensor's UDP sockets. The sensor writes the pcap output, and the TAP only when asked (/dev/net/tun
/// is root's alone on some machines: the unprivileged runs must not need it). Both namespaces are
/// deleted on Dispose.
/// </summary>
internal sealed class AfXdpVethPair : IDisposable
{
    public const string SensorAddress = "10.77.6.2";
    public const string PeerAddress = "10.77.6.1";
    public const string SourceNetwork = "10.77.6.0/24";
    public const uint Vni = 4343;
    private const string SensorMac = "02:77:06:00:00:02";
    private const string PeerMac = "02:77:06:00:00:01";
    private const string HealthPort = "18092";

    private readonly StringBuilder _log = new();
    private Process? _sensor;
    private Process? _tcpdump;

    /// <param name="receiveQueues">x0's receive queues: one AF_XDP socket (and its pinned frames) each.</param>
    /// <param name="peerTransmitQueues">y0's transmit queues: veth delivers what y0 sends on its queue N to x0's receive queue N.</param>
    public AfXdpVethPair(int receiveQueues, int mtu = 9000, int peerTransmitQueues = 1)
    {
        string id = Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);
        Namespace = "amxs" + id;
        Peer = "amxq" + id;
        Tap = "amtap" + id;
        Work = Directory.CreateTempSubdirectory("automirror-xdp-").FullName;
        try
        {
            // The sensor may run as another user: it must reach the pcap directory, which it alone writes.
            Must("chmod", "755", Work);
            Directory.CreateDirectory(PcapDirectory);
            foreach (var ns in new[] { Namespace, Peer })
            {
                Must("ip", "netns", "add", ns);
                Must("ip", "-n", ns, "link", "set", "lo", "up");
            }

            string m = mtu.ToString(CultureInfo.InvariantCulture);
            // Both queue counts on both ends: given only y0's numtxqueues, veth left y0 one real transmit queue.
            Must("ip", "-n", Namespace, "link", "add", "x0", "address", SensorMac, "mtu", m,
                "numrxqueues", receiveQueues.ToString(CultureInfo.InvariantCulture), "numtxqueues", "1",
                "type", "veth", "peer", "name", "y0", "address", PeerMac, "mtu", m,
                "numtxqueues", peerTransmitQueues.ToString(CultureInfo.InvariantCulture), "numrxqueues", "1", "netns", Peer);
            Must("ip", "-n", Namespace, "addr", "add", SensorAddress + "/24", "dev", "x0");
            Must("ip", "-n", Peer, "addr", "add", PeerAddress + "/24", "dev", "y0");
            Must("ip", "-n", Namespace, "link", "set", "x0", "up");
            Must("ip", "-n", Peer, "link", "set", "y0", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Namespace { get; }

    /// <summary>Sets the MTU of both ends (before the sensor starts: the program is attached for the MTU it finds).</summary>
    public void SetMtu(int mtu)
    {
        Must("ip", "-n", Namespace, "link", "set", "x0", "mtu", mtu.ToString(CultureInfo.InvariantCulture));
        Must("ip", "-n", Peer, "link", "set", "y0", "mtu", mtu.ToString(CultureInfo.InvariantCulture));
    }

    public string Peer { get; }

    public string Work { get; }

    /// <summary>The TAP the sensor writes to when started with one.</summary>
    public string Tap { get; }

    public string PcapDirectory => Path.Combine(Work, "pcap");

    /// <summary>What the sensor wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>How the sensor receives on x0 (AF_XDP unless set), and the log line that says it decided.</summary>
    public string[] ReceiveFlags { get; init; } = ["--af-xdp", "x0"];

    public string DecisionMarker { get; init; } = "AF_XDP on x0";

    public int SensorProcessId => _sensor?.Id ?? throw new InvalidOperationException("the sensor is not started");

    /// <summary>
    /// Starts the sensor on x0 with AF_XDP; <paramref name="launcher"/> (setpriv, prlimit …) runs inside
    /// the namespace and execs the next word, so the process started is the sensor itself. It writes the
    /// pcap output and, with <paramref name="tap"/>, the TAP too (needs root: /dev/net/tun).
    /// </summary>
    public void StartSensor(IEnumerable<string> launcher, bool tap, params string[] flags)
    {
        string[] tapFlags = tap ? ["--tap", Tap, "--Sensor:Tap:Persist=false"] : ["--Sensor:Tap:Enabled=false"];
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args =
        [
            "netns", "exec", Namespace, .. launcher,
            // An unprivileged user has no home the runtime could write to.
            "env", "HOME=/tmp", "dotnet", Path.Combine(AppContext.BaseDirectory, "AutoMirror.Sensor.dll"),
            .. ReceiveFlags, "--health-port", HealthPort, "--source-networks", SourceNetwork,
            .. tapFlags, "--Sensor:Pcap:Enabled=true", "--Sensor:Pcap:Directory=" + PcapDirectory,
            // One socket worker: the frames the sockets forward stay in order too.
            "--workers", "1", .. flags,
        ];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        _sensor = Process.Start(start)!;
        _sensor.OutputDataReceived += (_, e) => Append(e.Data);
        _sensor.ErrorDataReceived += (_, e) => Append(e.Data);
        _sensor.BeginOutputReadLine();
        _sensor.BeginErrorReadLine();
    }

    /// <summary>Waits (bounded) until the sensor says how it receives on x0: AF_XDP on, or not available.</summary>
    public async Task<string> WaitForXdpDecision()
    {
        await WaitFor(() => Log.Contains(DecisionMarker, StringComparison.Ordinal) || _sensor!.HasExited, TimeSpan.FromSeconds(60));
        // The health endpoint listens right after the engine started; metrics are read from it.
        await WaitFor(() => Health() != "000" || _sensor!.HasExited, TimeSpan.FromSeconds(20));
        return Log;
    }

    /// <summary>
    /// Sends each inner frame, in order, wrapped in VXLAN from the peer (one outer datagram per frame):
    /// paced by default (the test is about what arrives), or as fast as tcpreplay can (<paramref name="burst"/>),
    /// so the kernel queues many datagrams before the worker looks and its batches are full.
    /// </summary>
    public void Send(IReadOnlyList<byte[]> innerFrames, bool burst = false)
        => SendFrames(innerFrames.Select((f, i) => OuterFrame(f, (ushort)(49152 + (i % 4096)))).ToList(), burst);

    /// <summary>Sends Ethernet frames from y0 as they are (to x0's address: see <see cref="OuterFrame"/>).</summary>
    public void SendFrames(IReadOnlyList<byte[]> frames, bool burst = false)
    {
        string file = Path.Combine(Work, "sent.pcap");
        using (var pcap = File.Create(file))
        {
            Span<byte> header = stackalloc byte[24];
            Span<byte> record = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
            BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
            BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
            pcap.Write(header);
            for (int i = 0; i < frames.Count; i++)
            {
                var frame = frames[i];
                BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)i);
                BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
                pcap.Write(record);
                pcap.Write(frame);
            }
        }

        var (code, text) = Run(TimeSpan.FromSeconds(60), "ip", "netns", "exec", Peer, "tcpreplay", "-q", "-i", "y0", burst ? "--topspeed" : "--pps=500", file);
        Assert.True(code == 0, "tcpreplay failed: " + text);
    }

    /// <summary>Ethernet/IPv4/UDP to 4789/VXLAN around <paramref name="inner"/>, with the UDP checksum a NIC would have filled in.</summary>
    public static byte[] OuterFrame(byte[] inner, ushort sourcePort)
        => Ethernet(Packets.Ipv4(PeerAddress, SensorAddress, 17, VxlanDatagram(inner, sourcePort)));

    /// <summary>The UDP datagram (header and VXLAN payload) carrying <paramref name="inner"/> from the peer to x0, checksum filled in.</summary>
    public static byte[] VxlanDatagram(byte[] inner, ushort sourcePort)
    {
        var udp = Packets.Udp(sourcePort, 4789, Packets.Vxlan(Vni, inner));
        uint pseudo = InternetChecksum.UdpPseudoHeader(IPAddress.Parse(PeerAddress).GetAddressBytes(), IPAddress.Parse(SensorAddress).GetAddressBytes(), udp.Length);
        ushort sum = InternetChecksum.Of(udp, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), sum == 0 ? (ushort)0xFFFF : sum);
        return udp;
    }

    /// <summary>An IP packet from y0 to x0 in its Ethernet frame.</summary>
    public static byte[] Ethernet(byte[] ipPacket) => Packets.Ethernet(SensorMac, PeerMac, 0x0800, ipPacket);

    /// <summary>The /metrics samples once <paramref name="forwarded"/> frames are counted (or the wait ran out), after a moment for stragglers.</summary>
    public async Task<Dictionary<string, long>> MetricsAfterForwarding(long forwarded)
    {
        await WaitFor(() => Metrics().GetValueOrDefault("automirror_sensor_frames_forwarded_total") >= forwarded, TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        return Metrics();
    }

    public Dictionary<string, long> Metrics()
    {
        var (code, text) = Run(TimeSpan.FromSeconds(10), "ip", "netns", "exec", Namespace, "curl", "-s", "-m", "5", "127.0.0.1:" + HealthPort + "/metrics");
        return code != 0 ? [] : text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
    }

    /// <summary>GET /health's status code ("000": nothing answered).</summary>
    public string Health()
        => Run(TimeSpan.FromSeconds(10), "ip", "netns", "exec", Namespace, "curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
            "127.0.0.1:" + HealthPort + "/health").Output.Trim();

    /// <summary>Frames forwarded by the workers whose label starts with <paramref name="labelPrefix"/> (rx-xdp-, rx-4789-).</summary>
    public static long ForwardedBy(Dictionary<string, long> metrics, string labelPrefix)
        => metrics.Where(m => m.Key.StartsWith("automirror_sensor_worker_frames_forwarded_total{worker=\"" + labelPrefix, StringComparison.Ordinal)).Sum(m => m.Value);

    /// <summary>Stops the sensor as systemd does (SIGTERM) and returns its exit code; the pcap is flushed and closed then.</summary>
    public async Task<int> StopSensor()
    {
        using (Process.Start("kill", ["-TERM", SensorProcessId.ToString(CultureInfo.InvariantCulture)])) { }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _sensor!.WaitForExitAsync(timeout.Token);
        return _sensor.ExitCode;
    }

    /// <summary>Starts tcpdump on the sensor's TAP; returns once it listens.</summary>
    public async Task StartTapCapture()
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "netns", "exec", Namespace, "tcpdump", "-i", Tap, "--immediate-mode", "-B", "65536", "-U", "-s", "0", "-w", Path.Combine(Work, "tap.pcap") })
        {
            start.ArgumentList.Add(arg);
        }

        var listening = new TaskCompletionSource();
        _tcpdump = Process.Start(start)!;
        _tcpdump.ErrorDataReceived += (_, e) =>
        {
            Append("tcpdump: " + e.Data);
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        _tcpdump.BeginErrorReadLine();
        _tcpdump.BeginOutputReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Stops tcpdump and returns the frames it took off the TAP. It reads every packet as it comes
    /// (--immediate-mode: otherwise packets wait up to a second in the capture buffer, and are lost when
    /// tcpdump stops) and writes it at once (-U); its 64 MiB buffer (-B) holds a burst of jumbo frames
    /// while this busy machine has not scheduled it (the default 2 MiB lost some). A capture that still
    /// lost frames fails here, not as a sensor that lost them.
    /// </summary>
    public async Task<List<byte[]>> StopTapCapture()
    {
        using (Process.Start("kill", ["-TERM", _tcpdump!.Id.ToString(CultureInfo.InvariantCulture)])) { }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _tcpdump.WaitForExitAsync(timeout.Token);
        Assert.True(Log.Contains("tcpdump: 0 packets dropped by kernel", StringComparison.Ordinal), "tcpdump lost frames on the TAP:\n" + Log);
        var (linkType, records) = PcapFile.Read(Path.Combine(Work, "tap.pcap"));
        Assert.Equal(1, linkType);
        return records.Select(r => r.Data).ToList();
    }

    /// <summary>A counter of the TAP's kernel side (rx_packets: frames the sensor wrote that the kernel took; rx_dropped).</summary>
    public long TapStatistic(string name)
    {
        var (code, text) = Run(TimeSpan.FromSeconds(10), "ip", "netns", "exec", Namespace, "cat", "/sys/class/net/" + Tap + "/statistics/" + name);
        Assert.True(code == 0, text);
        return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>Every frame in the sensor's pcap files, oldest file first.</summary>
    public List<byte[]> PcapFrames()
    {
        var frames = new List<byte[]>();
        foreach (var file in Directory.GetFiles(PcapDirectory, "*.pcap").Order(StringComparer.Ordinal))
        {
            var (linkType, records) = PcapFile.Read(file);
            Assert.Equal(1, linkType);
            frames.AddRange(records.Select(r => r.Data));
        }

        return frames;
    }

    public void Dispose()
    {
        if (_tcpdump is { HasExited: false })
        {
            _tcpdump.Kill();
            _tcpdump.WaitForExit(10_000);
        }

        _tcpdump?.Dispose();
        if (_sensor is { HasExited: false })
        {
            _sensor.Kill();
            _sensor.WaitForExit(10_000);
        }

        _sensor?.Dispose();
        // Deleting the namespace deletes the veth pair with it.
        Run(TimeSpan.FromSeconds(20), "ip", "netns", "del", Namespace);
        Run(TimeSpan.FromSeconds(20), "ip", "netns", "del", Peer);
        if (Directory.Exists(Work))
        {
            Directory.Delete(Work, recursive: true);
        }
    }

    private void Append(string? line)
    {
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static void Must(string program, params string[] args)
    {
        var (code, text) = Run(TimeSpan.FromSeconds(20), program, args);
        if (code != 0)
        {
            throw new InvalidOperationException(program + " " + string.Join(' ', args) + " failed (" + code + "): " + text);
        }
    }

    internal static (int ExitCode, string Output) Run(TimeSpan limit, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, program + " timed out after " + limit);
        }

        return (process.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
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

/// <summary>A theory that needs root, namespaces and the listed tools; skips saying what is missing.</summary>
public sealed class NetnsTheoryAttribute : TheoryAttribute
{
    public NetnsTheoryAttribute(params string[] tools)
    {
        Skip = Prerequisites.MissingNetns() ?? Prerequisites.MissingTools(tools);
    }
}
