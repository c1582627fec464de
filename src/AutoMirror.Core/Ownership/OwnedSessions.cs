using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Core.Ownership;

/// <summary>
/// What AutoMirror may touch: the one ownership rule (<see cref="SessionTags.IsOurs"/>) applied to EC2's sessions.
/// The attach steps, the fleet reconcile and the teardown all find and delete sessions through it, so none of them
/// can reach a session another tool or another stack made.
/// </summary>
/// <remarks><paramref name="accountId"/> (ACCOUNT_ID): a target shared with other accounts lists their sessions too.</remarks>
public sealed class OwnedSessions(IEc2Client ec2, string mirrorTargetId, string? accountId = null)
{
    public string MirrorTargetId => mirrorTargetId;

    public bool IsOurs(TrafficMirrorSession session) => SessionTags.IsOurs(session, mirrorTargetId, accountId);

    /// <summary>Every AutoMirror session to our target, whatever instance or lab it serves.</summary>
    public async Task<IReadOnlyList<TrafficMirrorSession>> ListAsync(CancellationToken cancellationToken)
    {
        var all = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-target-id", mirrorTargetId)], cancellationToken)
            .ConfigureAwait(false);
        return [.. all.Where(IsOurs)];
    }

    /// <summary>The session as EC2 has it now, or null when it is gone.</summary>
    public async Task<TrafficMirrorSession?> FindAsync(string sessionId, CancellationToken cancellationToken)
    {
        var found = await ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-session-id", sessionId)], cancellationToken)
            .ConfigureAwait(false);
        return found.FirstOrDefault(s => s.TrafficMirrorSessionId == sessionId);
    }

    /// <summary>
    /// Deletes a session that is ours; false when it is not (nothing is done). A session already gone counts as
    /// deleted: a concurrent invocation or a retry of this very step got there first, and the end state holds.
    /// </summary>
    public async Task<bool> DeleteAsync(TrafficMirrorSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        // The last line of defence: nothing that is not ours is ever deleted, whatever the caller passed.
        if (!IsOurs(session))
        {
            return false;
        }

        try
        {
            await ec2.DeleteTrafficMirrorSessionAsync(session.TrafficMirrorSessionId, cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (AwsErrors.IsSessionNotFound(e))
        {
        }

        return true;
    }
}
