using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// The kernel side of the AF_XDP path on one interface: the XSKMAP holding one AF_XDP socket per
/// receive queue, the filter program, and the bpf_link attaching it. Closing the link detaches the
/// program, and the kernel closes it when the process dies, so a crashed sensor never leaves the
/// interface redirecting packets to nobody.
/// </summary>
public sealed class XdpAttachment : IDisposable
{
    private int _map;
    private int _program = -1;
    private int _link = -1;

    private XdpAttachment(string interfaceName, int interfaceIndex, int queues, int map)
    {
        InterfaceName = interfaceName;
        InterfaceIndex = interfaceIndex;
        Queues = queues;
        _map = map;
    }

    public string InterfaceName { get; }

    public int InterfaceIndex { get; }

    public int Queues { get; }

    /// <summary>Finds the interface's receive queues and creates the (empty) socket map.</summary>
    public static XdpAttachment Create(string interfaceName, int index)
    {

        int queues = 1;
        string queuesDirectory = "/sys/class/net/" + interfaceName + "/queues";
        if (Directory.Exists(queuesDirectory))
        {
            queues = Math.Max(1, Directory.GetDirectories(queuesDirectory, "rx-*").Length);
        }

        return new XdpAttachment(interfaceName, index, queues, Bpf.CreateXskMap(queues));
    }

    public void Register(int queue, XskSocket socket) => Bpf.UpdateElement(_map, (uint)queue, (uint)socket.FileDescriptor);

    /// <summary>How the program ended up attached ("native" or "generic"), once <see cref="Attach"/> succeeded.</summary>
    public string AttachedMode { get; private set; } = string.Empty;

    /// <summary>
    /// Loads the filter and attaches it; from now on matching datagrams go to the registered sockets.
    /// Auto tries the driver's XDP first and generic XDP when the driver refuses (ENA, for one,
    /// refuses native XDP above a 3498-byte MTU, and a mirror target's MTU is often 9001).
    /// </summary>
    public void Attach(int vxlanPort, int? genevePort, XdpMode mode)
    {
        _program = Bpf.LoadXdpProgram(XdpFilterProgram.Build(_map, vxlanPort, genevePort), "automirror_rx");
        if (mode != XdpMode.Generic)
        {
            try
            {
                _link = Bpf.AttachXdp(_program, InterfaceIndex, Bpf.XdpFlagsDriverMode);
                AttachedMode = "native";
                return;
            }
            catch (IOException) when (mode == XdpMode.Auto)
            {
                // Fall through to generic XDP.
            }
        }

        _link = Bpf.AttachXdp(_program, InterfaceIndex, Bpf.XdpFlagsSkbMode);
        AttachedMode = "generic";
    }

    public void Dispose()
    {
        // The link first: the program stops redirecting before its sockets go.
        Close(ref _link);
        Close(ref _program);
        Close(ref _map);
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
