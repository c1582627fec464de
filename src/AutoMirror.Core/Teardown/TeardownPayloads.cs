using System.Text.Json.Serialization;

namespace AutoMirror.Core.Teardown;

// The teardown workflow's payloads (docs/contracts.md, "Teardown workflow"). Property names are the wire names.

/// <summary>Workflow input, as IdleLabsHandler starts it: <c>{"lab","action","reasons"}</c>.</summary>
public sealed record TeardownInput(
    [property: JsonPropertyName("lab")] string Lab,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("reasons")] TeardownReasons Reasons);

public sealed record TeardownReasons(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("details")] IReadOnlyList<string> Details,
    [property: JsonPropertyName("requestedAction")] string RequestedAction,
    [property: JsonPropertyName("notes")] IReadOnlyList<string> Notes);

/// <summary>ListLabSessions output, stored at <c>$.lab</c>; <c>name</c> keeps the lab's name once <c>$.lab</c> is replaced.</summary>
public sealed record LabSessionList(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sessions")] IReadOnlyList<SessionRef> Sessions,
    [property: JsonPropertyName("instanceIds")] IReadOnlyList<string> InstanceIds);

/// <summary>One session, as listed and as the Map's DeleteSession input.</summary>
public sealed record SessionRef(
    [property: JsonPropertyName("sessionId")] string SessionId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] [property: JsonPropertyName("instanceId")] string? InstanceId,
    [property: JsonPropertyName("networkInterfaceId")] string NetworkInterfaceId);

/// <summary>DeleteSession output. <c>outcome</c>: deleted | already-gone | not-automirror; the workflow's Map turns a
/// delete that still fails into <c>{"sessionId","outcome":"failed","error","cause"}</c>.</summary>
public sealed record DeleteOutcome(
    [property: JsonPropertyName("sessionId")] string SessionId,
    [property: JsonPropertyName("outcome")] string Outcome);

/// <summary>InstanceAction input <c>{"lab","action","instanceIds"}</c>.</summary>
public sealed record InstanceActionRequest(
    [property: JsonPropertyName("lab")] string Lab,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("instanceIds")] IReadOnlyList<string> InstanceIds);

/// <summary>InstanceAction output: what was done to which instances, and why anything was not.</summary>
public sealed record InstanceActionResult(
    [property: JsonPropertyName("lab")] string Lab,
    [property: JsonPropertyName("requestedAction")] string RequestedAction,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("stoppedInstanceIds")] IReadOnlyList<string> StoppedInstanceIds,
    [property: JsonPropertyName("terminatedInstanceIds")] IReadOnlyList<string> TerminatedInstanceIds,
    [property: JsonPropertyName("excludedInstanceIds")] IReadOnlyList<string> ExcludedInstanceIds,
    [property: JsonPropertyName("notes")] IReadOnlyList<string> Notes);

/// <summary>The report for one lab: the workflow's output, a log line, and the CLI's teardown answer.</summary>
public sealed record LabReport(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] [property: JsonPropertyName("lab")] string? Lab,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("idle")] bool Idle,
    [property: JsonPropertyName("reasons")] IReadOnlyList<string> Reasons,
    [property: JsonPropertyName("requestedAction")] string RequestedAction,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("applied")] bool Applied,
    [property: JsonPropertyName("instanceIds")] IReadOnlyList<string> InstanceIds,
    [property: JsonPropertyName("sessionIds")] IReadOnlyList<string> SessionIds,
    [property: JsonPropertyName("deletedSessionIds")] IReadOnlyList<string> DeletedSessionIds,
    [property: JsonPropertyName("stoppedInstanceIds")] IReadOnlyList<string> StoppedInstanceIds,
    [property: JsonPropertyName("terminatedInstanceIds")] IReadOnlyList<string> TerminatedInstanceIds,
    [property: JsonPropertyName("excludedInstanceIds")] IReadOnlyList<string> ExcludedInstanceIds,
    [property: JsonPropertyName("notes")] IReadOnlyList<string> Notes,
    [property: JsonPropertyName("hourlyCostSaved")] decimal HourlyCostSaved,
    [property: JsonPropertyName("notDeletedSessionIds")] IReadOnlyList<string> NotDeletedSessionIds,
    [property: JsonPropertyName("failures")] IReadOnlyList<string> Failures)
{
    /// <summary>
    /// A run that changed nothing (dry run, report): each session a real run would delete, with its instance and lab.
    /// Null when the run was applied (then <see cref="Deleted"/> says what it did).
    /// </summary>
    [JsonPropertyName("wouldDelete")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<TeardownSessionLine>? WouldDelete { get; init; }

    /// <summary>An applied run: each session it deleted, with its instance and lab. Null when nothing was applied.</summary>
    [JsonPropertyName("deleted")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<TeardownSessionLine>? Deleted { get; init; }

    /// <summary>
    /// What a real run would save per hour, for a run that changed nothing; <see cref="HourlyCostSaved"/> is then 0,
    /// because nothing was saved. Null when the run was applied.
    /// </summary>
    [JsonPropertyName("hourlyCostWouldSave")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? HourlyCostWouldSave { get; init; }
}

/// <summary>One session in a teardown report: the session, the instance whose interface it mirrors, the lab.</summary>
public sealed record TeardownSessionLine(
    [property: JsonPropertyName("sessionId")] string SessionId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] [property: JsonPropertyName("instanceId")] string? InstanceId,
    [property: JsonPropertyName("networkInterfaceId")] string? NetworkInterfaceId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] [property: JsonPropertyName("lab")] string? Lab);

/// <summary>IdleLabsFunction output: every lab's verdict and the executions started for the idle ones.</summary>
public sealed record IdleLabsResult(
    [property: JsonPropertyName("evaluatedAt")] DateTimeOffset EvaluatedAt,
    [property: JsonPropertyName("idleMinutes")] int IdleMinutes,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("labs")] IReadOnlyList<LabReport> Labs,
    [property: JsonPropertyName("executions")] IReadOnlyList<StartedTeardown> Executions);

public sealed record StartedTeardown(
    [property: JsonPropertyName("lab")] string Lab,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] [property: JsonPropertyName("executionArn")] string? ExecutionArn,
    [property: JsonPropertyName("alreadyStarted")] bool AlreadyStarted)
{
    /// <summary>Why the execution was not started (its input would exceed Step Functions' 256 KiB); absent otherwise.</summary>
    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }
}
