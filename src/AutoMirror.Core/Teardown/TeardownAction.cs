namespace AutoMirror.Core.Teardown;

/// <summary>What a teardown does to an idle lab, in increasing order of harm.</summary>
public enum TeardownAction
{
    /// <summary>Change nothing; the report says what the other actions would do.</summary>
    Report,

    /// <summary>Delete the lab's AutoMirror sessions.</summary>
    Detach,

    /// <summary>Detach, then stop the lab's instances.</summary>
    Stop,

    /// <summary>Detach, then terminate the lab's instances: only where the stack and every instance opt in.</summary>
    Terminate,
}

public static class TeardownActions
{
    public static IReadOnlyList<string> Names { get; } = ["report", "detach", "stop", "terminate"];

    public static string ToName(this TeardownAction action) => action switch
    {
        TeardownAction.Report => "report",
        TeardownAction.Detach => "detach",
        TeardownAction.Stop => "stop",
        TeardownAction.Terminate => "terminate",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    public static bool TryParse(string? value, out TeardownAction action)
    {
        switch (value?.Trim().ToUpperInvariant())
        {
            case "REPORT": action = TeardownAction.Report; return true;
            case "DETACH": action = TeardownAction.Detach; return true;
            case "STOP": action = TeardownAction.Stop; return true;
            case "TERMINATE": action = TeardownAction.Terminate; return true;
            default: action = TeardownAction.Report; return false;
        }
    }
}
