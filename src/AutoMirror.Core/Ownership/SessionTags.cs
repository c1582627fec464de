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

    /// <summary>The value written to <see cref="Lab"/> for an instance with no lab tag (tag values may be empty).</summary>
    public const string NoLab = "";

    /// <summary>
    /// Ours = tagged managed AND aimed at our target. Both, because a foreign tool could copy the tag, and a second
    /// AutoMirror stack (another target) owns its own sessions.
    /// </summary>
    public static bool IsOurs(TrafficMirrorSession session, string mirrorTargetId)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.TrafficMirrorTargetId == mirrorTargetId
            && session.Tags.TryGetValue(Managed, out var managed)
            && string.Equals(managed, "true", StringComparison.OrdinalIgnoreCase);
    }

    public static IReadOnlyDictionary<string, string> For(string instanceId, string eniId, string? lab) => new Dictionary<string, string>
    {
        [Managed] = "true",
        [InstanceId] = instanceId,
        [EniId] = eniId,
        [Lab] = lab ?? NoLab,
    };
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
}
