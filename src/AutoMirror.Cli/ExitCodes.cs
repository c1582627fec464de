namespace AutoMirror.Cli;

/// <summary>What `automirror` returns; scripts rely on these, so they never change meaning.</summary>
public static class ExitCodes
{
    /// <summary>Done; for reconcile and teardown, every change applied (or, with --dry-run, planned).</summary>
    public const int Ok = 0;

    /// <summary>AWS answered with an error, or some instance/session could not be brought to its desired state.</summary>
    public const int Failed = 1;

    /// <summary>The command line or a setting (option or environment variable) is missing or malformed.</summary>
    public const int Usage = 2;

    /// <summary>No AWS credentials or no region, or AWS rejected the credentials.</summary>
    public const int NoCredentials = 3;

    /// <summary>The named lab has no live instance: there was nothing to act on.</summary>
    public const int NothingToDo = 4;

    public const string HelpText =
        "Exit codes: 0 ok; 1 AWS error or a change that failed; 2 bad usage or setting; "
        + "3 missing or rejected AWS credentials, or no region; 4 the named lab has no instances.";
}
