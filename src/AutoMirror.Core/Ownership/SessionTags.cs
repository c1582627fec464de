using System.Text.Json.Serialization;
using AutoMirror.Aws.Ec2;

namespace AutoMirror.Core.Ownership;

/// <summary>The tags that mark what AutoMirror owns (docs/contracts.md, "Tags AutoMirror writes").</summary>
public static class SessionTags
{
    public const string Managed = "automirror:managed";
    public const string InstanceId = "automirror:instance-id";
    public const string EniId = "automirror:eni-id";
    public const string Lab = "automirror:lab";
    public const string Status = "automirror:status";

    /// <summary>
    /// On instances, written in the same CreateTags request as <see cref="Status"/> (and removed with it): the
    /// correlation id of the run that wrote the status, so `automirror status` names the log lines that explain it.
    /// On sessions an attach made create-first: the attach's correlation id (its event id), so Cleanup after a failure
    /// deletes exactly what its own execution made, not a concurrent execution's session on the same number. Safe on
    /// a session because that create's ClientToken (am3-) covers the correlation id: one token, always the same tags.
    /// </summary>
    public const string CorrelationId = "automirror:correlation-id";

    /// <summary>The instance tags AutoMirror writes; StatusTagPolicy's aws:TagKeys allows exactly these.</summary>
    public static readonly IReadOnlyList<string> InstanceTagKeys = [Status, CorrelationId];

    /// <summary>The value written to <see cref="Lab"/> for an instance with no lab tag (tag values may be empty).</summary>
    public const string NoLab = "";

    /// <summary>
    /// Ours = tagged managed AND aimed at our target. Both, because a foreign tool could copy the tag, and a second
    /// AutoMirror stack (another target) owns its own sessions. With <paramref name="accountId"/>, also made by this
    /// account: a target shared through AWS RAM shows its owner the sessions other accounts made to it, with their
    /// managed tag, and those are theirs to delete (only a session's owner can).
    /// </summary>
    public static bool IsOurs(TrafficMirrorSession session, string mirrorTargetId, string? accountId = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.TrafficMirrorTargetId == mirrorTargetId
            && (accountId is null || session.OwnerId is null || session.OwnerId == accountId)
            && session.Tags.TryGetValue(Managed, out var managed)
            && string.Equals(managed, "true", StringComparison.OrdinalIgnoreCase);
    }

    public static IReadOnlyDictionary<string, string> For(string instanceId, string eniId, string? lab, string? correlationId = null)
    {
        var tags = new Dictionary<string, string>
        {
            [Managed] = "true",
            [InstanceId] = instanceId,
            [EniId] = eniId,
            [Lab] = lab ?? NoLab,
        };
        if (correlationId is not null)
        {
            tags[CorrelationId] = correlationId;
        }

        return tags;
    }
}

/// <summary>Values of the optional automirror:status tag on instances (written by <see cref="WireNames.ToWireName"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MirrorStatus>))]
public enum MirrorStatus
{
    [JsonStringEnumMemberName("mirrored")]
    Mirrored,

    [JsonStringEnumMemberName("unsupported-instance-type")]
    UnsupportedInstanceType,

    [JsonStringEnumMemberName("session-limit")]
    SessionLimit,

    [JsonStringEnumMemberName("excluded")]
    Excluded,

    [JsonStringEnumMemberName("error")]
    Error,

    /// <summary>AutoMirror removed the instance's sessions; the tag's value is <c>detached:&lt;reason&gt;</c>.</summary>
    [JsonStringEnumMemberName("detached")]
    Detached,

    /// <summary>Target kinds (issue #17 item 1): the interface target has its sources already; attached when one leaves.</summary>
    [JsonStringEnumMemberName("waiting")]
    Waiting,
}
