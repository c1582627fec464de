using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

public class SessionPlannerTests
{
    private static readonly AutoMirrorSettings Settings = AutoMirrorSettings.FromVariables(TestWorld.Defaults);
    private static readonly InstanceNetworkInterface Eni1 = new("eni-1", "interface", 0, "subnet-1", null);
    private static readonly InstanceNetworkInterface Eni2 = new("eni-2", "interface", 1, "subnet-1", null);

    private static TrafficMirrorSession Ours(string id, string eni, int number) =>
        new(id, eni, TestWorld.Target, TestWorld.Filter, number, 5, null, null, SessionTags.For("i-1", eni, "lab"));

    private static TrafficMirrorSession Foreign(string id, string eni, int number, string target = "tmt-foreign", Dictionary<string, string>? tags = null) =>
        new(id, eni, target, "tmf-x", number, 9, null, null, tags ?? []);

    [Fact]
    public void Plan_WithNoSessions_CreatesOnePerSourceWithNumberOne()
    {
        var plan = SessionPlanner.Plan([Eni1, Eni2], [], "lab", 5, Settings);

        Assert.Equal(2, plan.ToCreate.Count);
        Assert.All(plan.ToCreate, p => Assert.Equal(1, p.SessionNumber));
        Assert.All(plan.ToCreate, p => Assert.Equal(5, p.VirtualNetworkId));
        Assert.Empty(plan.ToDelete);
    }

    [Fact]
    public void Plan_WhenOurSessionExists_CreatesNothingForThatInterface()
    {
        var plan = SessionPlanner.Plan([Eni1, Eni2], [Ours("tms-1", "eni-1", 1)], "lab", 5, Settings);

        Assert.Equal(["eni-2"], plan.ToCreate.Select(p => p.NetworkInterfaceId));
        Assert.Equal(["tms-1"], plan.Existing.Select(s => s.TrafficMirrorSessionId));
    }

    [Fact]
    public void Plan_WhenEniHasThreeForeignSessions_ReportsSessionLimit()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 1), Foreign("b", "eni-1", 2), Foreign("c", "eni-1", 3)], "lab", 5, Settings);

        Assert.Empty(plan.ToCreate);
        Assert.Equal(["eni-1"], plan.SessionLimitedEniIds);
        Assert.Empty(plan.ToDelete);
    }

    [Fact]
    public void Plan_WithForeignSessions_TakesTheNextNumberAboveThemSoTheirTrafficIsNotStolen()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 1), Foreign("b", "eni-1", 7)], "lab", 5, Settings);

        Assert.Equal(8, Assert.Single(plan.ToCreate).SessionNumber);
    }

    [Fact]
    public void Plan_WithPreferredNumberFree_UsesIt()
    {
        var settings = Settings with { PreferredSessionNumber = 100 };
        Assert.Equal(100, Assert.Single(SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 1)], "lab", 5, settings).ToCreate).SessionNumber);
    }

    [Fact]
    public void Plan_WithPreferredNumberTaken_UsesTheNextFreeOne()
    {
        var settings = Settings with { PreferredSessionNumber = 100 };
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 100), Foreign("b", "eni-1", 101)], "lab", 5, settings);
        Assert.Equal(102, Assert.Single(plan.ToCreate).SessionNumber);
    }

    [Fact]
    public void ChooseSessionNumber_WhenTopIsTaken_WrapsToLowestFree() =>
        Assert.Equal(1, SessionPlanner.ChooseSessionNumber(new HashSet<int> { 32766 }, null));

    [Fact]
    public void Plan_WithTwoOfOurSessionsOnOneInterface_KeepsLowestNumberDeletesOther()
    {
        var plan = SessionPlanner.Plan([Eni1], [Ours("tms-b", "eni-1", 2), Ours("tms-a", "eni-1", 1)], "lab", 5, Settings);

        Assert.Equal("tms-a", Assert.Single(plan.Existing).TrafficMirrorSessionId);
        Assert.Equal("tms-b", Assert.Single(plan.ToDelete).TrafficMirrorSessionId);
    }

    [Fact]
    public void Plan_NeverDeletesForeignSessionsEvenWhenTaggedManagedForAnotherTarget()
    {
        var lookalike = Foreign("x", "eni-1", 1, "tmt-other", new Dictionary<string, string> { [SessionTags.Managed] = "true" });
        var plan = SessionPlanner.Plan([Eni1], [lookalike, Foreign("y", "eni-1", 2, TestWorld.Target)], "lab", 5, Settings);

        Assert.Empty(plan.ToDelete);
        Assert.Equal(3, Assert.Single(plan.ToCreate).SessionNumber);
    }

    [Fact]
    public void Plan_WithOurSessionOnAnInterfaceNoLongerASource_DeletesIt()
    {
        var plan = SessionPlanner.Plan([Eni1], [Ours("tms-old", "eni-9", 1)], "lab", 5, Settings);
        Assert.Equal("tms-old", Assert.Single(plan.ToDelete).TrafficMirrorSessionId);
    }

    [Fact]
    public void Plan_WhenInstanceWasRelabelled_ReplacesOurSessionUnderAnotherNumber()
    {
        var plan = SessionPlanner.Plan([Eni1], [Ours("tms-old", "eni-1", 1)], "lab-new", 77, Settings);

        Assert.Equal("tms-old", Assert.Single(plan.ToDelete).TrafficMirrorSessionId);
        var replacement = Assert.Single(plan.ToCreate);
        Assert.Equal(77, replacement.VirtualNetworkId);
        Assert.NotEqual(1, replacement.SessionNumber);
    }

    [Fact]
    public void Plan_WhenRelabelledInterfaceIsFull_StillReplacesBecauseTheOldSessionGoesFirst()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 1), Foreign("b", "eni-1", 2), Ours("tms-old", "eni-1", 3)], "lab-new", 77, Settings);

        Assert.Single(plan.ToDelete);
        Assert.Equal(4, Assert.Single(plan.ToCreate).SessionNumber);
        Assert.Empty(plan.SessionLimitedEniIds);
    }

    [Fact]
    public void Plan_WithCurrentAndStaleSessions_KeepsTheCurrentOne()
    {
        var stale = Ours("tms-stale", "eni-1", 1) with { Tags = SessionTags.For("i-1", "eni-1", "lab-old") };
        var plan = SessionPlanner.Plan([Eni1], [stale, Ours("tms-current", "eni-1", 2)], "lab", 5, Settings);

        Assert.Equal("tms-current", Assert.Single(plan.Existing).TrafficMirrorSessionId);
        Assert.Equal("tms-stale", Assert.Single(plan.ToDelete).TrafficMirrorSessionId);
        Assert.Empty(plan.ToCreate);
    }

    [Fact]
    public void Plan_ClientTokenIsDerivedFromInterfaceTargetFilterAndNumber()
    {
        var planned = Assert.Single(SessionPlanner.Plan([Eni1], [], "lab", 5, Settings).ToCreate);
        Assert.Equal(SessionIdentity.ClientToken("eni-1", TestWorld.Target, TestWorld.Filter, 1), planned.ClientToken);
        Assert.NotEqual(planned.ClientToken, SessionIdentity.ClientToken("eni-1", TestWorld.Target, TestWorld.Filter, 2));
        Assert.NotEqual(planned.ClientToken, SessionIdentity.ClientToken("eni-2", TestWorld.Target, TestWorld.Filter, 1));
        Assert.True(planned.ClientToken.Length <= 64);
    }
}
