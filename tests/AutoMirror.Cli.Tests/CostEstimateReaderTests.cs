using AutoMirror.Cli.Status;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Costs;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Cli.Tests;

public sealed class CostEstimateReaderTests
{
    private const string Target = "tmt-0000000000000000a";

    [Fact]
    public async Task Estimate_CountsTheZonesOfSensorsAndMirroredInstances_ForTheCrossZoneShare()
    {
        var ec2 = new FakeEc2();
        ec2.AddTarget(Target, networkInterfaceId: null);
        var sensor = ec2.Launch(instanceType: "c6in.large", availabilityZone: "us-east-1a");
        var source = ec2.Launch(availabilityZone: "us-east-1b");

        var estimate = await new CostEstimateReader(ec2, Settings()).ReadAsync(Report(sensor, source), null, CancellationToken.None);

        Assert.Equal(("nlb", 2, 1, "c6in.large"), (estimate.TargetKind, estimate.Zones, estimate.Sensors, estimate.SensorType));
        // Half the bytes cross zones at $0.02 on top of the NLCU.
        Assert.Equal(MirrorPrices.NlcuHour + (MirrorPrices.CrossZoneGb / 2), estimate.PerMirroredGb);
        Assert.Empty(estimate.Notes);
        Assert.Equal(1, ec2.Calls["DescribeInstances"]);
    }

    [Fact]
    public async Task Estimate_SensorTypeWithoutAPriceHere_IsPricedAtZero_AndSaysSo()
    {
        var ec2 = new FakeEc2();
        ec2.AddTarget(Target, networkInterfaceId: null);
        var sensor = ec2.Launch(instanceType: "m7i.large", availabilityZone: "us-east-1a");

        var estimate = await new CostEstimateReader(ec2, Settings()).ReadAsync(Report(sensor, null), null, CancellationToken.None);

        Assert.Equal(0m, estimate.Lines.Single(l => l.Item == "sensor instances").Hourly);
        Assert.Contains(estimate.Notes, n => n.Contains("m7i.large", StringComparison.Ordinal));
    }

    private static AutoMirrorSettings Settings() => AutoMirrorSettings.FromVariables(name => name switch
    {
        "MIRROR_TARGET_ID" => Target,
        "MIRROR_FILTER_ID" => "tmf-0000000000000000b",
        _ => null,
    });

    private static StatusReport Report(string sensor, string? source)
    {
        var sessions = source is null ? [] : new[] { new SessionStatus("tms-1", "eni-1", 1, 7) };
        var instances = source is null ? [] : new[] { new InstanceStatus(source, null, "running", "true", "mirrored", null, sessions, 0, 0.015m) };
        return new StatusReport(instances, [], new SensorStatus(Target, "arn:tg", 1, [new TargetStatus(sensor, 4789, "healthy", null)]),
            new StatusTotals(instances.Length, sessions.Length, sessions.Length * 0.015m));
    }
}
