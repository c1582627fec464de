using AutoMirror.Aws.Ec2;
using AutoMirror.Functions.Configuration;

namespace AutoMirror.Functions.Mirroring;

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

public static class SessionPlanner
{
    public const int MaxSessionsPerInterface = 3;

    /// <summary>
    /// Plans the sessions of one instance. <paramref name="sessions"/> are all sessions on the instance's interfaces
    /// (foreign ones count towards AWS's limit of 3 per interface and hold their numbers; they are never touched).
    /// Our sessions on interfaces that are no longer sources, and duplicates for one interface and target (two
    /// racing creates with different numbers), are planned for deletion, keeping the lowest session number.
    /// </summary>
    public static SessionPlan Plan(
        IReadOnlyList<InstanceNetworkInterface> sources,
        IReadOnlyList<TrafficMirrorSession> sessions,
        int virtualNetworkId,
        AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(sessions);
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
            var ours = onEni.Where(s => SessionTags.IsOurs(s, settings.MirrorTargetId))
                .OrderBy(s => s.SessionNumber)
                .ThenBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal)
                .ToList();
            if (ours.Count > 0)
            {
                existing.Add(ours[0]);
                toDelete.AddRange(ours.Skip(1));
                continue;
            }

            if (onEni.Count >= MaxSessionsPerInterface)
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
