using System.Globalization;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// Decides, per lab, whether it is idle and why. Pure: instances, AutoMirror's sessions, traffic evidence and the
/// time in; verdicts out. A lab is idle when it expired (<c>automirror:expires-at</c> passed), when every instance
/// has been stopped for the idle period, or when every instance positively had no mirrored traffic over it.
/// Any doubt (no metrics, unparseable stop time, malformed expiry) keeps the lab.
/// </summary>
public static class IdleLabDetector
{
    public static IReadOnlyList<LabVerdict> Detect(
        IReadOnlyList<LabInstance> instances,
        IReadOnlyList<LabSession> sessions,
        IReadOnlyDictionary<string, InstanceTraffic> traffic,
        DateTimeOffset now,
        TeardownSettings settings)
    {
        ArgumentNullException.ThrowIfNull(instances);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(traffic);
        ArgumentNullException.ThrowIfNull(settings);

        var labs = new SortedDictionary<string, List<LabInstance>>(StringComparer.Ordinal);
        foreach (var instance in instances)
        {
            if (LabOf(instance, settings) is { } lab)
            {
                if (!labs.TryGetValue(lab, out var members))
                {
                    labs[lab] = members = [];
                }

                members.Add(instance);
            }
        }

        var verdicts = new List<LabVerdict>(labs.Count + 1);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (lab, members) in labs)
        {
            var labSessions = SessionsOf(members, sessions);
            claimed.UnionWith(labSessions.Select(s => s.SessionId));
            var (status, reasons) = Judge(members, traffic, now, settings);
            verdicts.Add(new LabVerdict(lab, status, reasons, members, labSessions));
        }

        var orphans = sessions.Where(s => !claimed.Contains(s.SessionId)).ToList();
        if (orphans.Count > 0)
        {
            verdicts.Add(new LabVerdict(null, LabStatus.NotALab,
                [$"instances without the '{settings.LabTagKey}' tag form no lab and are never torn down as one"], [], orphans));
        }

        return verdicts;
    }

    public static string? LabOf(LabInstance instance, TeardownSettings settings)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(settings);
        return instance.Tags.TryGetValue(settings.LabTagKey, out var lab) && !string.IsNullOrWhiteSpace(lab) ? lab.Trim() : null;
    }

    /// <summary>A session belongs to the lab by its source interface, or by the instance it was tagged with.</summary>
    public static IReadOnlyList<LabSession> SessionsOf(IReadOnlyList<LabInstance> members, IReadOnlyList<LabSession> sessions)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(sessions);
        var enis = members.SelectMany(m => m.NetworkInterfaceIds).ToHashSet(StringComparer.Ordinal);
        var ids = members.Select(m => m.InstanceId).ToHashSet(StringComparer.Ordinal);
        return [.. sessions.Where(s => enis.Contains(s.NetworkInterfaceId) || (s.InstanceId is { } id && ids.Contains(id)))];
    }

    private static (LabStatus Status, IReadOnlyList<string> Reasons) Judge(
        List<LabInstance> members, IReadOnlyDictionary<string, InstanceTraffic> traffic, DateTimeOffset now, TeardownSettings settings)
    {
        var reasons = new List<string>();
        if (Expiry(members, now, reasons) is { } expiredAt)
        {
            reasons.Insert(0, $"expired at {Iso(expiredAt)} ({Ago(now - expiredAt)} ago)");
            return (LabStatus.Expired, reasons);
        }

        var idle = settings.IdlePeriod;
        var idleText = Minutes(idle);
        var windowStart = now - idle;
        var withTraffic = new List<string>();
        var recentlyStopped = new List<string>();
        var unknown = new List<string>();
        var stoppedLongEnough = 0;
        foreach (var instance in members)
        {
            if (string.Equals(instance.State, "stopped", StringComparison.Ordinal))
            {
                if (!StopTime.TryParse(instance.StateTransitionReason, out var stoppedAt))
                {
                    unknown.Add($"{instance.InstanceId} is stopped but its stop time is unknown ('{instance.StateTransitionReason}')");
                }
                else if (stoppedAt <= windowStart)
                {
                    stoppedLongEnough++;
                }
                else if (traffic.TryGetValue(instance.InstanceId, out var t) && t.Kind == TrafficKind.Traffic)
                {
                    withTraffic.Add($"{instance.InstanceId}: {t.Reason} before it stopped");
                }
                else
                {
                    recentlyStopped.Add($"{instance.InstanceId} stopped {Minutes(now - stoppedAt)} ago, within the {idleText} idle period");
                }

                continue;
            }

            if (!traffic.TryGetValue(instance.InstanceId, out var evidence))
            {
                unknown.Add($"{instance.InstanceId} ({instance.State}): no traffic metrics requested");
            }
            else if (evidence.Kind == TrafficKind.Traffic)
            {
                withTraffic.Add($"{instance.InstanceId}: {evidence.Reason}");
            }
            else if (evidence.Kind == TrafficKind.Unknown)
            {
                unknown.Add($"{instance.InstanceId} ({instance.State}): {evidence.Reason}");
            }
        }

        if (withTraffic.Count > 0)
        {
            reasons.Insert(0, $"mirrored traffic within the last {idleText}");
            reasons.AddRange(withTraffic);
            return (LabStatus.Active, reasons);
        }

        if (stoppedLongEnough == members.Count)
        {
            reasons.Insert(0, $"all {members.Count} instances stopped for at least {idleText}");
            return (LabStatus.IdleStopped, reasons);
        }

        if (recentlyStopped.Count > 0)
        {
            reasons.Insert(0, $"in use within the last {idleText}");
            reasons.AddRange(recentlyStopped);
            reasons.AddRange(unknown);
            return (LabStatus.Active, reasons);
        }

        if (unknown.Count > 0)
        {
            reasons.Insert(0, "traffic unknown (never idle)");
            reasons.AddRange(unknown);
            return (LabStatus.UnknownMetrics, reasons);
        }

        reasons.Insert(0, $"no mirrored traffic for at least {idleText}");
        return (LabStatus.IdleNoTraffic, reasons);
    }

    /// <summary>
    /// The lab's expiry is the latest expiry among its instances (the lab lives as long as any member is meant to);
    /// a malformed value blocks expiry altogether, as it may be a future date someone mistyped.
    /// </summary>
    private static DateTimeOffset? Expiry(List<LabInstance> members, DateTimeOffset now, List<string> reasons)
    {
        DateTimeOffset? latest = null;
        var malformed = false;
        foreach (var instance in members)
        {
            if (!instance.Tags.TryGetValue(TeardownSettings.ExpiresAtTagKey, out var text))
            {
                continue;
            }

            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                malformed = true;
                reasons.Add($"{instance.InstanceId}: {TeardownSettings.ExpiresAtTagKey} '{text}' is not an ISO 8601 time; expiry ignored");
                continue;
            }

            latest = latest is null || at > latest ? at : latest;
        }

        if (malformed || latest is null)
        {
            return null;
        }

        if (latest > now)
        {
            reasons.Add($"expires at {Iso(latest.Value)}");
            return null;
        }

        return latest;
    }

    private static string Ago(TimeSpan span) => span.TotalHours switch
    {
        < 2 => Minutes(span),
        < 48 => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(span.TotalHours):0} h"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(span.TotalDays):0} d"),
    };

    internal static string Minutes(TimeSpan span) =>
        string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(span.TotalMinutes):0} min");

    private static string Iso(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
