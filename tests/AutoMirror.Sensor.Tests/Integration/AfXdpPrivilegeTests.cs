using System.Globalization;
using AutoMirror.Sensor.Tests.Support;
using AutoMirror.Testing;
using Xunit.Abstractions;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The capabilities the systemd units grant, read from the files in src/AutoMirror.Sensor/deploy/, given
/// to the sensor running as an unprivileged user (as DynamicUser=yes runs it) with setpriv: the base unit
/// plus the af-xdp.conf drop-in must be enough for AF_XDP, every capability the drop-in adds must be
/// needed, and the base unit alone must leave a working sensor on its UDP sockets. systemd's default
/// LimitMEMLOCK (8 MiB) applies, and x0 has four receive queues, as a multi-queue NIC: their frames
/// (4 x Sensor:AfXdp:Frames x 4 KiB) are more than that limit allows an unprivileged user to pin.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpPrivilegeTests(ITestOutputHelper output)
    : FramePathPrivilegeTests(output, "af-xdp.conf", () => new AfXdpVethPair(Queues), "AF_XDP on x0: " + Queues + " receive queues, native XDP", "AF_XDP on x0 is not available (", "automirror_sensor_af_xdp_queues", Queues, "rx-xdp-")
{
    private const int Queues = 4;

    public static TheoryData<string> CapabilitiesTheDropInAdds() => AddedBy("af-xdp.conf");

    /// <summary>
    /// Least privilege: without any one of them AF_XDP is not available. The first fact is the control (with
    /// all of them it is), so the fallback here is that capability's doing; the warning names the step that
    /// failed (CAP_NET_RAW: socket(AF_XDP); CAP_BPF: the map; CAP_IPC_LOCK: XDP_UMEM_REG over the memlock limit).
    /// </summary>
    [NetnsTheory("ip", "curl", "setpriv", "prlimit", "dotnet")]
    [MemberData(nameof(CapabilitiesTheDropInAdds))]
    public Task EachCapabilityTheDropInAdds_IsNeeded(string capability) => WithoutCapability_FallsBack(capability);
}

/// <summary>
/// The same for the packet ring and packet-ring.conf: CAP_NET_RAW for the packet socket, CAP_BPF (with the
/// base unit's CAP_NET_ADMIN) for the tcx program; no CAP_IPC_LOCK, as the ring's memory is the kernel's
/// (the 8 MiB memlock limit applies here too, and the ring is 8 MiB).
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class PacketRingPrivilegeTests(ITestOutputHelper output)
    : FramePathPrivilegeTests(output, "packet-ring.conf", () => new AfXdpVethPair(receiveQueues: 1) { ReceiveFlags = ["--packet-ring", "x0"], DecisionMarker = "Packet ring on x0" },
        "Packet ring on x0: ", "Packet ring on x0 is not available (", "automirror_sensor_packet_ring_workers", 1, "rx-ring-")
{
    public static TheoryData<string> CapabilitiesTheDropInAdds() => AddedBy("packet-ring.conf");

    [NetnsTheory("ip", "curl", "setpriv", "prlimit", "dotnet")]
    [MemberData(nameof(CapabilitiesTheDropInAdds))]
    public Task EachCapabilityTheDropInAdds_IsNeeded(string capability) => WithoutCapability_FallsBack(capability);
}

/// <summary>What the drop-in of a frame receive path (AF_XDP, the packet ring) must grant, and no more.</summary>
/// <param name="receiving">The log line's start when the path is on; <paramref name="unavailable"/> when it fell back.</param>
/// <param name="gauge">The metric that says the path is on, and its value then.</param>
public abstract class FramePathPrivilegeTests : IDisposable
{
    private const int Datagrams = 24;
    private const int Unprivileged = 65534;
    private const string SystemdDefaultMemlock = "8388608";

    private readonly ITestOutputHelper _output;
    private readonly string _dropIn;
    private readonly AfXdpVethPair _net;
    private readonly string _receiving;
    private readonly string _unavailable;
    private readonly string _gauge;
    private readonly long _gaugeOn;
    private readonly string _worker;

    private protected FramePathPrivilegeTests(ITestOutputHelper output, string dropIn, Func<AfXdpVethPair> net, string receiving, string unavailable, string gauge, long gaugeOn, string worker)
    {
        _output = output;
        _dropIn = dropIn;
        _net = Prerequisites.MissingNetns() is null ? net() : null!;
        _receiving = receiving;
        _unavailable = unavailable;
        _gauge = gauge;
        _gaugeOn = gaugeOn;
        _worker = worker;
    }

