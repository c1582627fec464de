using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Mirroring;

public sealed record PlannedSession(string NetworkInterfaceId, int SessionNumber, int VirtualNetworkId, string ClientToken)
{
    /// <summary>Why this number (<see cref="SessionNumberChoice.Reason"/>), carried into the plan and its log line.</summary>
    public string? NumberReason { get; init; }
}

/// <summary>
/// A session number and why it was taken: <c>preferred</c>, <c>next-free</c>, <c>after-foreign:&lt;n&gt;</c> (the
/// preferred or next number would have been evaluated before a session someone else made, whose highest number is
/// n), <c>preferred-ahead-of-foreign</c> (the operator allowed exactly that).
/// </summary>
public sealed record SessionNumberChoice(int Number, string Reason);

/// <summary>What should change on one instance's interfaces so that each source has exactly one AutoMirror session.</summary>
public sealed record SessionPlan(
    IReadOnlyList<PlannedSession> ToCreate,
    IReadOnlyList<TrafficMirrorSession> Existing,
    IReadOnlyList<TrafficMirrorSession> ToDelete,
    IReadOnlyList<string> SessionLimitedEniIds)
{
    public bool HitSessionLimit => SessionLimitedEniIds.Count > 0;
}

/// <summary>
/// One source interface judged against the instance's lab and VNI: the session to keep (null when it has none) and
/// ours to delete (duplicates of the kept one, sessions of another lab or VNI).
/// </summary>
public sealed record InterfaceSessions(TrafficMirrorSession? Keep, IReadOnlyList<TrafficMirrorSession> ToDelete);

public static class SessionPlanner
{
    public const int MaxSessionsPerInterface = 3;

    /// <summary>
    /// Plans the sessions of one instance. <paramref name="sessions"/> are all sessions on the instance's interfaces
    /// (foreign ones count towards AWS's limit of 3 per interface and hold their numbers; they are never touched).
    /// Our sessions on interfaces that are no longer sources, duplicates for one interface and target (two racing
    /// creates with different numbers; the lowest number is kept), and sessions made for another lab or VNI (the
    /// instance was re-labelled) are planned for deletion; a re-labelled interface gets a new session under a number
    /// its old one did not use, so the new ClientToken cannot be answered with the deleted session.
    /// </summary>
    public static SessionPlan Plan(
        IReadOnlyList<InstanceNetworkInterface> sources,
        IReadOnlyList<TrafficMirrorSession> sessions,
        string lab,
        int virtualNetworkId,
        AutoMirrorSettings settings,
        string? instanceId = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(settings);

        var toCreate = new List<PlannedSession>();
        var existing = new List<TrafficMirrorSession>();
        var toDelete = new List<TrafficMirrorSession>();
        var limited = new List<string>();
        var sourceIds = sources.Select(s => s.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);

        toDelete.AddRange(sessions
            .Where(s => SessionTags.IsOurs(s, settings.MirrorTargetId) && !sourceIds.Contains(s.NetworkInterfaceId))
            .OrderBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal));

        foreach (var source in sources)
        {
            var onEni = sessions.Where(s => s.NetworkInterfaceId == source.NetworkInterfaceId).ToList();
            var judged = ForInterface(onEni, lab, virtualNetworkId, settings.MirrorTargetId, instanceId);
            toDelete.AddRange(judged.ToDelete);
            if (judged.Keep is { } kept)
            {
                existing.Add(kept);
                continue;
            }

            if (onEni.Count - judged.ToDelete.Count >= MaxSessionsPerInterface)
            {
                limited.Add(source.NetworkInterfaceId);
                continue;
            }

            if (ChooseSessionNumber(onEni, settings) is not { } choice)
            {
                // Every number above the foreign sessions is taken: none is left that would not steal their packets.
                limited.Add(source.NetworkInterfaceId);
                continue;
            }

            toCreate.Add(new PlannedSession(
                source.NetworkInterfaceId,
                choice.Number,
                virtualNetworkId,
                SessionIdentity.ClientToken(source.NetworkInterfaceId, settings.MirrorTargetId, settings.MirrorFilterId, choice.Number))
            {
                NumberReason = choice.Reason,
            });
        }

