using System.Globalization;
using System.Net;
using System.Numerics;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;
using Microsoft.Extensions.Configuration;

namespace AutoMirror.Sensor.Configuration;

/// <summary>
/// Options read once and checked as a whole; every problem names the setting (as its configuration
/// key) so a wrong deploy stops at start-up with a message saying what to fix.
/// </summary>
public sealed record SensorSettings(SensorOptions Options, IPAddress BindAddress, SourceNetworkFilter Sources, VlanMap Vlans)
{
    /// <summary>The values of Sensor:Receive.</summary>
    public static readonly string[] ReceiveModes = ["auto", "sockets", "af-xdp", "packet-ring"];

    public static SensorSettings Load(IConfiguration configuration)
    {
        SensorOptions options;
        try
        {
            options = configuration.GetSection(SensorOptions.Section).Get<SensorOptions>(o => o.ErrorOnUnknownConfiguration = true)
                ?? new SensorOptions();
        }
        catch (InvalidOperationException e)
        {
            // The binder's message names the key ("...value at 'Sensor:Tap:Mtu'..." or the unknown property).
            throw new SensorConfigurationException([e.InnerException is null ? e.Message : e.Message + " " + e.InnerException.Message]);
        }

        return Validate(options);
    }

    public static SensorSettings Validate(SensorOptions o)
    {
        var errors = new List<string>();
        const string S = SensorOptions.Section + ":";

        if (!IPAddress.TryParse(o.BindAddress, out var bind))
        {
            errors.Add(S + "BindAddress: '" + o.BindAddress + "' is not an IP address");
        }

        Range(errors, S + "VxlanPort", o.VxlanPort, 1, 65535);
        Range(errors, S + "GenevePort", o.GenevePort, 1, 65535);
        if (o.GeneveEnabled && o.GenevePort == o.VxlanPort)
        {
            errors.Add(S + "GenevePort: must differ from Sensor:VxlanPort (" + o.VxlanPort + ")");
        }

        Range(errors, S + "ReceiveWorkers", o.ReceiveWorkers, 1, 64);
        Range(errors, S + "BatchSize", o.BatchSize, 1, 1024);
        Range(errors, S + "ReceiveCoalesceMicroseconds", o.ReceiveCoalesceMicroseconds, 0, 10_000);
        Range(errors, S + "MaxDatagramBytes", o.MaxDatagramBytes, 64, 65535);
        Range(errors, S + "SocketReceiveBufferBytes", o.SocketReceiveBufferBytes, 65536, 1 << 30);
        Range(errors, S + "MaxVnis", o.MaxVnis, 1, 65536);
        Range(errors, S + "StatsLogSeconds", o.StatsLogSeconds, 1, 86400);

        if (!SourceNetworkFilter.TryParse(o.SourceNetworks ?? string.Empty, out var sources, out var sourceError))
        {
            errors.Add(S + "SourceNetworks: " + sourceError);
        }

        var vlans = new Dictionary<uint, ushort>();
        foreach (var (key, vlan) in o.VlanByVni)
        {
            if (!uint.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out uint vni) || vni > 0xFF_FFFF)
            {
                errors.Add(S + "VlanByVni:" + key + ": the key must be a VNI 0-16777215");
            }
            else if (vlan is < 1 or > 4094)
            {
                errors.Add(S + "VlanByVni:" + key + ": VLAN id must be 1-4094 (got " + vlan + ")");
            }
            else
            {
                vlans[vni] = (ushort)vlan;
            }
        }

        if (!o.Tap.Enabled && !o.Pcap.Enabled)
        {
            errors.Add(S + "Tap:Enabled / " + S + "Pcap:Enabled: at least one output must be enabled");
        }

        if (o.Tap.Enabled)
        {
            if (string.IsNullOrEmpty(o.Tap.Name) || o.Tap.Name.Length > 15 || !o.Tap.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                errors.Add(S + "Tap:Name: '" + o.Tap.Name + "' is not an interface name (1-15 characters: letters, digits, - _ .)");
            }

            Range(errors, S + "Tap:Mtu", o.Tap.Mtu, 68, 65535);
        }

