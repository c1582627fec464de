using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Tests.Receive;

/// <summary>
/// AF_XDP on a kernel without multi-buffer sockets (before 6.6) drops every packet larger than one 4 KiB
/// frame and counts it as a lost datagram, not as oversized: at a jumbo MTU the path must be refused, so
/// that auto (or af-xdp's own fallback) receives with the next path, which carries jumbo datagrams whole.
/// The kernel here has multi-buffer sockets, so the decision is tested on its own.
/// </summary>
public class AfXdpJumboRefusalTests
{
    [Theory]
    [InlineData(9001)]   // an ENI at its default jumbo MTU
    [InlineData(3827)]   // one byte over: a 3841-byte frame
    public void JumboRefusal_WithoutMultiBuffer_AboveAFrame_RefusesNamingTheKernelFeatureAndTheMtu(int mtu)
    {
        var reason = AfXdpReceivePath.JumboRefusal(multiBuffer: false, mtu, "ens5");

        Assert.NotNull(reason);
        Assert.Contains("XDP_USE_SG", reason, StringComparison.Ordinal);
        Assert.Contains("ens5 (" + mtu + ")", reason, StringComparison.Ordinal);
        Assert.Contains("(3826)", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, 9001)]
    [InlineData(true, 65000)]
    [InlineData(false, 1500)]
    [InlineData(false, 3826)]   // a 3840-byte frame: exactly one UMEM frame's packet room
    [InlineData(false, null)]   // MTU not readable: not refused for it
    public void JumboRefusal_WithMultiBuffer_OrPacketsThatFitAFrame_Accepts(bool multiBuffer, int? mtu)
        => Assert.Null(AfXdpReceivePath.JumboRefusal(multiBuffer, mtu, "ens5"));
}
