using System.Text.Json.Nodes;

namespace AutoMirror.Lab.Tests;

/// <summary>
/// The whole system on one machine (issue 7): the lab's report must show exactly the eligible interfaces mirrored,
/// the ineligible instances with the right reason, the sensor's per-VNI counts equal to what the generator sent,
/// the analyser's flows equal to the traffic sent, and teardown leaving no AutoMirror session. The assertions
/// recompute from the report's raw numbers; they do not trust the lab's own summary checks.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalLabTests(LabRun lab) : IClassFixture<LabRun>
{
    [LabFact]
    public void Lab_Succeeds_WithinTheBudget()
    {
        Assert.True(lab.ExitCode == 0, lab.Describe());
        Assert.True(lab.Elapsed < LabRun.Budget, $"the lab took {lab.Elapsed}, budget {LabRun.Budget}");
        Assert.Contains("PASSED", lab.Output, StringComparison.Ordinal);
        // Every step announced itself on stderr.
        for (var step = 1; step <= 7; step++)
        {
            Assert.Contains($"[{step}/7]", lab.Progress, StringComparison.Ordinal);
        }
    }

    [LabFact]
    public void Attach_MirrorsExactlyTheEligibleInterfaces()
    {
        var mirrored = lab.Instances.Where(i => i["sessions"]!.AsArray().Count > 0).Select(i => (string)i["name"]!).Order();
        Assert.Equal(["blue-web", "red-db", "red-web"], mirrored);
        // red-web has two interfaces: one session each.
        var redWeb = lab.Instance("red-web")["sessions"]!.AsArray();
        Assert.Equal(2, redWeb.Select(s => (string)s!["networkInterfaceId"]!).Distinct().Count());
        foreach (var name in new[] { "red-web", "red-db", "blue-web" })
        {
            var instance = lab.Instance(name);
            Assert.Equal("attach", (string?)instance["decision"]);
            Assert.Equal("mirrored", (string?)instance["reason"]);
            Assert.Equal("SUCCEEDED", (string?)instance["execution"]!["status"]);
            Assert.Equal("mirrored", (string?)instance["statusTag"]);
        }

        // A lab's sessions share its VNI; the two labs' differ.
        var red = lab.Instances.Where(i => (string?)i["lab"] == "red").SelectMany(VnisOf).Distinct().ToList();
        var blue = lab.Instances.Where(i => (string?)i["lab"] == "blue").SelectMany(VnisOf).Distinct().ToList();
        Assert.Single(red);
        Assert.Single(blue);
        Assert.NotEqual(red[0], blue[0]);
    }

    [LabFact]
    public void Attach_LeavesTheIneligibleAlone_WithTheRightReason()
    {
        Assert.Equal("not-tagged", (string?)lab.Instance("untagged")["reason"]);
        Assert.StartsWith("unsupported-instance-type", (string?)lab.Instance("old-xen")["reason"], StringComparison.Ordinal);
        Assert.Equal("session-limit", (string?)lab.Instance("crowded")["reason"]);
        foreach (var name in new[] { "untagged", "old-xen", "crowded" })
        {
            Assert.Empty(lab.Instance(name)["sessions"]!.AsArray());
        }
    }

    [LabFact]
    public void Sensor_CountsPerVni_EqualWhatTheGeneratorSent()
    {
        Assert.Equal(2, lab.Vnis.Count());
        foreach (var vni in lab.Vnis)
        {
            var sent = (long)vni["packetsSent"]!;
            Assert.True(sent > 0, "traffic was sent on VNI " + vni["vni"]);
            Assert.Equal(sent, (long)vni["packetsSeen"]!);
            // The generator's per-VNI total is the sum of what it sent for that VNI's sessions.
            var sessions = lab.Sessions.Where(s => (long)s["vni"]! == (long)vni["vni"]!).ToList();
            Assert.Equal(sessions.Sum(s => (long)s["packetsSent"]!), sent);
        }

        foreach (var session in lab.Sessions)
        {
            Assert.Equal((long)session["packetsSent"]!, (long)session["packetsSeen"]!);
        }
    }

    [LabFact]
    public void Analyser_FlowsOnTheTap_EqualTheTrafficSent()
    {
        foreach (var vni in lab.Vnis)
        {
            var expected = (long)vni["flowsExpected"]!;
            // HTTP (three requests) and DNS (one socket) per session, at least.
            Assert.True(expected >= 4 * (long)vni["sessions"]!, $"VNI {vni["vni"]}: {expected} flows expected");
            Assert.Equal(expected, (long)vni["flowsSeen"]!);
            Assert.Equal(0, (long)vni["flowsUnexpected"]!);
            if ((string?)lab.Report["analyser"] == "suricata")
            {
                // Event counts by type; the order Suricata first logged the types in is not part of it.
                Assert.Equal(EventCounts(vni["eventsExpected"]!), EventCounts(vni["eventsSeen"]!));
                Assert.True((long)vni["eventsSeen"]!["http"]! >= 3, "HTTP transactions logged");
            }
        }

        foreach (var session in lab.Sessions)
        {
            Assert.Equal((long)session["flowsExpected"]!, (long)session["flowsSeen"]!);
        }
    }

    [LabFact]
    public void TwoAnalysers_OnOneTap_EachSawEveryForwardedFrame_AndTheSlowOneDidNotHoldBackTheOther()
    {
        var two = lab.Report["twoAnalysers"]!.AsObject();
        var kind = (string)lab.Report["analyser"]!;
        var forwarded = (long)two["forwarded"]!;

        // The sensor's forwarded frames are the generator's: all sent, all forwarded.
        Assert.Equal(lab.Vnis.Sum(v => (long)v["packetsSent"]!), forwarded);
        foreach (var vni in two["perVni"]!.AsArray().Select(v => v!.AsObject()))
        {
            var sensor = (long)vni["forwarded"]!;
            Assert.True(sensor > 0, $"VNI {vni["vni"]}: frames forwarded");
            Assert.Equal(sensor, (long)vni["tcpdump"]!);
            Assert.Equal(sensor, (long)vni[kind]!);
        }

        Assert.Equal(forwarded, (long)two["tcpdump"]!["frames"]!);
        Assert.Equal(0, (long)two["tcpdump"]!["dropped"]!);
        Assert.Equal(forwarded, (long)two[kind]!["frames"]!);
        if (kind == "suricata")
        {
            // Suricata's own kernel counters: nothing dropped, and all frames counted while the throttled tcpdump
            // still had frames waiting in its socket buffer.
            Assert.Equal(0, (long)two[kind]!["dropped"]!);
            Assert.Equal(forwarded, (long)two["suricataFramesThen"]!);
            Assert.True((long)two["tcpdumpBehindThen"]! > 0, "tcpdump was throttled: " + two.ToJsonString());
        }
    }

    [LabFact]
    public void Changes_DetachAtOnce_AndTeardownLeavesNoAutoMirrorSession()
    {
        var changes = lab.Report["changes"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.Contains(changes, c => (string?)c["instance"] == "red-db" && (string?)c["action"] == "detached");
        Assert.Contains(changes, c => (string?)c["instance"] == "red-web" && (string?)c["action"] == "detached");

        var labs = lab.Report["labs"]!.AsArray().ToDictionary(l => (string)l!["lab"]!, l => l!.AsObject());
        Assert.Equal("expired", (string?)labs["blue"]["state"]);
        // Red's mirrored traffic, published to CloudWatch as EC2 would, keeps it active.
        Assert.Equal("active", (string?)labs["red"]["state"]);
        Assert.StartsWith("mirrored traffic", (string?)labs["red"]["reasons"]![0], StringComparison.Ordinal);
        Assert.Equal(3 * 0.015, (double)labs["red"]["costPerHourWhileMirrored"]!, 3);

        var teardown = Assert.Single(lab.Report["teardown"]!.AsArray())!.AsObject();
        Assert.Equal("blue", (string?)teardown["lab"]);
        Assert.Equal("SUCCEEDED", (string?)teardown["status"]);
        var blueSessions = lab.Instance("blue-web")["sessions"]!.AsArray().Select(s => (string)s!["sessionId"]!);
        Assert.Equal(blueSessions.Order(), teardown["deletedSessionIds"]!.AsArray().Select(s => (string)s!).Order());

        Assert.Empty(lab.Report["remainingAutoMirrorSessions"]!.AsArray());
        // Someone else's three sessions on "crowded" are not AutoMirror's to remove.
        Assert.Equal(3, (int)lab.Report["foreignSessionsLeft"]!);
    }

    private static IEnumerable<long> VnisOf(JsonObject instance) =>
        instance["sessions"]!.AsArray().Select(s => (long)s!["vni"]!);

    private static SortedDictionary<string, long> EventCounts(JsonNode counts) =>
        new(counts.AsObject().ToDictionary(p => p.Key, p => (long)p.Value!), StringComparer.Ordinal);
}
