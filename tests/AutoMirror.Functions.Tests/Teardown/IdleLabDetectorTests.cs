using AutoMirror.Core.Teardown;
using FsCheck;
using FsCheck.Fluent;

namespace AutoMirror.Functions.Tests.Teardown;

public class IdleLabDetectorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static readonly TeardownSettings Settings = new() { MirrorTargetId = "tmt-ours", IdlePeriod = TimeSpan.FromMinutes(120) };

    private static LabInstance Instance(string id, string state = "running", string? lab = "red", string? reason = null, params (string Key, string Value)[] tags)
    {
        var all = tags.ToDictionary(t => t.Key, t => t.Value);
        if (lab is not null)
        {
            all["lab"] = lab;
        }

        return new LabInstance(id, state, all, ["eni-" + id[2..]], reason);
    }

    private static InstanceTraffic Quiet(string id) => new(id, TrafficKind.Quiet, "quiet", 0);

    private static InstanceTraffic Busy(string id) => new(id, TrafficKind.Traffic, "1000 mirrored bytes", 1000);

    private static InstanceTraffic Unknown(string id) => new(id, TrafficKind.Unknown, "no datapoints", 0);

    private static string StoppedAgo(TimeSpan ago) => $"User initiated ({(Now - ago).UtcDateTime:yyyy-MM-dd HH:mm:ss} GMT)";

    private static LabVerdict Single(IReadOnlyList<LabInstance> instances, params InstanceTraffic[] traffic) =>
        Assert.Single(IdleLabDetector.Detect(instances, [], traffic.ToDictionary(t => t.InstanceId), Now, Settings));

    [Fact]
    public void Detect_WhenOneInstanceHadMirroredTraffic_LabIsActive()
    {
        var verdict = Single([Instance("i-1"), Instance("i-2")], Quiet("i-1"), Busy("i-2"));

        Assert.Equal(LabStatus.Active, verdict.Status);
        Assert.False(verdict.IsIdle);
        Assert.Contains(verdict.Reasons, r => r.Contains("i-2", StringComparison.Ordinal));
    }

    [Fact]
    public void Detect_WhenEveryInstanceIsQuietOverTheWindow_LabIsIdleNoTraffic()
    {
        var verdict = Single([Instance("i-1"), Instance("i-2")], Quiet("i-1"), Quiet("i-2"));

        Assert.Equal(LabStatus.IdleNoTraffic, verdict.Status);
        Assert.True(verdict.IsIdle);
    }

    [Fact]
    public void Detect_WhenMetricsAreMissingForOneRunningInstance_LabIsUnknownNotIdle()
    {
        var verdict = Single([Instance("i-1"), Instance("i-2")], Quiet("i-1"), Unknown("i-2"));

        Assert.Equal(LabStatus.UnknownMetrics, verdict.Status);
        Assert.False(verdict.IsIdle);
    }

    [Fact]
    public void Detect_WhenNoMetricWasEvenAsked_LabIsUnknown()
    {
        var verdict = Single([Instance("i-1")]);

        Assert.Equal(LabStatus.UnknownMetrics, verdict.Status);
    }

    [Fact]
    public void Detect_WhenAllStoppedForLongerThanTheIdlePeriod_LabIsIdleStopped()
    {
        var verdict = Single(
            [Instance("i-1", "stopped", reason: StoppedAgo(TimeSpan.FromMinutes(121))), Instance("i-2", "stopped", reason: StoppedAgo(TimeSpan.FromHours(5)))],
            Unknown("i-1"), Unknown("i-2"));

        Assert.Equal(LabStatus.IdleStopped, verdict.Status);
    }

    [Fact]
    public void Detect_WhenOneInstanceStoppedWithinTheIdlePeriod_LabIsNotIdle()
    {
        var verdict = Single(
            [Instance("i-1", "stopped", reason: StoppedAgo(TimeSpan.FromMinutes(119))), Instance("i-2", "stopped", reason: StoppedAgo(TimeSpan.FromHours(5)))],
            Unknown("i-1"), Unknown("i-2"));

        Assert.Equal(LabStatus.Active, verdict.Status);
        Assert.Contains(verdict.Reasons, r => r.Contains("i-1 stopped 119 min ago", StringComparison.Ordinal));
    }

    [Fact]
    public void Detect_WhenStopTimeCannotBeRead_LabIsUnknown()
    {
        var verdict = Single([Instance("i-1", "stopped", reason: "")], Unknown("i-1"));

        Assert.Equal(LabStatus.UnknownMetrics, verdict.Status);
    }

    [Fact]
    public void Detect_WhenExpiryPassed_LabIsExpiredEvenWithTraffic()
    {
        var verdict = Single([Instance("i-1", tags: ("automirror:expires-at", "2026-11-22T11:00:00Z"))], Busy("i-1"));

        Assert.Equal(LabStatus.Expired, verdict.Status);
        Assert.StartsWith("expired at 2026-11-22T11:00:00Z", verdict.Reasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Detect_WhenOneInstanceExpiresLater_LabIsNotExpired()
    {
        var verdict = Single(
            [Instance("i-1", tags: ("automirror:expires-at", "2026-11-22T11:00:00Z")), Instance("i-2", tags: ("automirror:expires-at", "2026-11-22T13:00+00:00"))],
            Busy("i-1"), Quiet("i-2"));

        Assert.Equal(LabStatus.Active, verdict.Status);
    }

    [Fact]
    public void Detect_WhenExpiryIsMalformed_ItIsIgnoredWithAReason()
    {
        var verdict = Single(
            [Instance("i-1", tags: ("automirror:expires-at", "yesterday")), Instance("i-2", tags: ("automirror:expires-at", "2020-01-01T00:00:00Z"))],
            Busy("i-1"), Busy("i-2"));

        Assert.Equal(LabStatus.Active, verdict.Status);
        Assert.Contains(verdict.Reasons, r => r.Contains("'yesterday' is not an ISO 8601 time", StringComparison.Ordinal));
    }

    [Fact]
    public void Detect_GroupsByLabTagAndLeavesUntaggedSessionsAsNotALab()
    {
        LabInstance[] instances = [Instance("i-1", lab: "red"), Instance("i-2", lab: "blue"), Instance("i-3", lab: "red")];
        LabSession[] sessions = [new("tms-1", "eni-1", "i-1"), new("tms-2", "eni-2", "i-2"), new("tms-9", "eni-9", "i-9")];

        var verdicts = IdleLabDetector.Detect(instances, sessions, instances.ToDictionary(i => i.InstanceId, i => Quiet(i.InstanceId)), Now, Settings);

        Assert.Equal(["blue", "red", null], verdicts.Select(v => v.Lab));
        Assert.Equal(["i-1", "i-3"], verdicts[1].InstanceIds);
        Assert.Equal(["tms-1"], verdicts[1].Sessions.Select(s => s.SessionId));
        Assert.Equal(LabStatus.NotALab, verdicts[2].Status);
        Assert.False(verdicts[2].IsIdle);
        Assert.Equal(["tms-9"], verdicts[2].Sessions.Select(s => s.SessionId));
    }

    [Fact]
    public void Detect_WithAnyRunningInstanceOfUnknownTraffic_IsNeverIdleUnlessExpired()
    {
        // Property: whatever the mix of quiet/busy/unknown/stopped instances, one running instance with unknown
        // traffic keeps an unexpired lab.
        var kinds = Gen.Elements(TrafficKind.Traffic, TrafficKind.Quiet, TrafficKind.Unknown);
        var stopped = Gen.Elements(0, 30, 119, 121, 600);
        var member = Gen.Zip(Gen.Zip(kinds, stopped, (k, m) => (Kind: k, Minutes: m)), Gen.Elements(true, false),
            (km, s) => (km.Kind, km.Minutes, Stopped: s));
        var property = Prop.ForAll(Gen.ListOf(member).Select(l => l.ToList()).ToArbitrary(), members =>
        {
            var instances = new List<LabInstance> { Instance("i-0") };
            var traffic = new Dictionary<string, InstanceTraffic> { ["i-0"] = Unknown("i-0") };
            for (var k = 0; k < members.Count; k++)
            {
                var (kind, minutes, isStopped) = members[k];
                var id = "i-" + (k + 1);
                instances.Add(isStopped ? Instance(id, "stopped", reason: StoppedAgo(TimeSpan.FromMinutes(minutes))) : Instance(id));
                traffic[id] = new InstanceTraffic(id, kind, "generated", kind == TrafficKind.Traffic ? 1 : 0);
            }

            var verdict = Assert.Single(IdleLabDetector.Detect(instances, [], traffic, Now, Settings));
            return !verdict.IsIdle;
        });
        Check.One(Config.QuickThrowOnFailure, property);
    }
}
