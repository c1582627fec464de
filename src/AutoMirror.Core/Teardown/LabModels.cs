namespace AutoMirror.Core.Teardown;

/// <summary>An instance as the teardown sees it: its lab comes from its tags.</summary>
public sealed record LabInstance(
    string InstanceId,
    string State,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<string> NetworkInterfaceIds,
    string? StateTransitionReason = null);

/// <summary>An AutoMirror session (tagged managed, to our target) and the instance it mirrors.</summary>
public sealed record LabSession(string SessionId, string NetworkInterfaceId, string? InstanceId);

/// <summary>Why a lab is, or is not, torn down. Wire names are the report's <c>status</c> values.</summary>
public enum LabStatus
{
    Active,
    IdleNoTraffic,
    IdleStopped,
    Expired,
    UnknownMetrics,
    NotALab,
}

public static class LabStatuses
{
    public static string ToName(this LabStatus status) => status switch
    {
        LabStatus.Active => "active",
        LabStatus.IdleNoTraffic => "idle-no-traffic",
        LabStatus.IdleStopped => "idle-stopped",
        LabStatus.Expired => "expired",
        LabStatus.UnknownMetrics => "unknown-metrics",
        LabStatus.NotALab => "not-a-lab",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static bool IsIdle(this LabStatus status) =>
        status is LabStatus.IdleNoTraffic or LabStatus.IdleStopped or LabStatus.Expired;
}

/// <summary>
/// The detector's answer for one lab. <see cref="Lab"/> is null for the group of AutoMirror sessions whose
/// instance carries no lab tag: they are listed so the report accounts for them, and never torn down.
/// </summary>
public sealed record LabVerdict(
    string? Lab,
    LabStatus Status,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<LabInstance> Instances,
    IReadOnlyList<LabSession> Sessions)
{
    public bool IsIdle => Lab is not null && Status.IsIdle();

    public IEnumerable<string> InstanceIds => Instances.Select(i => i.InstanceId);
}
