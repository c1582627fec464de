using AutoMirror.Core.Configuration;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// What the teardown needs to know, and nothing else, so the domain can be tested without an environment.
/// Tags with fixed names (expiry, terminate opt-in) are AutoMirror's own and so not configurable.
/// </summary>
public sealed record TeardownSettings
{
    public const string ExpiresAtTagKey = "automirror:expires-at";

    public const string AllowTerminateTagKey = "automirror:allow-terminate";

    public string LabTagKey { get; init; } = "lab";

    /// <summary>The opt-in tag: only instances carrying it with an accepted value are re-attached by the reconcile.</summary>
    public string MirrorTagKey { get; init; } = "automirror";

    public IReadOnlySet<string> MirrorTagValues { get; init; } = new HashSet<string>(["true"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Detach writes it (value true) on the lab's running instances, so the reconcile does not re-attach them.</summary>
    public string ExcludeTagKey { get; init; } = "automirror:exclude";

    public OptInTags OptIn => new(MirrorTagKey, MirrorTagValues, ExcludeTagKey);

    public required string MirrorTargetId { get; init; }

    /// <summary>The stack's account: a shared target lists other accounts' sessions, which are not ours.</summary>
    public string? AccountId { get; init; }

    public TimeSpan IdlePeriod { get; init; } = TimeSpan.FromMinutes(120);

    public TeardownAction Action { get; init; } = TeardownAction.Report;

    /// <summary>The stack-level opt-in for terminate; every instance of the lab must opt in as well.</summary>
    public bool AllowTerminate { get; init; }

    public decimal SessionHourlyPrice { get; init; } = 0.015m;

    public string? StateMachineArn { get; init; }

    /// <summary>The teardown's share of the functions' settings (read once from the environment by <see cref="AutoMirrorSettings"/>).</summary>
    public static TeardownSettings From(AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!TeardownActions.TryParse(settings.TeardownAction, out var action))
        {
            throw new ConfigurationException($"TEARDOWN_ACTION must be one of {string.Join(" | ", TeardownActions.Names)}, got '{settings.TeardownAction}'");
        }

        return new TeardownSettings
        {
            LabTagKey = settings.LabTagKey,
            MirrorTagKey = settings.MirrorTagKey,
            MirrorTagValues = settings.MirrorTagValues,
            ExcludeTagKey = settings.ExcludeTagKey,
            MirrorTargetId = settings.MirrorTargetId,
            AccountId = settings.AccountId,
            IdlePeriod = TimeSpan.FromMinutes(settings.IdleMinutes),
            Action = action,
            AllowTerminate = settings.AllowTerminate,
            SessionHourlyPrice = settings.SessionHourlyPrice,
            StateMachineArn = settings.TeardownStateMachineArn,
        };
    }
}
