using AutoMirror.Core.Composition;
using AutoMirror.Core.Ownership;
using System.Globalization;
using System.Text.Json;
using AutoMirror.Aws.Ec2;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Mirroring;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// The real handlers and AWS clients against the local cloud with 20% throttling, 5% 5xx and launch-time eventual
/// consistency: every scenario ends in the desired sessions, with foreign sessions untouched.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalCloudConvergenceTests(FaultyLocalCloud fixture) : IClassFixture<FaultyLocalCloud>
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    private string Subnet => fixture.Id("subnetId");

    private string Target => fixture.Id("mirrorTargetId");

    [Fact]
    public async Task RunningEvents_ForALaunchBurst_MirrorEveryQualifyingInterface()
    {
        var (services, _, failures) = fixture.Functions();
        var handler = new EventHandler(services);
        var labA = await fixture.Lab.LaunchAsync(Subnet, 6, tags: new(Tagged) { ["lab"] = "lab-a" });
        var labB = await fixture.Lab.LaunchAsync(Subnet, 2, interfaces: 2, tags: new(Tagged) { ["lab"] = "lab-b" });
        var unsupported = await fixture.Lab.LaunchAsync(Subnet, 1, type: "m6i.large", tags: Tagged);
        var untagged = await fixture.Lab.LaunchAsync(Subnet, 2);
        var full = await fixture.Lab.LaunchAsync(Subnet, 1, tags: Tagged);
        var shared = await fixture.Lab.LaunchAsync(Subnet, 1, tags: Tagged);
        for (var n = 1; n <= 3; n++)
        {
            await fixture.Lab.RunAsync("foreign", full[0].Interfaces[0], fixture.Id("foreignTargetId"), fixture.Id("mirrorFilterId"), n.ToString(CultureInfo.InvariantCulture));
        }

        var foreign = await fixture.Lab.RunAsync("foreign", shared[0].Interfaces[0], fixture.Id("foreignTargetId"), fixture.Id("mirrorFilterId"), "1");
        var everyone = labA.Concat(labB).Concat(unsupported).Concat(untagged).Concat(full).Concat(shared).ToList();
        var events = everyone.Select(i => StateEvent(i.InstanceId, "running")).Append(StateEvent(fixture.Id("sensorInstanceId"), "running")).ToList();

        // One of the untagged instances is tagged after launch: its tag event attaches it.
        await fixture.Lab.RunAsync("tag", "automirror", "TRUE", untagged[1].InstanceId);
        events.Add(TagEvent(untagged[1].InstanceId, ["automirror"], new() { ["automirror"] = "TRUE" }));

        // Delivered at once, some twice (EventBridge is at-least-once).
        await Task.WhenAll(events.Concat(events.Take(4)).Select(e => Task.Run(() => Fakes.TestWorld.InvokeAsync(handler.HandleAsync, e))));

        Assert.Empty(failures);
        var counts = await fixture.Cloud.GetCallCountsAsync();
        Assert.True(counts.Throttled["ec2"].Values.Sum() > 0 && counts.Faulted["ec2"].Values.Sum() > 0, "the faults were not injected");
        var sessions = await fixture.SessionsAsync();
        var ours = sessions.Where(s => SessionTags.IsOurs(s, Target)).ToList();
        var expected = labA.Concat(labB).Concat(shared).Append(untagged[1]).SelectMany(i => i.Interfaces).Order().ToList();
        var mine = everyone.SelectMany(i => i.Interfaces).ToHashSet();
        Assert.Equal(expected, ours.Where(s => mine.Contains(s.NetworkInterfaceId)).Select(s => s.NetworkInterfaceId).Order().ToList());
        Assert.DoesNotContain(ours, s => s.Tags[SessionTags.InstanceId] == fixture.Id("sensorInstanceId"));
        Assert.Single(ours.Where(s => labA.Any(i => i.InstanceId == s.Tags[SessionTags.InstanceId])).Select(s => s.VirtualNetworkId).Distinct());
        Assert.NotEqual(VniOf(ours, labA[0].InstanceId), VniOf(ours, labB[0].InstanceId));
        Assert.All(ours, s => Assert.Null(s.PacketLength));
        Assert.Equal(3, sessions.Count(s => s.NetworkInterfaceId == full[0].Interfaces[0]));
        Assert.Contains(sessions, s => s.TrafficMirrorSessionId == foreign.GetProperty("TrafficMirrorSessionId").GetString());
    }

    [Fact]
    public async Task DetachEvents_LateAndDuplicated_RemoveOnlyOurSessions()
    {
        var (services, _, failures) = fixture.Functions();
        var handler = new EventHandler(services);
        var instances = await fixture.Lab.LaunchAsync(Subnet, 7, tags: Tagged);
        var ids = instances.Select(i => i.InstanceId).ToList();
        var foreign = await fixture.Lab.RunAsync("foreign", instances[0].Interfaces[0], fixture.Id("foreignTargetId"), fixture.Id("mirrorFilterId"), "5");
        await ReconcileUntilCleanAsync(fixture.ReconcileFunction(), "{\"instanceIds\":" + JsonSerializer.Serialize(ids) + "}");
        Assert.Equal(7, (await fixture.SessionsAsync()).Count(s => SessionTags.IsOurs(s, Target) && ids.Contains(s.Tags[SessionTags.InstanceId])));

        var events = new List<string>();
        await fixture.Lab.RunAsync("untag", "automirror", "", ids[0], ids[1]);
        events.Add(TagEvent(ids[0], ["automirror"], []));
        events.Add(TagEvent(ids[1], ["automirror"], new() { ["automirror"] = "false" }));
        await fixture.Lab.RunAsync("stop", ids[2], ids[3]);
        events.AddRange([StateEvent(ids[2], "stopping"), StateEvent(ids[2], "stopped"), StateEvent(ids[3], "stopped")]);
        await fixture.Lab.RunAsync("terminate", ids[4], ids[5]);
        events.AddRange([StateEvent(ids[4], "shutting-down"), StateEvent(ids[5], "terminated")]);
        // A late "running" from the launch, delivered after the stop: EC2's current state decides.
        events.Add(StateEvent(ids[3], "running", "2020-01-01T00:00:00Z"));
        events.Reverse();

        await Task.WhenAll(events.Concat(events).Select(e => Task.Run(() => Fakes.TestWorld.InvokeAsync(handler.HandleAsync, e))));

        Assert.Empty(failures);
        var sessions = await fixture.SessionsAsync();
        var left = sessions.Where(s => SessionTags.IsOurs(s, Target) && ids.Contains(s.Tags[SessionTags.InstanceId])).ToList();
        Assert.Equal([ids[6]], left.Select(s => s.Tags[SessionTags.InstanceId]));
        Assert.Contains(sessions, s => s.TrafficMirrorSessionId == foreign.GetProperty("TrafficMirrorSessionId").GetString());
    }

    [Fact]
    public async Task ScheduledReconcile_RepairsWhatMissedEventsLeft()
    {
        var reconcile = fixture.ReconcileFunction();
        var missed = await fixture.Lab.LaunchAsync(Subnet, 5, tags: Tagged);
        var leaving = await fixture.Lab.LaunchAsync(Subnet, 2, tags: Tagged);
        await ReconcileUntilCleanAsync(reconcile, "{\"instanceIds\":" + JsonSerializer.Serialize(leaving.Select(i => i.InstanceId)) + "}");
        // Untagged with no event delivered: tag events are best-effort.
        await fixture.Lab.RunAsync("untag", "automirror", "", leaving[0].InstanceId, leaving[1].InstanceId);

        await ReconcileUntilCleanAsync(reconcile, File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "events", "scheduled-reconcile.json")));

        var ours = (await fixture.SessionsAsync()).Where(s => SessionTags.IsOurs(s, Target)).ToList();
        Assert.All(missed, i => Assert.Single(ours, s => s.NetworkInterfaceId == i.Interfaces[0]));
        Assert.All(leaving, i => Assert.DoesNotContain(ours, s => s.Tags[SessionTags.InstanceId] == i.InstanceId));
    }

    [Fact]
    public async Task StopThenStart_AStopEventDeliveredAfterTheStart_IsStaleAndIgnored()
    {
        // The local cloud gives a started instance a new LaunchTime, as AWS does: the stop event, older than that
        // start, must not take the running instance's sessions.
        var (services, _, failures) = fixture.Functions();
        var handler = new EventHandler(services);
        var instance = (await fixture.Lab.LaunchAsync(Subnet, 1, tags: Tagged))[0];
        await ReconcileUntilCleanAsync(fixture.ReconcileFunction(), "{\"instanceIds\":[\"" + instance.InstanceId + "\"]}");
        await fixture.Lab.RunAsync("stop", instance.InstanceId);
        var stoppedAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(2)); // LaunchTime has second precision on the wire
        await fixture.Lab.RunAsync("start", instance.InstanceId);

        var answer = JsonDocument.Parse(await Fakes.TestWorld.InvokeAsync(handler.HandleAsync, StateEvent(instance.InstanceId, "stopped", Stamp(stoppedAt)))).RootElement;

        Assert.Empty(failures);
        Assert.Equal("ignored", answer.GetProperty("action").GetString());
        Assert.Equal("stale-detach-event", answer.GetProperty("reason").GetString());
        Assert.Single(await OursOnAsync(instance.Interfaces[0]));
    }

    [Fact]
    public async Task StopThenStart_AStopEventDeliveredInOrder_DetachesAndTheStartMirrorsAgain_ThenItsRedeliveryIsIgnored()
    {
        var (services, _, failures) = fixture.Functions();
        var handler = new EventHandler(services);
        var instance = (await fixture.Lab.LaunchAsync(Subnet, 1, tags: Tagged))[0];
        await ReconcileUntilCleanAsync(fixture.ReconcileFunction(), "{\"instanceIds\":[\"" + instance.InstanceId + "\"]}");
        await fixture.Lab.RunAsync("stop", instance.InstanceId);
        var stopped = StateEvent(instance.InstanceId, "stopped", Stamp(DateTimeOffset.UtcNow));

        var first = JsonDocument.Parse(await Fakes.TestWorld.InvokeAsync(handler.HandleAsync, stopped)).RootElement;
        Assert.Equal("detached", first.GetProperty("action").GetString());
        Assert.Empty(await OursOnAsync(instance.Interfaces[0]));

        await Task.Delay(TimeSpan.FromSeconds(2));
        await fixture.Lab.RunAsync("start", instance.InstanceId);
        await Fakes.TestWorld.InvokeAsync(handler.HandleAsync, StateEvent(instance.InstanceId, "running", Stamp(DateTimeOffset.UtcNow)));
        Assert.Single(await OursOnAsync(instance.Interfaces[0]));

        // EventBridge delivers at least once: the same stop event again, now older than the instance's last start.
        var again = JsonDocument.Parse(await Fakes.TestWorld.InvokeAsync(handler.HandleAsync, stopped)).RootElement;
        Assert.Empty(failures);
        Assert.Equal("ignored", again.GetProperty("action").GetString());
        Assert.Single(await OursOnAsync(instance.Interfaces[0]));
    }

    [Fact]
    public async Task ScheduledReconcile_JudgesEachSessionByTheInstanceItsInterfaceIsAttachedToNow()
    {
        var reconcile = fixture.ReconcileFunction();
        var opted = (await fixture.Lab.LaunchAsync(Subnet, 1, interfaces: 3, tags: Tagged))[0];
        var bystander = (await fixture.Lab.LaunchAsync(Subnet, 1))[0];
        var standby = (await fixture.Lab.LaunchAsync(Subnet, 1, tags: Tagged))[0];
        await ReconcileUntilCleanAsync(reconcile, "{\"instanceIds\":[\"" + opted.InstanceId + "\",\"" + standby.InstanceId + "\"]}");
        foreach (var eni in opted.Interfaces)
        {
            Assert.Single(await OursOnAsync(eni));
        }

        await fixture.Lab.RunAsync("move", opted.Interfaces[1], bystander.InstanceId); // to an instance that never opted in
        await fixture.Lab.RunAsync("move", opted.Interfaces[2], standby.InstanceId);   // to one that did
        await ReconcileUntilCleanAsync(reconcile, File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "events", "scheduled-reconcile.json")));

        Assert.Empty(await OursOnAsync(opted.Interfaces[1]));
        var moved = Assert.Single(await OursOnAsync(opted.Interfaces[2]));
        Assert.Equal(standby.InstanceId, moved.Tags[SessionTags.InstanceId]);
        Assert.Single(await OursOnAsync(opted.Interfaces[0]));
        var tags = await fixture.Lab.RunAsync("describe-tags", bystander.InstanceId);
        Assert.False(tags.TryGetProperty(SessionTags.Status, out _), "the status tag is never written on an instance that did not opt in");
        // The standby's status was written by the direct reconcile that first mirrored it (its id: "reconcile-…"); the
        // scheduled run found it still right and wrote nothing, so the tag keeps naming the run that wrote it.
        var standbyTags = await fixture.Lab.RunAsync("describe-tags", standby.InstanceId);
        Assert.Equal("mirrored", standbyTags.GetProperty(SessionTags.Status).GetString());
        Assert.StartsWith("reconcile-", standbyTags.GetProperty(SessionTags.CorrelationId).GetString(), StringComparison.Ordinal);

        // Detached altogether: nothing opted in is mirrored through it, and it still bills.
        await fixture.Lab.RunAsync("move", opted.Interfaces[2], "-");
        await ReconcileUntilCleanAsync(reconcile, File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "events", "scheduled-reconcile.json")));
        Assert.Empty(await OursOnAsync(opted.Interfaces[2]));
    }

    private async Task<List<TrafficMirrorSession>> OursOnAsync(string eni) =>
        [.. (await fixture.SessionsAsync()).Where(s => SessionTags.IsOurs(s, Target) && s.NetworkInterfaceId == eni)];

    private static string Stamp(DateTimeOffset time) => time.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    /// <summary>Runs the reconcile as the schedule does: a run that reports failures is followed by the next run.</summary>
    private static async Task ReconcileUntilCleanAsync(AutoMirrorServices services, string payload)
    {
        var handler = new ReconcileHandler(services);
        for (var run = 1; ; run++)
        {
            try
            {
                await Fakes.TestWorld.InvokeAsync(handler.HandleAsync, payload);
                return;
            }
            catch (ReconcileFailedException) when (run < 5)
            {
            }
        }
    }

    private static int? VniOf(IEnumerable<TrafficMirrorSession> sessions, string instanceId) =>
        sessions.First(s => s.Tags[SessionTags.InstanceId] == instanceId).VirtualNetworkId;

    private static string StateEvent(string instanceId, string state, string? time = null) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["version"] = "0",
        ["id"] = Guid.NewGuid().ToString(),
        ["detail-type"] = "EC2 Instance State-change Notification",
        ["source"] = "aws.ec2",
        ["account"] = "123456789012",
        ["time"] = time ?? DateTimeOffset.UtcNow.AddSeconds(5).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        ["region"] = "us-east-1",
        ["resources"] = new[] { "arn:aws:ec2:us-east-1:123456789012:instance/" + instanceId },
        ["detail"] = new Dictionary<string, string> { ["instance-id"] = instanceId, ["state"] = state },
    });

    private static string TagEvent(string instanceId, string[] changed, Dictionary<string, string> tags) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["version"] = "0",
        ["id"] = Guid.NewGuid().ToString(),
        ["detail-type"] = "Tag Change on Resource",
        ["source"] = "aws.tag",
        ["account"] = "123456789012",
        ["time"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        ["region"] = "us-east-1",
        ["resources"] = new[] { "arn:aws:ec2:us-east-1:123456789012:instance/" + instanceId },
        ["detail"] = new Dictionary<string, object> { ["changed-tag-keys"] = changed, ["service"] = "ec2", ["resource-type"] = "instance", ["version"] = 4, ["tags"] = tags },
    });
}
