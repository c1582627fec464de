using System.Text.Json;
using System.Text.Json.Serialization;

using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>Attach workflow input (docs/contracts.md). Nullable because it is checked, not trusted.</summary>
public sealed record AttachInput(string? InstanceId, string? Trigger, string? EventId);

/// <summary>Evaluate's decision, <c>$.plan.decision</c>: the ASL's ShouldAttach Choice compares it with "attach".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AttachDecision>))]
public enum AttachDecision
{
    [JsonStringEnumMemberName("attach")]
    Attach,

    [JsonStringEnumMemberName("skip")]
    Skip,

    [JsonStringEnumMemberName("detach")]
    Detach,
}

public static class SkipReasons
{
    /// <summary>Skip reasons that mean "the instance qualifies and has what it can have".</summary>
    public const string AlreadyMirrored = "already-mirrored";
    public const string SessionLimit = "session-limit";

    /// <summary>A qualifying instance the scheduled reconcile left alone: the sensor target has no healthy target.</summary>
    public const string WaitingForSensor = "waiting-for-healthy-sensor";

    /// <summary>Target kinds (issue #17 item 1): the interface target holds as many sources as AWS allows.</summary>
    public const string WaitingForTarget = "waiting-for-target-room";

    public static bool Qualified(AttachPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Decision == AttachDecision.Attach || (plan.Decision == AttachDecision.Skip && plan.Reason is AlreadyMirrored or SessionLimit);
    }
}

/// <summary>One instance's end state after a reconcile (<c>outcomes[].outcome</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InstanceOutcomeKind>))]
public enum InstanceOutcomeKind
{
    [JsonStringEnumMemberName("mirrored")]
    Mirrored,

    [JsonStringEnumMemberName("session-limit")]
    SessionLimit,

    [JsonStringEnumMemberName("detached")]
    Detached,

    [JsonStringEnumMemberName("skipped")]
    Skipped,

    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>Qualifies, but the interface target has no room for its sources yet (issue #17 item 1).</summary>
    [JsonStringEnumMemberName("waiting")]
    Waiting,
}

/// <summary>
/// Evaluate's output, <c>$.plan</c>. <see cref="Lab"/> and <see cref="SessionLimitedEniIds"/> go beyond the
/// contract's minimum: CreateSessions needs the lab for the session tags and Verify needs to know which interfaces
/// were full before it started.
/// </summary>
public sealed record AttachPlan(
    string InstanceId,
    AttachDecision? Decision,
    string Reason,
    IReadOnlyList<PlannedSession> Sessions,
    IReadOnlyList<string> ExistingSessionIds,
    string? Lab = null,
    IReadOnlyList<string>? SessionLimitedEniIds = null)
{
    /// <summary>Carried so a refusal by AWS at create time can be remembered for the type.</summary>
    public string? InstanceType { get; init; }

    /// <summary>The attach's correlation id (the triggering event's id): every later step logs under it.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>
    /// Planned without describing the interfaces' sessions: each source's session is created first under an
    /// <see cref="SessionIdentity.AttachClientToken"/>, the create's answer verifies it, and only an interface whose
    /// create met a conflict (number taken, interface full) is described, by Verify.
    /// </summary>
    public bool CreateFirst { get; init; }

    /// <summary>The instance's zone (Placement), for the zone-local health gate.</summary>
    public string? AvailabilityZone { get; init; }
}

/// <summary>
/// CheckTargetHealth's output, <c>$.health</c>. <see cref="Healthy"/> opens the gate: any healthy sensor, or with
/// zone-local delivery one in <see cref="AvailabilityZone"/>, the source's zone (then the in-zone count is set).
/// </summary>
public sealed record TargetHealth(int HealthyTargets, bool Healthy)
{
    public string? AvailabilityZone { get; init; }

    public int? HealthyTargetsInZone { get; init; }
}

public sealed record CreatedSession(string NetworkInterfaceId, string SessionId, int SessionNumber, string ClientToken)
{
    /// <summary>Why this session number was taken (the plan's <see cref="PlannedSession.NumberReason"/>).</summary>
    public string? NumberReason { get; init; }
}

/// <summary>
/// CreateSessions' output, <c>$.created</c>. <see cref="Refused"/> is set when AWS refused the create for a reason
/// that is final for this instance (its type cannot be a source).
/// </summary>
public sealed record CreatedSessions(
    IReadOnlyList<string> SessionIds,
    IReadOnlyList<CreatedSession>? Sessions = null,
    IReadOnlyList<string>? SessionLimitedEniIds = null,
    MirrorStatus? Refused = null)
{
    /// <summary>Interfaces AWS refused because the interface target is full (issue #17 item 1): they wait.</summary>
    public IReadOnlyList<string>? WaitingEniIds { get; init; }
}

public sealed record VerifyInput(AttachPlan? Plan, CreatedSessions? Created);

public sealed record Verified(string InstanceId, string Status, IReadOnlyList<string> SessionIds, IReadOnlyList<string> DeletedSessionIds)
{
    /// <summary>The attach's correlation id, so the workflow's output names the log lines that explain it.</summary>
    public string? CorrelationId { get; init; }
}

public sealed record CleanupInput(AttachPlan? Plan, JsonElement? Error);

public sealed record CleanupResult(string InstanceId, IReadOnlyList<string> DeletedSessionIds)
{
    public string? CorrelationId { get; init; }
}

/// <summary>One instance's end state after a reconcile or an event, as reported to the caller.</summary>
public sealed record InstanceOutcome(
    string InstanceId,
    InstanceOutcomeKind Outcome,
    string Reason,
    IReadOnlyList<string> SessionIds,
    IReadOnlyList<string> CreatedSessionIds,
    IReadOnlyList<string> DeletedSessionIds);

public sealed record ReconcileReport(int Instances, int Mirrored, int SessionLimited, int Detached, int Skipped, int Failed, IReadOnlyList<InstanceOutcome> Outcomes)
{
    /// <summary>Qualifying instances left without sessions because the sensor target had no healthy target (counted in Skipped too).</summary>
    public int WaitingForSensor { get; init; }

    /// <summary>Instances that qualify but wait for room on the interface target (issue #17 item 1); each is in
    /// <see cref="Outcomes"/> with outcome "waiting".</summary>
    public int Waiting { get; init; }
}

/// <summary>ReconcileFunction's direct invocation payload: <c>{"instanceIds":[…]}</c> or <c>{"all":true}</c>.</summary>
public sealed record ReconcileRequest(IReadOnlyList<string>? InstanceIds, bool All);

/// <summary>The answer to an input no retry can fix: logged as an error and returned, not thrown.</summary>
public sealed record RejectedInput(string Outcome, string Reason);
