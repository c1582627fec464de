using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// What every end-to-end run must show beyond equal bytes: two independent dissectors, tshark and
/// PacketDotNet, read each frame the sensor forwarded (TAP after VXLAN, TAP after GENEVE, the pcap
/// output) field by field as they read the input capture, and agree with each other on every frame
/// of both. The input must hold every layer they check (e2e.sh makes it): an 802.1Q tag, IPv4 and
/// IPv6, TCP, UDP, ICMP and ICMPv6, and first and later IPv4 and IPv6 fragments.
/// </summary>
internal static class DissectorAgreement
{
    public const string Tshark = "tshark";

    public static void AssertForwardedFramesDissectAsTheInput(EndToEndTests.Run run)
    {
        var input = FrameDissector.AssertBothAgree(Path.Combine(run.Work, "original.pcap"), "input");
        AssertCoversEveryLayer(input);

        FrameDissector.AssertForwardedDissectAsInput(input, [Path.Combine(run.Work, "tap.pcap")], "TAP");
        FrameDissector.AssertForwardedDissectAsInput(input, [Path.Combine(run.Work, "tap-geneve.pcap")], "TAP (GENEVE)");
        // The pcap output got the VXLAN phase and then the GENEVE phase: the input twice.
        var files = Directory.GetFiles(Path.Combine(run.Work, "sensor-pcap"), "*.pcap").Order(StringComparer.Ordinal);
        FrameDissector.AssertForwardedDissectAsInput(input, files, "pcap output", copies: 2);
    }

    private static void AssertCoversEveryLayer(List<FrameDissection> input)
    {
        void Has(string what, Func<FrameDissection, bool> predicate)
            => Assert.True(input.Any(predicate), "the input capture should hold " + what + " (tests/sensor-e2e/e2e.sh makes it)");

        Has("an 802.1Q-tagged frame", d => d.VlanId == 100);
        Has("IPv4 TCP", d => d.IpVersion == 4 && d.L4 == "tcp" && d.Payload.Length > 0);
        Has("IPv6 TCP", d => d.IpVersion == 6 && d.L4 == "tcp" && d.Payload.Length > 0);
        Has("IPv4 UDP", d => d.IpVersion == 4 && d.L4 == "udp");
        Has("IPv6 UDP", d => d.IpVersion == 6 && d.L4 == "udp");
        Has("an ICMP echo", d => d.L4 == "icmp" && d.IcmpType == 8 && !d.IsFragment);
        Has("an ICMPv6 echo", d => d.L4 == "icmpv6" && d.IcmpType == 128 && !d.IsFragment);
        Has("a first IPv4 fragment", d => d.IpVersion == 4 && d.MoreFragments == true && d.FragmentOffset == 0);
        Has("a later IPv4 fragment", d => d.IpVersion == 4 && d.L4 == "fragment");
        Has("a first IPv6 fragment", d => d.IpVersion == 6 && d.MoreFragments == true && d.FragmentOffset == 0);
        Has("a later IPv6 fragment", d => d.IpVersion == 6 && d.L4 == "fragment");
        Has("a tagged IPv4 fragment", d => d.VlanId == 100 && d.IpVersion == 4 && d.L4 == "fragment");
        Has("tagged IPv6", d => d.VlanId == 100 && d.IpVersion == 6 && d.L4 == "tcp");
    }
}
