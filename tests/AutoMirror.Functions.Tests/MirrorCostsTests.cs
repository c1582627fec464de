using System.Globalization;
using AutoMirror.Core.Costs;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests;

public sealed class MirrorCostsTests
{
    private const decimal C6inLarge = 0.1134m;

    [Fact]
    public void Nlb_TwoInstances_SessionsPlusBalancerPlusOneSensor()
    {
        var estimate = MirrorCosts.Estimate(new CostInputs(TargetKind.Nlb, Sessions: 2, Sensors: 1, Zones: 2, C6inLarge, ZoneLocal: false));

        // 2 × $0.015 + $0.0225 + 1 × $0.1134
        Assert.Equal(0.1659m, estimate.HourlyTotal);
        // $0.006 per NLCU (1 GB) + half the bytes crossing zones at $0.02
        Assert.Equal(0.016m, estimate.PerMirroredGb);
    }

    [Fact]
    public void Nlb_ZoneLocal_NeedsASensorPerZone_AndNoCrossZoneBytes()
    {
        var estimate = MirrorCosts.Estimate(new CostInputs(TargetKind.Nlb, Sessions: 20, Sensors: 1, Zones: 3, C6inLarge, ZoneLocal: true));

        Assert.Equal(3, estimate.Sensors);
        Assert.Equal((20 * 0.015m) + 0.0225m + (3 * C6inLarge), estimate.HourlyTotal);
        Assert.Equal(0.006m, estimate.PerMirroredGb);
    }

    [Fact]
    public void Eni_TakesTenSourcesPerTarget_SoTwoHundredInstancesNeedTwentySensors()
    {
        var estimate = MirrorCosts.Estimate(new CostInputs(TargetKind.Eni, Sessions: 200, Sensors: 1, Zones: 2, C6inLarge, ZoneLocal: false));

        Assert.Equal(20, estimate.Sensors);
        Assert.Equal((200 * 0.015m) + (20 * C6inLarge), estimate.HourlyTotal);
        Assert.Equal(0.01m, estimate.PerMirroredGb);
    }

    [Fact]
    public void Eni_ZoneLocal_HasNoBalancerToKeepTrafficInTheZone_AndIsPricedAsEni()
    {
        var local = MirrorCosts.Estimate(new CostInputs(TargetKind.Eni, 2, 1, 2, C6inLarge, ZoneLocal: true));
        var plain = MirrorCosts.Estimate(new CostInputs(TargetKind.Eni, 2, 1, 2, C6inLarge, ZoneLocal: false));

        Assert.Equal(plain.HourlyTotal, local.HourlyTotal);
        Assert.Equal(plain.PerMirroredGb, local.PerMirroredGb);
    }

    [Fact]
    public void Gwlbe_BillsTheBalancerAndOneEndpointPerZone()
    {
        var estimate = MirrorCosts.Estimate(new CostInputs(TargetKind.Gwlbe, Sessions: 2, Sensors: 1, Zones: 2, C6inLarge, ZoneLocal: false));

        Assert.Equal((2 * 0.015m) + 0.0125m + (2 * 0.01m) + C6inLarge, estimate.HourlyTotal);
        Assert.Equal(0.004m + 0.0035m + 0.01m, estimate.PerMirroredGb);
    }

    [Fact]
    public void SessionPrice_FollowsTheStacksSetting()
    {
        var estimate = MirrorCosts.Estimate(new CostInputs(TargetKind.Nlb, 10, 1, 1, C6inLarge, false) { SessionHourlyPrice = 0.02m });

        Assert.Equal(0.2m, estimate.Lines.Single(l => l.Item == "mirror sessions").Hourly);
        Assert.Equal(0.006m, estimate.PerMirroredGb); // one zone: nothing crosses
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, 0, 1)]
    [InlineData(1, 1, -1)]
    public void BadInputs_AreRefused(int zones, int sensors, int sessions) =>
        Assert.ThrowsAny<ArgumentOutOfRangeException>(() => MirrorCosts.Estimate(new CostInputs(TargetKind.Nlb, sessions, sensors, zones, C6inLarge, false)));

    [Theory]
    [InlineData("nlb", TargetKind.Nlb)]
    [InlineData("network-load-balancer", TargetKind.Nlb)]
    [InlineData("ENI", TargetKind.Eni)]
    [InlineData("network-interface", TargetKind.Eni)]
    [InlineData("gwlbe", TargetKind.Gwlbe)]
    [InlineData("gateway-load-balancer-endpoint", TargetKind.Gwlbe)]
    public void ParseKind_ReadsTheParameterAndEc2sTypeNames(string text, TargetKind kind) => Assert.Equal(kind, MirrorCosts.ParseKind(text));

    [Fact]
    public void ParseKind_Unknown_IsNull() => Assert.Null(MirrorCosts.ParseKind("alb"));

    /// <summary>The README's cost table is this rate card's arithmetic: a price change shows up in both or the test fails.</summary>
    [Fact]
    public void ReadmeCostTable_MatchesTheEstimate()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md"));

        foreach (var row in ReadmeRows())
        {
            Assert.Contains(row, readme, StringComparison.Ordinal);
        }

        Assert.Contains("us-east-1 list prices as of " + MirrorPrices.AsOf, readme, StringComparison.Ordinal);
    }

    /// <summary>Two zones, one interface per instance, c6in.large sensors: the rows of README.md's cost table.</summary>
    public static IEnumerable<string> ReadmeRows()
    {
        (string Label, TargetKind Kind, bool ZoneLocal)[] options =
        [
            ("`nlb` (default, cross-zone)", TargetKind.Nlb, false),
            ("`nlb`, `ZoneLocalDelivery=true`", TargetKind.Nlb, true),
            ("`eni`", TargetKind.Eni, false),
            ("`gwlbe` (cross-zone)", TargetKind.Gwlbe, false),
            ("`gwlbe`, zone-local", TargetKind.Gwlbe, true),
        ];
        foreach (var (label, kind, zoneLocal) in options)
        {
            var cells = new[] { 2, 20, 200 }.Select(n => MirrorCosts.Estimate(new CostInputs(kind, n, 1, 2, C6inLarge, zoneLocal)))
                .Select(e => string.Create(CultureInfo.InvariantCulture, $"${e.HourlyTotal:0.000} ({e.Sensors} sensor{(e.Sensors == 1 ? "" : "s")})"));
            var perGb = MirrorCosts.Estimate(new CostInputs(kind, 2, 1, 2, C6inLarge, zoneLocal)).PerMirroredGb;
            yield return string.Create(CultureInfo.InvariantCulture, $"| {label} | {string.Join(" | ", cells)} | ${perGb:0.0000} |");
        }
    }
}