        if (o.Pcap.Enabled)
        {
            if (string.IsNullOrWhiteSpace(o.Pcap.Directory))
            {
                errors.Add(S + "Pcap:Directory: required when Sensor:Pcap:Enabled is true");
            }

            if (string.IsNullOrWhiteSpace(o.Pcap.FilePrefix) || o.Pcap.FilePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            {
                errors.Add(S + "Pcap:FilePrefix: '" + o.Pcap.FilePrefix + "' is not a file name prefix");
            }

            Range(errors, S + "Pcap:MaxFileMegabytes", o.Pcap.MaxFileMegabytes, 1, 1 << 20);
            Range(errors, S + "Pcap:MaxFileAgeSeconds", o.Pcap.MaxFileAgeSeconds, 1, 86400 * 7);
            Range(errors, S + "Pcap:MaxFiles", o.Pcap.MaxFiles, 1, 1_000_000);
            Range(errors, S + "Pcap:SnapLength", o.Pcap.SnapLength, 64, 262144);
        }

        if (Array.IndexOf(ReceiveModes, o.Receive) < 0)
        {
            errors.Add(S + "Receive: must be " + string.Join(", ", ReceiveModes) + " (got '" + o.Receive + "')");
        }
        else if (o.Receive != "auto")
        {
            // AfXdp:Interface and PacketRing:Interface each choose their own path: a different explicit choice contradicts them.
            if (!string.IsNullOrEmpty(o.AfXdp.Interface) && o.Receive != "af-xdp")
            {
                errors.Add(S + "Receive: '" + o.Receive + "' contradicts Sensor:AfXdp:Interface, which chooses af-xdp");
            }

            if (!string.IsNullOrEmpty(o.PacketRing.Interface) && o.Receive != "packet-ring")
            {
                errors.Add(S + "Receive: '" + o.Receive + "' contradicts Sensor:PacketRing:Interface, which chooses packet-ring");
            }
        }

        if (!string.IsNullOrEmpty(o.ReceiveInterface))
        {
            InterfaceName(errors, S + "ReceiveInterface", o.ReceiveInterface);
        }

        if (!string.IsNullOrEmpty(o.AfXdp.Interface))
        {
            InterfaceName(errors, S + "AfXdp:Interface", o.AfXdp.Interface);
        }

        // Checked whenever AF_XDP may run: named by its interface, by Sensor:Receive, or tried by auto.
        if (o.Receive is "auto" or "af-xdp" || !string.IsNullOrEmpty(o.AfXdp.Interface))
        {
            if (o.AfXdp.Frames is < 64 or > 65536 || !int.IsPow2(o.AfXdp.Frames))
            {
                errors.Add(S + "AfXdp:Frames: must be a power of two 64-65536 (got " + o.AfXdp.Frames + ")");
            }

            // The binder takes any number for an enum ("3" binds as an undefined mode, which would act as Native).
            if (!Enum.IsDefined(o.AfXdp.Mode))
            {
                errors.Add(S + "AfXdp:Mode: must be Auto, Native or Generic (got " + o.AfXdp.Mode + ")");
            }
        }

        if (!string.IsNullOrEmpty(o.PacketRing.Interface))
        {
            InterfaceName(errors, S + "PacketRing:Interface", o.PacketRing.Interface);
            if (!string.IsNullOrEmpty(o.AfXdp.Interface))
            {
                errors.Add(S + "PacketRing:Interface: not together with Sensor:AfXdp:Interface (each would take the datagrams the other receives)");
            }
        }

        // Checked whenever the packet ring may run: named by its interface, by Sensor:Receive, or tried by auto.
        if (o.Receive is "auto" or "packet-ring" || !string.IsNullOrEmpty(o.PacketRing.Interface))
        {

            Range(errors, S + "PacketRing:Blocks", o.PacketRing.Blocks, 2, 4096);
            // A block must hold the largest datagram accepted, with its Ethernet/IP/UDP headers and the ring's own header.
            int smallest = (int)Math.Max(16, BitOperations.RoundUpToPowerOf2((uint)(o.MaxDatagramBytes + OuterFrame.HeadersLength + PacketRing.PacketOverhead + 1023) / 1024));
            if (o.PacketRing.BlockKilobytes is < 16 or > 4096 || !int.IsPow2(o.PacketRing.BlockKilobytes) || o.PacketRing.BlockKilobytes < smallest)
            {
                errors.Add(S + "PacketRing:BlockKilobytes: must be a power of two " + smallest + "-4096, holding a Sensor:MaxDatagramBytes datagram (got " + o.PacketRing.BlockKilobytes + ")");
            }
        }

        Range(errors, S + "Health:Port", o.Health.Port, 1, 65535);

        if (errors.Count > 0)
        {
            throw new SensorConfigurationException(errors);
        }

        return new SensorSettings(o, bind!, sources, new VlanMap(vlans));
    }

    /// <summary>The interface's index; a missing interface is a misspelt setting, not a kernel limitation: start-up stops (no fallback).</summary>
    public static int RequireInterface(string interfaceName, string setting)
    {
        int index = (int)LibC.if_nametoindex(interfaceName);
        return index != 0 ? index : throw new SensorConfigurationException([setting + ": no interface named '" + interfaceName + "'"]);
    }

    private static void InterfaceName(List<string> errors, string setting, string name)
    {
        if (name.Length > 15 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@'))
        {
            errors.Add(setting + ": '" + name + "' is not an interface name");
        }
    }

    private static void Range(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(name + ": must be " + min + "-" + max + " (got " + value + ")");
        }
    }
}

public sealed class SensorConfigurationException(IReadOnlyList<string> problems)
    : Exception("invalid configuration: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
