using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Tests.Teardown;

public class TeardownPlannerTests
{
    private static readonly TeardownSettings Settings = new() { MirrorTargetId = "tmt-ours", SessionHourlyPrice = 0.015m };

    private static LabInstance Instance(string id, string state = "stopped", bool optIn = false)
    {
        var tags = new Dictionary<string, string> { ["lab"] = "red" };
        if (optIn)
        {
            tags["automirror:allow-terminate"] = "true";
        }

        return new LabInstance(id, state, tags, ["eni-" + id[2..]]);
    }

    private static LabVerdict Idle(params LabInstance[] instances) =>
        new("red", LabStatus.IdleStopped, ["all stopped"], instances,
            [.. instances.Select(i => new LabSession("tms-" + i.InstanceId[2..], "eni-" + i.InstanceId[2..], i.InstanceId))]);

    [Fact]
    public void Plan_Report_ChangesNothingAndSaysWhatDetachWouldSave()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1"), Instance("i-2")), TeardownAction.Report, Settings);

        Assert.Equal(TeardownAction.Report, plan.Action);
        Assert.False(plan.Applies);
        Assert.Equal(2, plan.SessionsToDelete.Count);
        Assert.Empty(plan.InstancesToStop);
        Assert.Equal(0.030m, plan.HourlyCostSaved);
    }

    [Fact]
    public void Plan_WhenLabIsNotIdle_DowngradesToReport()
    {
        var verdict = Idle(Instance("i-1", "running")) with { Status = LabStatus.UnknownMetrics };

        var plan = TeardownPlanner.Plan(verdict, TeardownAction.Stop, Settings);

        Assert.Equal(TeardownAction.Report, plan.Action);
        Assert.False(plan.Applies);
        Assert.Contains("lab is unknown-metrics: nothing is done", plan.Notes);
    }

    [Fact]
    public void Plan_Stop_StopsOnlyRunningInstancesAfterDetaching()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1", "running"), Instance("i-2", "stopped")), TeardownAction.Stop, Settings);

        Assert.True(plan.Applies);
        Assert.Equal(["i-1"], plan.InstancesToStop);
        Assert.Equal(2, plan.SessionsToDelete.Count);
    }

    [Fact]
    public void Plan_Terminate_WithoutTheStackOptIn_StopsInstead()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1", "running", optIn: true)), TeardownAction.Terminate, Settings);

        Assert.Equal(TeardownAction.Stop, plan.Action);
        Assert.Empty(plan.InstancesToTerminate);
        Assert.Contains(plan.Notes, n => n.Contains("ALLOW_TERMINATE=false", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_Terminate_WhenOneInstanceLacksTheTag_StopsInstead()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1", optIn: true), Instance("i-2")), TeardownAction.Terminate,
            Settings with { AllowTerminate = true });

        Assert.Equal(TeardownAction.Stop, plan.Action);
        Assert.Contains(plan.Notes, n => n.Contains("missing on i-2", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_Terminate_WithBothOptIns_Terminates()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1", optIn: true), Instance("i-2", "running", optIn: true)), TeardownAction.Terminate,
            Settings with { AllowTerminate = true });

        Assert.Equal(TeardownAction.Terminate, plan.Action);
        Assert.Equal(["i-1", "i-2"], plan.InstancesToTerminate);
    }

    [Fact]
    public void Plan_DryRun_AppliesNothing()
    {
        var plan = TeardownPlanner.Plan(Idle(Instance("i-1", "running")), TeardownAction.Stop, Settings, dryRun: true);

        Assert.Equal(TeardownAction.Stop, plan.Action);
        Assert.False(plan.Applies);
        Assert.Equal(["i-1"], plan.InstancesToStop);
    }

    [Fact]
    public void Plan_NotALab_IsNeverTornDownEvenWhenForced()
    {
        var verdict = new LabVerdict(null, LabStatus.NotALab, [], [], [new LabSession("tms-9", "eni-9", "i-9")]);

        var plan = TeardownPlanner.Plan(verdict, TeardownAction.Detach, Settings, force: true);

        Assert.False(plan.Applies);
        Assert.Empty(plan.SessionsToDelete);
    }
}
