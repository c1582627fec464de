using AutoMirror.Aws.Ec2;

namespace AutoMirror.Aws.Tests.Integration;

/// <summary>Traffic-mirror sessions against the local cloud's extension, which enforces AWS's session rules.</summary>
[Trait("Category", "Integration")]
public sealed class SessionRoundTripTests(SeededLocalCloud cloud) : IClassFixture<SeededLocalCloud>
{
    private readonly AwsClients _clients = cloud.Clients;

    private CreateTrafficMirrorSessionRequest Request(string eni, int number, string token, int? vni = null, int? packetLength = null) => new(
        eni, cloud.Id("mirrorTargetId"), cloud.Id("mirrorFilterId"), number, vni, packetLength, token,
        new Dictionary<string, string> { ["automirror:managed"] = "true", ["automirror:eni-id"] = eni }, "AutoMirror");

    [Fact]
    public async Task CreateDescribeDelete_RoundTripsEveryField()
    {
        var eni = cloud.Id("mirroredEni");
        var created = await _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, 7, "round-trip", vni: 4242, packetLength: 128), CancellationToken.None);

        var described = await _clients.Ec2.DescribeTrafficMirrorSessionsAsync(
            [new Ec2Filter("network-interface-id", eni), new Ec2Filter("tag:automirror:managed", "true")], CancellationToken.None);
        await _clients.Ec2.DeleteTrafficMirrorSessionAsync(created.TrafficMirrorSessionId, CancellationToken.None);
        var afterDelete = await _clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", eni)], CancellationToken.None);

        var session = Assert.Single(described);
        Assert.Equal(created.TrafficMirrorSessionId, session.TrafficMirrorSessionId);
        Assert.Matches("^tms-[0-9a-f]{17}$", session.TrafficMirrorSessionId);
        Assert.Equal((eni, cloud.Id("mirrorTargetId"), cloud.Id("mirrorFilterId")), (session.NetworkInterfaceId, session.TrafficMirrorTargetId, session.TrafficMirrorFilterId));
        Assert.Equal((7, 4242, 128, "AutoMirror"), (session.SessionNumber, session.VirtualNetworkId, session.PacketLength, session.Description));
        Assert.Equal("true", session.Tags["automirror:managed"]);
        Assert.Equal(eni, session.Tags["automirror:eni-id"]);
        Assert.Empty(afterDelete);
    }

    [Fact]
    public async Task Create_WithoutPacketLengthOrVni_MirrorsWholePackets_AndGetsAVniFromAws()
    {
        var eni = cloud.Id("mirroredEni");
        var created = await _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, 9, "whole-packets"), CancellationToken.None);
        try
        {
            Assert.Null(created.PacketLength);
            Assert.NotNull(created.VirtualNetworkId);
        }
        finally
        {
            await _clients.Ec2.DeleteTrafficMirrorSessionAsync(created.TrafficMirrorSessionId, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Create_WithTheSameClientToken_ReturnsTheSameSession()
    {
        var eni = cloud.Id("mirroredEni");
        var first = await _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, 11, "same-token"), CancellationToken.None);
        var second = await _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, 11, "same-token"), CancellationToken.None);
        try
        {
            Assert.Equal(first.TrafficMirrorSessionId, second.TrafficMirrorSessionId);
            Assert.Single(await _clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", eni)], CancellationToken.None));
        }
        finally
        {
            await _clients.Ec2.DeleteTrafficMirrorSessionAsync(first.TrafficMirrorSessionId, CancellationToken.None);
        }
    }

    [Fact]
    public async Task FourthSessionOnAnInterface_IsRefusedWithAwsCode_AndNotRetried()
    {
        var instance = Assert.Single(await _clients.Ec2.DescribeInstancesAsync([cloud.Instance("mirrored2")], CancellationToken.None));
        var eni = instance.NetworkInterfaces[0].NetworkInterfaceId;
        var made = new List<string>();
        try
        {
            foreach (var number in new[] { 1, 2, 3 })
            {
                made.Add((await _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, number, $"limit-{number}"), CancellationToken.None)).TrafficMirrorSessionId);
            }

            await cloud.Cloud.ResetCallCountsAsync();
            var error = await Assert.ThrowsAsync<AwsServiceException>(() =>
                _clients.Ec2.CreateTrafficMirrorSessionAsync(Request(eni, 4, "limit-4"), CancellationToken.None));

            Assert.Equal("TrafficMirrorSessionsPerInterfaceLimitExceeded", error.ErrorCode);
            Assert.Equal(1, (await cloud.Cloud.GetCallCountsAsync()).For("ec2", "CreateTrafficMirrorSession"));
        }
        finally
        {
            foreach (var id in made)
            {
                await _clients.Ec2.DeleteTrafficMirrorSessionAsync(id, CancellationToken.None);
            }
        }
    }

    [Fact]
    public async Task DeleteUnknownSession_RaisesNotFound()
    {
        var error = await Assert.ThrowsAsync<AwsServiceException>(() =>
            _clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-0123456789abcdef0", CancellationToken.None));

        Assert.Equal("InvalidTrafficMirrorSessionId.NotFound", error.ErrorCode);
    }
}
