using System.Text.Json.Nodes;
using AutoMirror.Cli.Status;
using AutoMirror.Core.Costs;
using AutoMirror.Testing;
using AutoMirror.Testing.Teardown;

namespace AutoMirror.Cli.Tests;

/// <summary>The built `automirror` against the local cloud: the table an operator reads and the JSON a script reads.</summary>
[Trait("Category", "Integration")]
public sealed class CliLocalCloudTests(LocalCloud cloud) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private readonly LocalCloudLab _lab = new(cloud.Endpoint);
    private DeployedStack _stack = null!;
    private string _targetId = "";
    private string _filterId = "";

    public async Task InitializeAsync()
    {
        await _lab.ControlAsync("reset", "{}");
        // The stack `sam deploy` makes: the operator points the command at its target and filter (its outputs).
        _stack = await DeployedStack.DeployAsync(cloud);
        (_targetId, _filterId) = (_stack.MirrorTargetId, _stack.MirrorFilterId);
    }

    public async Task DisposeAsync()
    {
        _lab.Dispose();
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }

    private Dictionary<string, string> Environment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = "test",
        ["AWS_SECRET_ACCESS_KEY"] = "test",
        ["AWS_REGION"] = LocalCloudLab.Region,
        ["AWS_ENDPOINT_URL"] = cloud.Endpoint.ToString(),
        ["MIRROR_TARGET_ID"] = _targetId,
        ["MIRROR_FILTER_ID"] = _filterId,
    };

    private Task<CliResult> Automirror(params string[] args) => AutomirrorProcess.RunAsync(Environment(), args);

    /// <summary>
    /// Lab "red": two instances with one AutoMirror session each, the first also with a foreign session. An
    /// instance with the mirror tag but no lab, with one of our sessions. The stack's sensor, healthy behind the
    /// stack's target group.
    /// </summary>
    private async Task<World> WorldAsync()
    {
        var red = await _lab.RunInstancesAsync(2, new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "red", ["automirror:status"] = "mirrored" });
        var sessions = new List<string>();
        foreach (var (id, eni) in red)
        {
            sessions.Add(await _lab.CreateSessionAsync(eni, _targetId, _filterId, 1, LocalCloudLab.OurSessionTags(id, eni, "red")));
        }

        var foreign = await _lab.CreateSessionAsync(red[0].EniId, _targetId, _filterId, 2, new Dictionary<string, string> { ["owner"] = "secops" });
        var (loner, lonerEni) = (await _lab.RunInstancesAsync(1, new Dictionary<string, string> { ["automirror"] = "true" }))[0];
        var lonerSession = await _lab.CreateSessionAsync(lonerEni, _targetId, _filterId, 1, LocalCloudLab.OurSessionTags(loner, lonerEni, null));
        var sensor = (string)_stack.Document["sensorInstanceIds"]![0]!;
        var group = _stack.TargetGroupArn;
        await _lab.ControlAsync("target-health", $$"""{"targetGroupArn":"{{group}}","state":"healthy"}""");
        return new World([.. red.Select(r => r.InstanceId)], sessions, foreign, loner, lonerSession, sensor, group);
    }

    private sealed record World(IReadOnlyList<string> Red, IReadOnlyList<string> RedSessions, string Foreign, string Loner, string LonerSession, string Sensor, string TargetGroup);

    private static void AssertFitsIn100Columns(CliResult result) =>
        Assert.All(result.Lines, line => Assert.True(line.Length <= 100, $"{line.Length} columns: {line}"));

    [Fact]
    public async Task Status_Table_ShowsInstancesSessionsLabCostAndSensorHealth()
    {
        var world = await WorldAsync();

        var result = await Automirror("status", "--target-group-arn", world.TargetGroup);

        Assert.True(result.ExitCode == 0, result.Error);
        AssertFitsIn100Columns(result);
        var lines = result.Lines;
        Assert.Matches(@"^INSTANCE\s+LAB\s+STATE\s+STATUS\s+SESS\s+OTHER\s+\$/HOUR$", lines[0]);
        Assert.Matches($@"^{world.Red[0]}\s+red\s+running\s+mirrored\s+1\s+1\s+\$0\.015$", lines.Single(l => l.StartsWith(world.Red[0], StringComparison.Ordinal)));
        Assert.Matches($@"^{world.Red[1]}\s+red\s+running\s+mirrored\s+1\s+0\s+\$0\.015$", lines.Single(l => l.StartsWith(world.Red[1], StringComparison.Ordinal)));
        Assert.Matches($@"^{world.Loner}\s+-\s+running\s+-\s+1\s+0\s+\$0\.015$", lines.Single(l => l.StartsWith(world.Loner, StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith(world.Sensor, StringComparison.Ordinal) && l.Contains("running", StringComparison.Ordinal));
        Assert.Matches(@"^red\s+2\s+2\s+\$0\.030\s+unknown-metrics\s+", lines.Single(l => l.StartsWith("red ", StringComparison.Ordinal)));
        Assert.Contains($"Sensor: target {_targetId}, 1 of 1 targets healthy.", lines);
        Assert.Matches($@"^{world.Sensor}\s+4789\s+healthy$", lines.Single(l => l.StartsWith(world.Sensor, StringComparison.Ordinal)));
        Assert.Contains("Total: 3 instances, 3 AutoMirror sessions, $0.045/hour.", lines); // the estimate section follows it
    }

    [Fact]
    public async Task Status_Json_HasStableKeysAndTheSameFacts()
    {
        var world = await WorldAsync();

        var result = await Automirror("status", "--json", "--target-group-arn", world.TargetGroup);

        Assert.True(result.ExitCode == 0, result.Error);
        var json = JsonNode.Parse(result.Output)!.AsObject();
        Assert.Equal(["instances", "labs", "sensor", "totals", "estimate"], json.Select(p => p.Key));
        var first = json["instances"]!.AsArray().Single(i => i!["instanceId"]!.GetValue<string>() == world.Red[0])!.AsObject();
        Assert.Equal(["instanceId", "lab", "state", "mirrorTag", "statusTag", "correlationId", "sessions", "otherSessions", "hourlyCost"], first.Select(p => p.Key));
        Assert.Equal("red", first["lab"]!.GetValue<string>());
        Assert.Equal(world.RedSessions[0], first["sessions"]![0]!["sessionId"]!.GetValue<string>());
        Assert.Equal(["sessionId", "networkInterfaceId", "sessionNumber", "virtualNetworkId", "correlationId"], first["sessions"]![0]!.AsObject().Select(p => p.Key));
        Assert.Equal(1, first["otherSessions"]!.GetValue<int>());
        var loner = json["instances"]!.AsArray().Single(i => i!["instanceId"]!.GetValue<string>() == world.Loner)!;
        Assert.Null(loner["lab"]);
        var red = json["labs"]!.AsArray().Single()!.AsObject();
        Assert.Equal(["lab", "instances", "sessions", "hourlyCost", "status", "idle", "reasons"], red.Select(p => p.Key));
        Assert.Equal(0.030m, red["hourlyCost"]!.GetValue<decimal>());
        Assert.False(red["idle"]!.GetValue<bool>());
        Assert.Equal(1, json["sensor"]!["healthyTargets"]!.GetValue<int>());
        Assert.Equal(world.Sensor, json["sensor"]!["targets"]![0]!["targetId"]!.GetValue<string>());
        Assert.Equal(3, json["totals"]!["sessions"]!.GetValue<int>());
        Assert.Equal(0.045m, json["totals"]!["hourlyCost"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task Status_EstimatesTheStacksHourlyCost_FromItsTargetSessionsAndSensor()
    {
        var world = await WorldAsync();

        var json = JsonNode.Parse((await Automirror("status", "--json", "--target-group-arn", world.TargetGroup)).Output)!["estimate"]!;
        var table = await Automirror("status", "--target-group-arn", world.TargetGroup);
        var asEni = JsonNode.Parse((await Automirror("status", "--json", "--target-group-arn", world.TargetGroup, "--target-kind", "eni")).Output)!["estimate"]!;

        // The zones the sensor and the mirrored instances are in, as EC2 says (the lab's instances land where they land).
        using var aws = new AutoMirror.Aws.AwsClients(AutoMirror.Aws.AwsClientOptions.FromEnvironment(name => Environment().GetValueOrDefault(name), () => null,
            () => new Amazon.Runtime.BasicAWSCredentials("test", "test")));
        var placed = await aws.Ec2.DescribeInstancesAsync([new AutoMirror.Aws.Ec2.Ec2Filter("instance-id", [.. world.Red, world.Loner, world.Sensor])], CancellationToken.None);
        var zones = placed.Select(i => i.AvailabilityZone).Distinct().Count();

        // The stack's NLB target, our three sessions (not the foreign one), its one c6in.large sensor.
        Assert.Equal(("nlb", 3, 1, "c6in.large", zones), ((string?)json["targetKind"], (int)json["sessions"]!, (int)json["sensors"]!, (string?)json["sensorType"], (int)json["zones"]!));
        var expected = (3 * MirrorPrices.SessionHour) + MirrorPrices.NlbHour + MirrorPrices.SensorHour["c6in.large"];
        Assert.Equal(expected, json["hourlyTotal"]!.GetValue<decimal>());
        var perGb = decimal.Round(MirrorPrices.NlcuHour + (MirrorPrices.CrossZoneGb * (zones - 1) / zones), 6);
        Assert.Equal(perGb, json["perMirroredGb"]!.GetValue<decimal>());
        Assert.Equal(["mirror sessions", "network load balancer", "sensor instances"], json["lines"]!.AsArray().Select(l => (string?)l!["item"]));
        Assert.Contains(table.Lines, l => l == string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Estimated: {StatusTable.Money(expected)}/hour plus ${perGb:0.0000} per mirrored GB."));
        AssertFitsIn100Columns(table);
        // Priced as another kind on request: an ENI target has no load balancer to pay for.
        Assert.Equal(expected - MirrorPrices.NlbHour, asEni["hourlyTotal"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task Status_ForOneLab_ListsOnlyItAndAnUnknownLabExitsWith4()
    {
        var world = await WorldAsync();

        var red = await Automirror("status", "--lab", "red", "--json");
        var none = await Automirror("status", "--lab", "no-such-lab");

        Assert.True(red.ExitCode == 0, red.Error);
        Assert.Equal(world.Red.Order(), JsonNode.Parse(red.Output)!["instances"]!.AsArray().Select(i => i!["instanceId"]!.GetValue<string>()).Order());
        Assert.Equal(4, none.ExitCode);
        Assert.Contains("No tagged instances.", none.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Teardown_DryRun_SaysWhatWouldHappenAndChangesNothing()
    {
        var world = await WorldAsync();
        var before = await _lab.SessionIdsAsync();

        var result = await Automirror("teardown", "--lab", "red", "--action", "stop", "--dry-run", "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        var report = JsonNode.Parse(result.Output)!;
        Assert.Equal("stop", report["action"]!.GetValue<string>());
        Assert.False(report["applied"]!.GetValue<bool>());
        Assert.Equal(world.RedSessions.Order(), report["sessionIds"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
        Assert.Empty(report["deletedSessionIds"]!.AsArray());
        Assert.Equal(0m, report["hourlyCostSaved"]!.GetValue<decimal>());
        Assert.Equal(0.030m, report["hourlyCostWouldSave"]!.GetValue<decimal>());
        var wouldDelete = report["wouldDelete"]!.AsArray();
        Assert.Equal(world.RedSessions.Order(), wouldDelete.Select(s => s!["sessionId"]!.GetValue<string>()).Order());
        Assert.Equal(world.Red.Order(), wouldDelete.Select(s => s!["instanceId"]!.GetValue<string>()).Order());
        Assert.All(wouldDelete, s => Assert.Equal("red", s!["lab"]!.GetValue<string>()));
        Assert.Equal(before, await _lab.SessionIdsAsync());
        Assert.Equal("running", await _lab.StateAsync(world.Red[0]));

        // The table says the same: each session, its instance and lab, and savings labelled as a real run's.
        var table = await Automirror("teardown", "--lab", "red", "--action", "stop", "--dry-run");
        AssertFitsIn100Columns(table);
        Assert.Contains(table.Lines, l => l.StartsWith("Hourly cost a real run would save: $0.030", StringComparison.Ordinal));
        Assert.All(world.RedSessions, id => Assert.Contains(table.Lines, l => l.StartsWith(id, StringComparison.Ordinal) && l.TrimEnd().EndsWith("red", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Teardown_Detach_DeletesOnlyTheLabsAutoMirrorSessions()
    {
        var world = await WorldAsync();

        var result = await Automirror("teardown", "--lab", "red", "--action", "detach");

        Assert.True(result.ExitCode == 0, result.Error);
        AssertFitsIn100Columns(result);
        Assert.Contains("Action: detach (requested detach), applied", result.Lines);
        Assert.Contains("Sessions deleted: 2 of 2", result.Lines);
        Assert.Contains("Hourly cost saved: $0.030", result.Lines);
        Assert.Contains(result.Lines, l => l.StartsWith("Instances excluded from mirroring: ", StringComparison.Ordinal));
        Assert.Equal(new[] { world.Foreign, world.LonerSession }.Order(), await _lab.SessionIdsAsync());
        Assert.Equal("running", await _lab.StateAsync(world.Red[1]));

        // The detach sticks: the reconcile that repairs missed events does not re-attach the lab.
        var reconcile = await Automirror("reconcile");
        Assert.True(reconcile.ExitCode == 0, reconcile.Error + reconcile.Output);
        Assert.Equal(new[] { world.Foreign, world.LonerSession }.Order(), await _lab.SessionIdsAsync());
    }

    [Fact]
    public async Task Teardown_Terminate_WithoutTheOptIns_StopsAndSaysWhy()
    {
        var world = await WorldAsync();

        var result = await Automirror("teardown", "--lab", "red", "--action", "terminate", "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        var report = JsonNode.Parse(result.Output)!;
        Assert.Equal("stop", report["action"]!.GetValue<string>());
        Assert.Contains(report["notes"]!.AsArray(), n => n!.GetValue<string>().Contains("ALLOW_TERMINATE=false", StringComparison.Ordinal));
        Assert.Contains(await _lab.StateAsync(world.Red[0]), new[] { "stopping", "stopped" });
    }

    [Fact]
    public async Task Reconcile_DryRunPlansWithoutChanging_ThenReconcileMirrors()
    {
        var (blue, blueEni) = (await _lab.RunInstancesAsync(1, new Dictionary<string, string> { ["automirror"] = "true", ["lab"] = "blue" }))[0];

        var plan = await Automirror("reconcile", "--dry-run", "--json");

        Assert.True(plan.ExitCode == 0, plan.Error + plan.Output);
        var planned = JsonNode.Parse(plan.Output)!;
        Assert.True(planned["dryRun"]!.GetValue<bool>());
        Assert.Contains(planned["plannedChanges"]!.AsArray(), c =>
            c!["action"]!.GetValue<string>() == "create-session" && c["resourceId"]!.GetValue<string>() == blueEni);
        Assert.Empty(await _lab.SessionIdsAsync());

        var applied = await Automirror("reconcile");

        Assert.True(applied.ExitCode == 0, applied.Error + applied.Output);
        AssertFitsIn100Columns(applied);
        Assert.Matches($@"^{blue}\s+mirrored\s+", applied.Lines.Single(l => l.StartsWith(blue, StringComparison.Ordinal)));
        var status = JsonNode.Parse((await Automirror("status", "--json")).Output)!;
        var instance = status["instances"]!.AsArray().Single(i => i!["instanceId"]!.GetValue<string>() == blue)!;
        Assert.Equal(blueEni, instance["sessions"]![0]!["networkInterfaceId"]!.GetValue<string>());

        // The run that wrote the status is named, in the JSON and in the table, by the id its log lines carry.
        Assert.Equal("mirrored", instance["statusTag"]!.GetValue<string>());
        var correlationId = instance["correlationId"]!.GetValue<string>();
        Assert.StartsWith("cli-reconcile-", correlationId, StringComparison.Ordinal);
        var table = await Automirror("status", "--target-group-arn", _stack.TargetGroupArn);
        AssertFitsIn100Columns(table);
        Assert.Contains(table.Lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^{blue}\s+{correlationId}$"));
    }
}