        return new SessionPlan(toCreate, existing, toDelete, limited);
    }

    /// <summary>
    /// The per-interface rule, shared by the plan and by Verify: of our sessions on the interface, the one for this
    /// instance, lab and VNI with the lowest number (then id) is kept — racing creates each made one, and a packet goes
    /// to the lowest number only; the other current ones and every stale one go. A session made for another instance
    /// (its interface was moved here) is stale: it is re-made under this instance, so its tags, which the teardown and
    /// the detach of a terminated instance rely on, name the instance it mirrors. Foreign sessions are not judged.
    /// </summary>
    public static InterfaceSessions ForInterface(IReadOnlyList<TrafficMirrorSession> sessionsOnInterface, string lab, int virtualNetworkId, string mirrorTargetId,
        string? instanceId = null)
    {
        ArgumentNullException.ThrowIfNull(sessionsOnInterface);
        var ours = sessionsOnInterface.Where(s => SessionTags.IsOurs(s, mirrorTargetId)).ToList();
        bool IsCurrent(TrafficMirrorSession s) => IsFor(s, lab, virtualNetworkId) && (instanceId is null || MadeFor(s, instanceId));
        var current = ours.Where(IsCurrent)
            .OrderBy(s => s.SessionNumber)
            .ThenBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal)
            .ToList();
        var stale = ours.Where(s => !IsCurrent(s));
        return new InterfaceSessions(current.FirstOrDefault(), [.. current.Skip(1).Concat(stale)]);
    }

    /// <summary>Made for this lab and VNI (a session with no VNI recorded is taken at its word).</summary>
    public static bool IsFor(TrafficMirrorSession session, string lab, int virtualNetworkId)
    {
        ArgumentNullException.ThrowIfNull(session);
        return (session.Tags.TryGetValue(SessionTags.Lab, out var sessionLab) ? sessionLab : SessionTags.NoLab) == lab
            && (session.VirtualNetworkId is null || session.VirtualNetworkId == virtualNetworkId);
    }

    /// <summary>Made for this instance: its <c>automirror:instance-id</c> tag names it (an untagged one is taken at its word).</summary>
    public static bool MadeFor(TrafficMirrorSession session, string instanceId)
    {
        ArgumentNullException.ThrowIfNull(session);
        return !session.Tags.TryGetValue(SessionTags.InstanceId, out var owner) || owner == instanceId;
    }

    /// <summary>
    /// The number for a new AutoMirror session on an interface that holds <paramref name="sessionsOnInterface"/>. AWS
    /// evaluates an interface's sessions from the lowest number up and gives a packet to the first whose filter
    /// accepts it, so a number below a session someone else made would take that session's traffic: AutoMirror
    /// always stays behind (above) every foreign session, unless the operator set both PREFERRED_SESSION_NUMBER and
    /// PREFERRED_SESSION_NUMBER_AHEAD_OF_FOREIGN=true. Null when no free number is left behind them.
    /// </summary>
    public static SessionNumberChoice? ChooseSessionNumber(IReadOnlyList<TrafficMirrorSession> sessionsOnInterface, AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(sessionsOnInterface);
        ArgumentNullException.ThrowIfNull(settings);
        var taken = sessionsOnInterface.Select(s => s.SessionNumber).ToHashSet();
        var foreign = sessionsOnInterface.Where(s => !SessionTags.IsOurs(s, settings.MirrorTargetId)).Select(s => s.SessionNumber).ToList();
        var preferred = settings.PreferredSessionNumber;
        if (preferred is { } wanted && !taken.Contains(wanted))
        {
            if (foreign.Count == 0 || wanted > foreign.Max())
            {
                return new SessionNumberChoice(wanted, "preferred");
            }

            if (settings.PreferredSessionNumberAheadOfForeign)
            {
                return new SessionNumberChoice(wanted, "preferred-ahead-of-foreign");
            }
        }

        // Without a preference AutoMirror takes the last free number (32766 on a fresh interface): behind every session
        // anyone makes on the interface later too, and the number a create-first attach tries without describing, so
        // an AutoMirror session already there meets it as a conflict instead of being duplicated.
        var floor = foreign.Count == 0 ? 1 : foreign.Max() + 1;
        var number = preferred is null ? LastFree(taken, floor) : FirstFree(taken, Math.Max(floor, preferred.Value), floor);
        if (number is null)
        {
            return null;
        }

        // The preferred number was not used because it is taken, or else because it would be ahead of a foreign session.
        var afterForeign = foreign.Count > 0 ? "after-foreign:" + foreign.Max().ToString(System.Globalization.CultureInfo.InvariantCulture)
            : preferred is null ? "last-free" : "next-free";
        var why = preferred is { } p && taken.Contains(p) ? "preferred-taken," + afterForeign : afterForeign;
        return new SessionNumberChoice(number.Value, why);
    }

    /// <summary>
    /// Whether <paramref name="number"/> is evaluated after every foreign session on the interface (or the operator
    /// allowed the preferred number ahead of them): a foreign session made since the plan can make it wrong.
    /// </summary>
    public static bool StaysBehindForeign(int number, IReadOnlyList<TrafficMirrorSession> sessionsOnInterface, AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(sessionsOnInterface);
        ArgumentNullException.ThrowIfNull(settings);
        return (settings.PreferredSessionNumberAheadOfForeign && number == settings.PreferredSessionNumber)
            || sessionsOnInterface.All(s => SessionTags.IsOurs(s, settings.MirrorTargetId) || s.SessionNumber < number);
    }

    /// <summary>The highest free number, never below <paramref name="floor"/>.</summary>
    private static int? LastFree(IReadOnlySet<int> taken, int floor)
    {
        for (var n = AutoMirrorSettings.MaxSessionNumber; n >= floor; n--)
        {
            if (!taken.Contains(n))
            {
                return n;
            }
        }

        return null;
    }

    /// <summary>
    /// The first free number from <paramref name="start"/> up, else from <paramref name="floor"/> up to it: never
    /// below the floor.
    /// </summary>
    private static int? FirstFree(IReadOnlySet<int> taken, int start, int floor)
    {
        for (var n = start; n <= AutoMirrorSettings.MaxSessionNumber; n++)
        {
            if (!taken.Contains(n))
            {
                return n;
            }
        }

        for (var n = floor; n < start; n++)
        {
            if (!taken.Contains(n))
            {
                return n;
            }
        }

        return null;
    }

    /// <summary>
    /// The preferred number when free; otherwise the next free number above the interface's sessions. (For a set of
    /// numbers alone, where nothing says which are foreign; <see cref="ChooseSessionNumber(IReadOnlyList{TrafficMirrorSession}, AutoMirrorSettings)"/>
    /// is the rule for an interface.)
    /// </summary>
    public static int ChooseSessionNumber(IReadOnlySet<int> taken, int? preferred)
    {
        ArgumentNullException.ThrowIfNull(taken);
        var start = preferred ?? (taken.Count == 0 ? 1 : taken.Max() + 1);
        for (var n = start; n <= AutoMirrorSettings.MaxSessionNumber; n++)
        {
            if (!taken.Contains(n))
            {
                return n;
            }
        }

        for (var n = 1; n < start; n++)
        {
            if (!taken.Contains(n))
            {
                return n;
            }
        }

        throw new InvalidOperationException("no free session number");
    }
}
