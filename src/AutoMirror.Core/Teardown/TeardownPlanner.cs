namespace AutoMirror.Core.Teardown;

/// <summary>
/// What a teardown of one lab does. <see cref="Applies"/> false means nothing changes and the lists say what
/// would; for <see cref="TeardownAction.Report"/> they are what a detach would do.
/// </summary>
public sealed record TeardownPlan(
    string Lab,
    TeardownAction RequestedAction,
    TeardownAction Action,
    bool Applies,
    IReadOnlyList<LabSession> SessionsToDelete,
    IReadOnlyList<string> InstancesToStop,
    IReadOnlyList<string> InstancesToTerminate,
    IReadOnlyList<string> Notes,
    decimal HourlyCostSaved);

public static class TeardownPlanner
{
    private static readonly HashSet<string> Stoppable = new(["pending", "running"], StringComparer.Ordinal);

    private static readonly HashSet<string> Terminable = new(["pending", "running", "stopping", "stopped"], StringComparer.Ordinal);

    /// <summary>
    /// Plans <paramref name="requested"/> for the lab of <paramref name="verdict"/>. A lab that is not idle gets a
    /// report unless <paramref name="force"/> (an operator naming the lab); a lab that is not a lab gets nothing.
    /// Terminate falls back to stop unless the stack allows it and every instance of the lab opts in.
    /// </summary>
    public static TeardownPlan Plan(LabVerdict verdict, TeardownAction requested, TeardownSettings settings, bool dryRun = false, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        ArgumentNullException.ThrowIfNull(settings);
        var notes = new List<string>();
        var lab = verdict.Lab ?? "";
        var action = requested;

        if (verdict.Lab is null)
        {
            notes.Add("not a lab: never torn down");
            return new TeardownPlan(lab, requested, TeardownAction.Report, false, [], [], [], notes, 0);
        }

        if (!verdict.IsIdle && !force && action != TeardownAction.Report)
        {
            notes.Add($"lab is {verdict.Status.ToName()}: nothing is done");
            action = TeardownAction.Report;
        }

        if (action == TeardownAction.Terminate && RefuseTerminate(verdict, settings) is { } refusal)
        {
            notes.Add(refusal + "; stopping instead");
            action = TeardownAction.Stop;
        }

        var applies = action != TeardownAction.Report && !dryRun;
        if (dryRun && action != TeardownAction.Report)
        {
            notes.Add("dry run: nothing is changed");
        }

        var sessions = verdict.Sessions;
        var toStop = action == TeardownAction.Stop
            ? verdict.Instances.Where(i => CanStop(i.State)).Select(i => i.InstanceId).ToList()
            : [];
        var toTerminate = action == TeardownAction.Terminate
            ? verdict.Instances.Where(i => CanTerminate(i.State)).Select(i => i.InstanceId).ToList()
            : [];
        return new TeardownPlan(lab, requested, action, applies, sessions, toStop, toTerminate, notes,
            sessions.Count * settings.SessionHourlyPrice);
    }

    public static bool CanStop(string state) => Stoppable.Contains(state);

    public static bool CanTerminate(string state) => Terminable.Contains(state);

    /// <summary>Null when terminate is allowed: the stack parameter and the tag on every instance of the lab.</summary>
    public static string? RefuseTerminate(LabVerdict verdict, TeardownSettings settings)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.AllowTerminate)
        {
            return "terminate is not allowed by the stack (ALLOW_TERMINATE=false)";
        }

        var missing = verdict.Instances.Where(i => !OptsIntoTerminate(i)).Select(i => i.InstanceId).ToList();
        return missing.Count == 0 && verdict.Instances.Count > 0
            ? null
            : $"terminate needs {TeardownSettings.AllowTerminateTagKey}=true on every instance; missing on {string.Join(", ", missing)}";
    }

    public static bool OptsIntoTerminate(LabInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return instance.Tags.TryGetValue(TeardownSettings.AllowTerminateTagKey, out var value)
            && string.Equals(value.Trim(), "true", StringComparison.OrdinalIgnoreCase);
    }
}