    private static string Deploy(string file) => Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.Sensor", "deploy", file);

    /// <summary>What the service holds with the drop-in installed: systemd adds the drop-in's lists to the unit's.</summary>
    private UnitCapabilities WithDropIn => UnitCapabilities.Read(Deploy("automirror-sensor.service"), Deploy(_dropIn));

    private static UnitCapabilities BaseUnit => UnitCapabilities.Read(Deploy("automirror-sensor.service"));

    [NetnsFact("ip", "tcpreplay", "curl", "setpriv", "prlimit", "dotnet")]
    public async Task DropInCapabilities_Unprivileged_ReceiveThroughThePath() => await Diagnosed(async () =>
    {
        var caps = WithDropIn;
        Assert.NotEmpty(caps.Ambient);
        StartUnprivileged(caps.Ambient, caps.Bounding);

        string log = await _net.WaitForXdpDecision();
        AssertRunsAs(caps.Ambient, caps.Bounding);
        Assert.Contains(_receiving, log, StringComparison.Ordinal);
        Assert.DoesNotContain("is not available", log, StringComparison.Ordinal);

        var inner = InnerFrames();
        _net.Send(inner);
        var metrics = await _net.MetricsAfterForwarding(inner.Count);

        Assert.Equal(_gaugeOn, metrics[_gauge]);
        Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, _worker));
        Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
        Assert.Equal("200", _net.Health());
        Assert.Equal(0, await _net.StopSensor());
        Assert.Equal(inner.Select(Convert.ToHexString), _net.PcapFrames().Select(Convert.ToHexString));
    });

    [NetnsFact("ip", "tcpreplay", "curl", "setpriv", "prlimit", "dotnet")]
    public async Task BaseUnitCapabilities_Unprivileged_FallBackToTheUdpSocketsAndStayHealthy() => await Diagnosed(async () =>
    {
        var caps = BaseUnit;
        StartUnprivileged(caps.Ambient, caps.Bounding);

        string log = await _net.WaitForXdpDecision();
        AssertRunsAs(caps.Ambient, caps.Bounding);
        Assert.Contains(_unavailable, log, StringComparison.Ordinal);
        Assert.Equal("200", _net.Health());

        var inner = InnerFrames();
        _net.Send(inner);
        var metrics = await _net.MetricsAfterForwarding(inner.Count);

        Assert.Equal(0, metrics[_gauge]);
        Assert.Equal(inner.Count, metrics["automirror_sensor_frames_forwarded_total"]);
        Assert.Equal(inner.Count, AfXdpVethPair.ForwardedBy(metrics, "rx-4789-"));
        Assert.Equal(0, AfXdpVethPair.ForwardedBy(metrics, _worker));
        // Nothing left on x0 that redirects or drops the datagrams the sockets now receive.
        Assert.DoesNotContain("xdp", AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "ip", "-n", _net.Namespace, "link", "show", "x0").Output, StringComparison.Ordinal);
        Assert.Equal("200", _net.Health());
        Assert.Equal(0, await _net.StopSensor());
        Assert.Equal(inner.Select(Convert.ToHexString), _net.PcapFrames().Select(Convert.ToHexString));
    });

    public void Dispose() => _net?.Dispose();

    /// <summary>The capabilities the drop-in adds to the base unit: each must be needed.</summary>
    protected static TheoryData<string> AddedBy(string dropIn)
    {
        var data = new TheoryData<string>();
        foreach (var cap in UnitCapabilities.Read(Deploy("automirror-sensor.service"), Deploy(dropIn)).Ambient.Except(BaseUnit.Ambient))
        {
            data.Add(cap);
        }

        return data;
    }

    /// <summary>
    /// Least privilege: without the capability the path is not available. The first fact is the control
    /// (with all of them it is), so the fallback here is that capability's doing.
    /// </summary>
    protected Task WithoutCapability_FallsBack(string capability) => Diagnosed(async () =>
    {
        var caps = WithDropIn;
        var ambient = caps.Ambient.Where(c => c != capability).ToList();
        var bounding = caps.Bounding.Where(c => c != capability).ToList();
        StartUnprivileged(ambient, bounding);

        string log = await _net.WaitForXdpDecision();
        AssertRunsAs(ambient, bounding);
        Assert.True(log.Contains(_unavailable, StringComparison.Ordinal),
            "the path worked without " + capability + ": the drop-in grants more than it needs");
        Assert.Equal("200", _net.Health());
    });

    private void StartUnprivileged(IReadOnlyCollection<string> ambient, IReadOnlyCollection<string> bounding)
    {
        string Caps(IEnumerable<string> names) => string.Join(',', ["-all", .. names.Select(n => "+" + n["CAP_".Length..].ToLowerInvariant())]);
        string uid = Unprivileged.ToString(CultureInfo.InvariantCulture);
        // The pcap directory is the sensor's, as StateDirectory= would make it.
        Assert.Equal(0, AfXdpVethPair.Run(TimeSpan.FromSeconds(10), "chown", uid + ":" + uid, _net.PcapDirectory).ExitCode);
        // No TAP: it needs /dev/net/tun, which is root's alone on some machines; the pcap output shows what is forwarded.
        _net.StartSensor(
        [
            "prlimit", "--memlock=" + SystemdDefaultMemlock + ":" + SystemdDefaultMemlock,
            "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--no-new-privs",
            "--inh-caps=" + Caps(ambient), "--ambient-caps=" + Caps(ambient), "--bounding-set=" + Caps(bounding),
        ],
        tap: false);
    }

    /// <summary>The process really is the unprivileged user holding exactly the capabilities given (setpriv did what was asked).</summary>
    private void AssertRunsAs(IReadOnlyCollection<string> ambient, IReadOnlyCollection<string> bounding)
    {
        var status = File.ReadAllLines("/proc/" + _net.SensorProcessId + "/status")
            .Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
        Assert.Equal(string.Join('\t', Enumerable.Repeat(Unprivileged, 4)), status["Uid"]);
        Assert.Equal(string.Join('\t', Enumerable.Repeat(Unprivileged, 4)), status["Gid"]);
        Assert.Equal("", status["Groups"]);
        Assert.Equal(UnitCapabilities.Mask(ambient), ulong.Parse(status["CapEff"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Equal(UnitCapabilities.Mask(ambient), ulong.Parse(status["CapAmb"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Equal(UnitCapabilities.Mask(bounding), ulong.Parse(status["CapBnd"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }

    /// <summary>Distinct frames (each one's bytes say its number), standard and jumbo, so order and content are both checked.</summary>
    private static List<byte[]> InnerFrames()
    {
        int[] sizes = [60, 590, 1514, 4000, 8900];
        return Enumerable.Range(0, Datagrams).Select(i => AfXdpJumboTests.InnerFrame(i, sizes[i % sizes.Length])).ToList();
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

/// <summary>
/// AmbientCapabilities= and CapabilityBoundingSet= of a unit and its drop-ins, merged as systemd merges
/// them: later lists add to earlier ones, an empty assignment clears the list.
/// </summary>
internal sealed record UnitCapabilities(IReadOnlyList<string> Ambient, IReadOnlyList<string> Bounding)
{
    // linux/capability.h: a capability's number is its bit in /proc/PID/status.
    private static readonly string[] Numbered =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    public static UnitCapabilities Read(params string[] files)
    {
        var ambient = new List<string>();
        var bounding = new List<string>();
        foreach (var file in files)
        {
            foreach (var line in File.ReadLines(file).Select(l => l.Trim()))
            {
                var list = line.StartsWith("AmbientCapabilities=", StringComparison.Ordinal) ? ambient
                    : line.StartsWith("CapabilityBoundingSet=", StringComparison.Ordinal) ? bounding : null;
                if (list is null)
                {
                    continue;
                }

                var names = line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (names.Length == 0)
                {
                    list.Clear();
                }

                foreach (var name in names)
                {
                    // "~" (all but these) is valid systemd, but a least-privilege unit lists what it grants.
                    Assert.True(Array.IndexOf(Numbered, name) >= 0, file + ": '" + name + "' is not a capability this test knows");
                    if (!list.Contains(name))
                    {
                        list.Add(name);
                    }
                }
            }
        }

        return new UnitCapabilities(ambient, bounding);
    }

    public static ulong Mask(IEnumerable<string> names) => names.Aggregate(0UL, (mask, name) => mask | (1UL << Array.IndexOf(Numbered, name)));
}
