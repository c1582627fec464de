namespace AutoMirror.Core.Logging;

/// <summary>
/// The id that ties together every log line of one piece of work: one attach (the triggering event's id, carried in
/// the plan from step to step), one reconcile, one teardown execution. Ambient (an AsyncLocal), so the domain's
/// log calls need not pass it, and concurrent invocations in one process each keep their own.
/// </summary>
public static class Correlation
{
    private static readonly AsyncLocal<string?> Current = new();

    public static string? Id => Current.Value;

    /// <summary>Sets the id until the returned scope is disposed (then the previous one is back).</summary>
    public static IDisposable Begin(string? id)
    {
        var previous = Current.Value;
        Current.Value = id;
        return new Scope(previous);
    }

    private sealed class Scope(string? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
