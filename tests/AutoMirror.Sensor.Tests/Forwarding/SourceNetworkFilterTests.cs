using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Forwarding;

public class SourceNetworkFilterTests
{
    private static SourceNetworkFilter Parse(string text)
    {
        Assert.True(SourceNetworkFilter.TryParse(text, out var filter, out var error), error);
        return filter;
    }

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.7.7", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("100.64.0.1", false)]
    public void Allows_DefaultPrivateRanges_AcceptOnlyRfc1918ForIpv4(string address, bool allowed)
        => Assert.Equal(allowed, Parse(SourceNetworkFilter.PrivateRanges).Allows(Packets.SockaddrV4(address)));

    [Theory]
    [InlineData("fd12::1", true)]
    [InlineData("2001:db8::1", false)]
    [InlineData("::ffff:10.0.0.9", true)]
    [InlineData("::ffff:8.8.8.8", false)]
    public void Allows_Ipv6AndMappedIpv4_AreChecked(string address, bool allowed)
        => Assert.Equal(allowed, Parse(SourceNetworkFilter.PrivateRanges).Allows(Packets.SockaddrV6(address)));

    [Fact]
    public void Allows_VpcCidr_RejectsOtherPrivateAddresses()
    {
        var filter = Parse("10.20.0.0/16");
        Assert.True(filter.Allows(Packets.SockaddrV4("10.20.255.1")));
        Assert.False(filter.Allows(Packets.SockaddrV4("10.21.0.1")));
    }

    [Fact]
    public void TryParse_HostBitsSet_MeansTheNetwork()
        => Assert.True(Parse("10.20.30.40/16").Allows(Packets.SockaddrV4("10.20.1.1")));

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.0/33")]
    [InlineData("vpc")]
    public void TryParse_Garbage_FailsWithAMessage(string text)
    {
        Assert.False(SourceNetworkFilter.TryParse(text, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(12)]
    public void Allows_ShortOrUnknownSockaddr_IsRejected(int length)
        => Assert.False(Parse("0.0.0.0/0").Allows(new byte[length]));
}
