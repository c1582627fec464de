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
    public void Plan_WithNoSessions_CreatesOnePerSourceWithTheLastNumber()
    {
        var plan = SessionPlanner.Plan([Eni1, Eni2], [], "lab", 5, Settings);

        Assert.Equal(2, plan.ToCreate.Count);
        // 32766: behind any session someone else makes on the interface later, and the number create-first tries.
        Assert.All(plan.ToCreate, p => Assert.Equal(32766, p.SessionNumber));
        Assert.All(plan.ToCreate, p => Assert.Equal("last-free", p.NumberReason));
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
    public void Plan_WithForeignSessions_TakesANumberAboveThemSoTheirTrafficIsNotStolen()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 1), Foreign("b", "eni-1", 7)], "lab", 5, Settings);

        var planned = Assert.Single(plan.ToCreate);
        Assert.Equal(32766, planned.SessionNumber);
        Assert.Equal("after-foreign:7", planned.NumberReason);
    }

    [Fact]
    public void Plan_WhenAForeignSessionHoldsTheLastNumber_NothingIsLeftBehindIt_SoTheInterfaceIsSessionLimited()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 32766)], "lab", 5, Settings);

        Assert.Empty(plan.ToCreate);
        Assert.Equal(["eni-1"], plan.SessionLimitedEniIds);
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
    public void Plan_PreferredNumberAheadOfAForeignSession_IsNotTakenAndThePlanSaysWhy()
    {
        // AWS evaluates an interface's sessions from the lowest number up; number 1 would take the user's packets.
        var settings = Settings with { PreferredSessionNumber = 1 };
        var planned = Assert.Single(SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 5)], "lab", 5, settings).ToCreate);

        Assert.Equal(6, planned.SessionNumber);
        Assert.Equal("after-foreign:5", planned.NumberReason);
    }

    [Fact]
    public void Plan_PreferredNumberAheadOfForeign_IsTakenOnlyWhenTheOperatorAllowedExactlyThat()
    {
        var settings = Settings with { PreferredSessionNumber = 1, PreferredSessionNumberAheadOfForeign = true };
        var planned = Assert.Single(SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 5)], "lab", 5, settings).ToCreate);

        Assert.Equal(1, planned.SessionNumber);
        Assert.Equal("preferred-ahead-of-foreign", planned.NumberReason);
    }

    [Fact]
    public void Plan_PreferredNumberBehindEveryForeignSession_IsTaken()
    {
        var settings = Settings with { PreferredSessionNumber = 20 };
        var planned = Assert.Single(SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 5)], "lab", 5, settings).ToCreate);

        Assert.Equal((20, "preferred"), (planned.SessionNumber, planned.NumberReason));
    }

    [Fact]
    public void Plan_NoFreeNumberLeftBehindTheForeignSessions_ReportsTheInterfaceInsteadOfJumpingAhead()
    {
        var plan = SessionPlanner.Plan([Eni1], [Foreign("a", "eni-1", 32766)], "lab", 5, Settings);

        Assert.Empty(plan.ToCreate);
        Assert.Equal(["eni-1"], plan.SessionLimitedEniIds);
    }

    [Fact]
    public void Plan_OurSessionMadeForAnotherInstance_IsReplacedUnderAFreshNumber()
    {
        // The interface was moved here from i-1: its session mirrors this instance now, under the old one's name.
        var moved = Ours("tms-moved", "eni-1", 1);
        var plan = SessionPlanner.Plan([Eni1], [moved], "lab", 5, Settings, "i-2");

        Assert.Equal([moved], plan.ToDelete);
        Assert.Equal(32766, Assert.Single(plan.ToCreate).SessionNumber);
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
        Assert.Equal(32766, Assert.Single(plan.ToCreate).SessionNumber);
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
        Assert.Equal(32766, Assert.Single(plan.ToCreate).SessionNumber);
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
        Assert.Equal(SessionIdentity.ClientToken("eni-1", TestWorld.Target, TestWorld.Filter, 32766), planned.ClientToken);
        Assert.NotEqual(planned.ClientToken, SessionIdentity.ClientToken("eni-1", TestWorld.Target, TestWorld.Filter, 2));
        Assert.NotEqual(planned.ClientToken, SessionIdentity.ClientToken("eni-2", TestWorld.Target, TestWorld.Filter, 32766));
        Assert.True(planned.ClientToken.Length <= 64);
    }
}

/// <summary>Through the Attach workflow's steps: the number taken behind a user's session, and why, in the plan, the created sessions and the log.</summary>
public class ForeignSessionsFirstTests
{
    [Fact]
    public async Task PreferredNumberOne_WithAUserSessionAtFive_TakesSixAndEveryStepSaysWhy()
    {
        var world = new TestWorld(n => n == "PREFERRED_SESSION_NUMBER" ? "1" : TestWorld.Defaults(n));
        var id = world.Ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" });
        var foreign = world.Ec2.AddForeignSession(world.Ec2.InterfacesOf(id)[0], "tmt-foreign", 5);

        var plan = System.Text.Json.Nodes.JsonNode.Parse(await TestWorld.InvokeAsync(world.Steps.EvaluateAsync, "{\"instanceId\":\"" + id + "\",\"trigger\":\"tag\",\"eventId\":\"e-1\"}"))!;
        var created = System.Text.Json.Nodes.JsonNode.Parse(await TestWorld.InvokeAsync(world.Steps.CreateSessionsAsync, plan.ToJsonString()))!;

        Assert.Equal(6, plan["sessions"]![0]!["sessionNumber"]!.GetValue<int>());
        Assert.Equal("after-foreign:5", plan["sessions"]![0]!["numberReason"]!.GetValue<string>());
        Assert.Equal("after-foreign:5", created["sessions"]![0]!["numberReason"]!.GetValue<string>());
        Assert.Contains(world.Log.Decisions, d => d.Action == "create-session" && d.SessionNumber == 6 && d.SessionNumberReason == "after-foreign:5");
        var ours = Assert.Single(world.OurSessions());
        Assert.True(ours.SessionNumber > foreign.SessionNumber, "AWS evaluates the lower number first: ours must come after the user's");
    }
}
