namespace AutoMirror.Core.Ownership;

/// <summary>
/// The opt-in and opt-out tags people set on instances. One rule, read by the mirroring policy (who qualifies) and
/// by the teardown (whom a detach marks excluded), so both agree on what "opted in" means.
/// </summary>
public sealed record OptInTags(string MirrorTagKey, IReadOnlySet<string> MirrorTagValues, string ExcludeTagKey)
{
    /// <summary>Carries the mirror tag with an accepted value (compared as the settings' set compares, trimmed).</summary>
    public bool IsOptedIn(IReadOnlyDictionary<string, string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        return tags.TryGetValue(MirrorTagKey, out var value) && MirrorTagValues.Contains(value.Trim());
    }

    /// <summary>Carries the exclude tag with <c>true</c>: never mirrored, whatever the mirror tag says.</summary>
    public bool IsExcluded(IReadOnlyDictionary<string, string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        return tags.TryGetValue(ExcludeTagKey, out var value) && string.Equals(value.Trim(), "true", StringComparison.OrdinalIgnoreCase);
    }
}
