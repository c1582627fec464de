namespace AutoMirror.Sensor.Configuration;

/// <summary>
/// The sensor's settings: section "Sensor" of appsettings.json, overridden by environment variables
/// (Sensor__Tap__Name) and command-line flags (--Sensor:Tap:Name or the short flags in Program).
/// </summary>
public sealed class SensorOptions
{
    public const string Section = "Sensor";

    /// <summary>Address the UDP sockets bind to; "::" accepts IPv4 and IPv6.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    public int VxlanPort { get; set; } = 4789;

    /// <summary>Also receive GENEVE (Gateway Load Balancer endpoint as mirror target).</summary>
    public bool GeneveEnabled { get; set; }

    public int GenevePort { get; set; } = 6081;

    /// <summary>
    /// How the sensor receives: "auto" (the fastest path this kernel, driver and the process's capabilities allow,
    /// tried in the order bench/sensor measured: packet ring, AF_XDP, UDP sockets), or one of "sockets", "af-xdp",
    /// "packet-ring" (that path, falling back to the sockets where it is not available).
    /// </summary>
    public string Receive { get; set; } = "auto";

    /// <summary>
    /// The mirror interface auto (or an explicit af-xdp / packet-ring) receives on; empty: the interface of the IPv4
    /// default route, which on a sensor instance is the ENI the load balancer sends to.
    /// AfXdp:Interface or PacketRing:Interface, when set, name the path and its interface themselves.
    /// </summary>
    public string ReceiveInterface { get; set; } = string.Empty;

    /// <summary>Receive threads (SO_REUSEPORT sockets) per port.</summary>
    public int ReceiveWorkers { get; set; } = 2;

    /// <summary>Datagrams per recvmmsg call.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// After a recvmmsg that returned less than half a batch, the worker pauses this long before the
    /// next, so datagrams accumulate into batches instead of each one waking the thread (0: never pause).
    /// </summary>
    public int ReceiveCoalesceMicroseconds { get; set; } = 50;

    /// <summary>Largest datagram accepted; bigger ones are counted as oversized. 8500-byte mirrored packets plus encapsulation fit.</summary>
    public int MaxDatagramBytes { get; set; } = 9216;

    public int SocketReceiveBufferBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Comma-separated CIDRs the outer source address must be in (the deploy sets the VPC CIDR).</summary>
    public string SourceNetworks { get; set; } = Forwarding.SourceNetworkFilter.PrivateRanges;

    /// <summary>VNI → 802.1Q VLAN id added to the forwarded frame (keys are VNIs as text, as configuration keys are).</summary>
    public Dictionary<string, int> VlanByVni { get; set; } = [];

    /// <summary>Distinct VNIs with their own metric series; more are summed under vni="other".</summary>
    public int MaxVnis { get; set; } = 256;

    public TapOptions Tap { get; set; } = new();

    public AfXdpOptions AfXdp { get; set; } = new();

    public PacketRingOptions PacketRing { get; set; } = new();

    public PcapOptions Pcap { get; set; } = new();

    public HealthOptions Health { get; set; } = new();

    /// <summary>How often the counters are logged (not per packet).</summary>
    public int StatsLogSeconds { get; set; } = 60;
}

public sealed class TapOptions
{
    public bool Enabled { get; set; } = true;

    public string Name { get; set; } = "automirror0";

    /// <summary>Large enough for 8500-byte mirrored packets (jumbo frames on the source) with a VLAN tag.</summary>
    public int Mtu { get; set; } = 9216;

    /// <summary>Keep the interface across sensor restarts so Zeek, sniffing it, is not cut off.</summary>
    public bool Persist { get; set; } = true;

    /// <summary>
    /// Each receive worker writes its batch of frames with one io_uring_enter instead of one write()
    /// per frame (the TAP takes one frame per write). Falls back to write() with a warning where
    /// io_uring is unavailable (old kernel, kernel.io_uring_disabled, seccomp).
    /// </summary>
    public bool IoUring { get; set; } = true;
}

/// <summary>
/// Receiving through AF_XDP on the interface the mirrored traffic arrives on: an XDP program hands
/// VXLAN/GENEVE datagrams to the sensor before the kernel's IP/UDP stack and socket queues (about
/// half the CPU per frame of the socket path, measured by bench/sensor). Jumbo datagrams that span
/// several buffers, fragments and anything unusual still take the socket path. Off by default: it
/// attaches a program to the interface, and some drivers (ENA in native mode) limit the MTU with XDP.
/// </summary>
public sealed class AfXdpOptions
{
    /// <summary>Interface to attach to (e.g. ens5); empty: AF_XDP off.</summary>
    public string Interface { get; set; } = string.Empty;

    /// <summary>Auto: the driver's XDP where it has one, else generic; Native or Generic force one (generic runs after the kernel built the socket buffer).</summary>
    public XdpMode Mode { get; set; } = XdpMode.Auto;

    /// <summary>
    /// 4 KiB frames per receive queue (a power of two): the fill ring holds them all, the RX ring half.
    /// The kernel cycles through all of them, so more frames absorb longer stalls of the receive thread
    /// but leave the cache sooner: 1024 (RX ring 512, 0.4 ms at 1.2 M datagrams/s) was the fastest in
    /// bench/sensor, 4096 about 10% slower at 1400-byte frames.
    /// </summary>
    public int Frames { get; set; } = 1024;
}

/// <summary>
/// Receiving through a TPACKET_V3 ring on the interface the mirrored traffic arrives on: the kernel
/// copies each VXLAN/GENEVE datagram into a ring shared with the sensor as its packet taps see it,
/// and a tcx ingress program then drops it before the IP/UDP stack (one copy, no routing, no socket
/// queue, no XDP headroom copy: measured by bench/sensor). Any driver, any MTU; needs kernel 6.6+
/// (tcx). Off by default, and not with AfXdp: each takes the datagrams the other would.
/// </summary>
public sealed class PacketRingOptions
{
    /// <summary>Interface to receive on (e.g. ens5); empty: the packet ring is off.</summary>
    public string Interface { get; set; } = string.Empty;

    /// <summary>Blocks in the ring; with BlockKilobytes, the datagrams in flight between the kernel and the worker (the queue).</summary>
    public int Blocks { get; set; } = 32;

    /// <summary>Size of one block (a power of two): the kernel hands over a block when it is full, or after a millisecond.</summary>
    public int BlockKilobytes { get; set; } = 256;
}

public enum XdpMode
{
    Auto,
    Native,
    Generic,
}

public sealed class PcapOptions
{
    public bool Enabled { get; set; }

    public string Directory { get; set; } = "/var/lib/automirror/pcap";

    public string FilePrefix { get; set; } = "automirror";

    public int MaxFileMegabytes { get; set; } = 100;

    public int MaxFileAgeSeconds { get; set; } = 300;

    /// <summary>Oldest files are deleted beyond this count, so disk use stays bounded.</summary>
    public int MaxFiles { get; set; } = 50;

    public int SnapLength { get; set; } = 65535;
}

public sealed class HealthOptions
{
    /// <summary>TCP port of the HTTP health and metrics endpoint (the NLB target group's health check port).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Process names (as in /proc/PID/comm, e.g. "zeek" or "zeek,Suricata-Main"), comma-separated, that must all be running for the sensor to be healthy; empty: not checked.</summary>
    public string DownstreamProcess { get; set; } = string.Empty;

    /// <summary>A pid file whose process must be alive; empty: not checked.</summary>
    public string DownstreamPidFile { get; set; } = string.Empty;
}
