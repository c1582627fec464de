using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// What the automirror:status tag should say, given what it says now. Pure, so the attach steps, Verify and the
/// fleet survey agree on it (a survey that disagreed with the steps would re-queue an instance on every run):
/// - an instance out of scope (<see cref="MirrorPolicy.InScope"/>) carries no status tag: it is removed;
/// - a qualifying one says <c>mirrored</c> or <c>session-limit</c>;
/// - one whose sessions AutoMirror removes now, or whose tag still claims mirroring, says <c>detached:&lt;reason&gt;</c>,
///   and keeps that (with its first reason) while it stays detached;
/// - otherwise the policy's status (<c>excluded</c>, <c>unsupported-instance-type</c>, <c>error</c>) or none.
/// </summary>
public static class StatusTagRule
{
    public const string DetachedPrefix = "detached:";

    /// <summary>EC2 tag values: at most 256 characters.</summary>
    public const int MaxTagValueLength = 256;

    /// <param name="current">The tag's value now (null when absent).</param>
    /// <param name="eligibility">The policy's verdict for the instance now.</param>
    /// <param name="removedSessions">AutoMirror deleted sessions of this instance in this decision.</param>
    /// <param name="qualifyingStatus">For a qualifying instance: mirrored or session-limit.</param>
    public static string? Desired(string? current, Eligibility eligibility, bool removedSessions, MirrorStatus? qualifyingStatus = null)
    {
        ArgumentNullException.ThrowIfNull(eligibility);
        if (!eligibility.InScope)
        {
            return null;
        }

        if (eligibility.Qualifies)
        {
            return (qualifyingStatus ?? MirrorStatus.Mirrored).ToWireName();
        }

        if (removedSessions || current == MirrorStatus.Mirrored.ToWireName() || current == MirrorStatus.SessionLimit.ToWireName())
        {
            return Detached(eligibility.Reason);
        }

        if (current is not null && current.StartsWith(DetachedPrefix, StringComparison.Ordinal))
        {
            return current;
        }

        return eligibility.Status?.ToWireName();
    }

    public static string Detached(string reason) => TagValue(DetachedPrefix + reason);

    /// <summary>
    /// A value EC2 accepts in a tag: at most 256 characters (EC2 restricts no characters; a correlation id is free
    /// text from an event, so it is cut to fit).
    /// </summary>
    public static string TagValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Length <= MaxTagValueLength ? value : value[..MaxTagValueLength];
    }
}
