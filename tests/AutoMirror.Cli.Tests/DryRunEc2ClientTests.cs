using AutoMirror.Aws.Ec2;
using AutoMirror.Cli.Reconcile;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Cli.Tests;

public sealed class DryRunEc2ClientTests
{
    private static readonly Dictionary<string, string> NoTags = [];

    [Fact]
    public async Task Writes_AreRecordedAndSeenByLaterReads_NeverSent()
    {
        var account = new FakeEc2();
        account.AddSession("tms-old", "eni-1", "tmt-1", NoTags);
        var ec2 = new DryRunEc2Client(account);
        var request = new CreateTrafficMirrorSessionRequest("eni-2", "tmt-1", "tmf-1", 1, 7, null, "token-a", NoTags);

        await ec2.DeleteTrafficMirrorSessionAsync("tms-old", default);
        var created = await ec2.CreateTrafficMirrorSessionAsync(request, default);
        var again = await ec2.CreateTrafficMirrorSessionAsync(request, default);
        await ec2.CreateTagsAsync(["i-1"], new Dictionary<string, string> { ["automirror:status"] = "mirrored" }, default);
        var onEni2 = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", "eni-2")], default);
        var onEni1 = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", "eni-1")], default);

        Assert.Same(created, again);
        Assert.Equal([created.TrafficMirrorSessionId], onEni2.Select(s => s.TrafficMirrorSessionId));
        Assert.Empty(onEni1);
        Assert.Equal(["delete-session tms-old", "create-session eni-2", "tag i-1"], ec2.Changes.Select(c => c.Action + " " + c.ResourceId));
        // Nothing reached the account: its session is still there and it saw no write.
        Assert.Empty(account.Mutations);
        Assert.Equal(0, account.MutatingCalls);
        Assert.Equal(["tms-old"], account.AllSessions().Select(s => s.TrafficMirrorSessionId));
    }
}
