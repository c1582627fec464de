using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Mirroring;

public sealed record PlannedSession(string NetworkInterfaceId, int SessionNumber, int VirtualNetworkId, string ClientToken);

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
        AutoMirrorSettings settings)
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
            var judged = ForInterface(onEni, lab, virtualNetworkId, settings.MirrorTargetId);
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

            var number = ChooseSessionNumber(onEni.Select(s => s.SessionNumber).ToHashSet(), settings.PreferredSessionNumber);
            toCreate.Add(new PlannedSession(
                source.NetworkInterfaceId,
                number,
                virtualNetworkId,
                SessionIdentity.ClientToken(source.NetworkInterfaceId, settings.MirrorTargetId, settings.MirrorFilterId, number)));
        }

        return new SessionPlan(toCreate, existing, toDelete, limited);
    }

    /// <summary>
    /// The per-interface rule, shared by the plan and by Verify: of our sessions on the interface, the one for this
    /// lab and VNI with the lowest number (then id) is kept — racing creates each made one, and a packet goes to the
    /// lowest number only; the other current ones and every stale one go. Foreign sessions are not judged.
    /// </summary>
    public static InterfaceSessions ForInterface(IReadOnlyList<TrafficMirrorSession> sessionsOnInterface, string lab, int virtualNetworkId, string mirrorTargetId)
    {
        ArgumentNullException.ThrowIfNull(sessionsOnInterface);
        var ours = sessionsOnInterface.Where(s => SessionTags.IsOurs(s, mirrorTargetId)).ToList();
        var current = ours.Where(s => IsFor(s, lab, virtualNetworkId))
            .OrderBy(s => s.SessionNumber)
            .ThenBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal)
            .ToList();
        var stale = ours.Where(s => !IsFor(s, lab, virtualNetworkId));
        return new InterfaceSessions(current.FirstOrDefault(), [.. current.Skip(1).Concat(stale)]);
    }

    /// <summary>Made for this lab and VNI (a session with no VNI recorded is taken at its word).</summary>
    public static bool IsFor(TrafficMirrorSession session, string lab, int virtualNetworkId)
    {
        ArgumentNullException.ThrowIfNull(session);
        return (session.Tags.TryGetValue(SessionTags.Lab, out var sessionLab) ? sessionLab : SessionTags.NoLab) == lab
            && (session.VirtualNetworkId is null || session.VirtualNetworkId == virtualNetworkId);
    }

    /// <summary>
    /// The preferred number when free; otherwise the next free number above the interface's sessions. Going above
    /// matters: a packet goes only to the lowest-numbered matching session, so a lower number would take traffic
    /// away from a session someone else made.
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
