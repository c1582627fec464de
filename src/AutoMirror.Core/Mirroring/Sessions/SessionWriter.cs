using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// Every change AutoMirror makes to sessions and status tags, each logged as one decision: creates (with the
/// ClientToken retries that keep them idempotent across concurrent callers), deletes (only ours, through
/// <see cref="OwnedSessions"/>) and the automirror:status tag.
/// </summary>
public sealed class SessionWriter(IEc2Client ec2, AutoMirrorSettings settings, IDecisionLog log, OwnedSessions owned)
{
    private readonly IEc2Client _ec2 = ec2;
    private readonly AutoMirrorSettings _settings = settings;
    private readonly IDecisionLog _log = log;
    private readonly OwnedSessions _owned = owned;


    /// <summary>
    /// A create whose ClientToken EC2 already used with other parameters (an earlier session of this interface and
    /// number under another lab's VNI) is retried once with the token salted by the VNI, which is the same for
    /// every caller making this exact session.
    /// </summary>
    public async Task<TrafficMirrorSession> CreateAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await _ec2.CreateTrafficMirrorSessionAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (e.ErrorCode == "IdempotentParameterMismatch" && request.VirtualNetworkId is { } vni)
        {
            var salted = request with { ClientToken = SessionIdentity.RetryClientToken(request.ClientToken, "vni-" + vni.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
            return await _ec2.CreateTrafficMirrorSessionAsync(salted, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Creates the session for (interface, number) and makes sure it is live. EC2 answers a reused ClientToken with
    /// the session it made then, even if that was deleted since, and refuses it with IdempotentParameterMismatch if
    /// the lab's VNI differs now; each retry salts the token with what every concurrent caller sees alike (the
    /// stale session's id, the VNI), so retries stay idempotent across them. Null when the interface is full or gone.
    /// </summary>
    public async Task<string?> EnsureSessionAsync(string instanceId, string eni, int number, int vni, string lab, CancellationToken cancellationToken)
    {
        const int MaxAttempts = 8;
        var token = SessionIdentity.ClientToken(eni, _settings.MirrorTargetId, _settings.MirrorFilterId, number);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            TrafficMirrorSession session;
            try
            {
                session = await _ec2.CreateTrafficMirrorSessionAsync(Request(instanceId, eni, number, vni, lab, token), cancellationToken).ConfigureAwait(false);
            }
            catch (AwsServiceException e) when (e.ErrorCode == "IdempotentParameterMismatch")
            {
                token = SessionIdentity.RetryClientToken(token, "vni-" + vni.ToString(System.Globalization.CultureInfo.InvariantCulture));
                continue;
            }
            catch (AwsServiceException e) when (AwsErrors.IsSessionLimit(e) || AwsErrors.IsInterfaceNotFound(e))
            {
                _log.Write(new Decision("skip-interface", instanceId, e.ErrorCode) { EniId = eni, Level = "warn" });
                return null;
            }

            var live = await _ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("traffic-mirror-session-id", session.TrafficMirrorSessionId)], cancellationToken)
                .ConfigureAwait(false);
            if (live.Count > 0)
            {
                _log.Write(new Decision("create-session", instanceId, "verify-repair")
                {
                    EniId = eni,
                    SessionId = session.TrafficMirrorSessionId,
                    SessionNumber = session.SessionNumber,
                    Vni = vni,
                    Lab = lab,
                });
                return session.TrafficMirrorSessionId;
            }

            _log.Write(new Decision("stale-client-token", instanceId, "session-already-deleted") { EniId = eni, SessionId = session.TrafficMirrorSessionId });
            token = SessionIdentity.RetryClientToken(token, session.TrafficMirrorSessionId);
        }

        throw new SessionVerificationException($"instance {instanceId}: could not make a live AutoMirror session on {eni} to {_settings.MirrorTargetId}");
    }

    public CreateTrafficMirrorSessionRequest Request(string instanceId, string eni, int number, int vni, string? lab, string token, string? correlationId = null) => new(
        eni,
        _settings.MirrorTargetId,
        _settings.MirrorFilterId,
        number,
        vni,
        _settings.PacketLength,
        token,
        SessionTags.For(instanceId, eni, lab, correlationId),
        "AutoMirror " + instanceId);

    public async Task<IReadOnlyList<string>> DeleteAsync(IEnumerable<TrafficMirrorSession> sessions, string instanceId, string reason, CancellationToken cancellationToken)
    {
        var deleted = new List<string>();
        foreach (var session in sessions)
        {
            if (!await _owned.DeleteAsync(session, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            deleted.Add(session.TrafficMirrorSessionId);
            _log.Write(new Decision("delete-session", instanceId, reason)
            {
                EniId = session.NetworkInterfaceId,
                SessionId = session.TrafficMirrorSessionId,
                SessionNumber = session.SessionNumber,
            });
        }

        return deleted;
    }

    /// <summary>
    /// Makes automirror:status say <paramref name="desired"/> (<see cref="StatusTagRule"/>), null removing it. The
    /// correlation id of this run goes in the same CreateTags request (no extra call, and a fleet reconcile's one id
    /// fits a batched request for many instances) and is removed with the status in one DeleteTags.
    /// </summary>
    public async Task WriteStatusAsync(Ec2Instance instance, string state, string? desired, CancellationToken cancellationToken)
    {
        // A terminated instance's tags go with it; writing them is a wasted mutating call.
        if (!_settings.StatusTag || state is "shutting-down" or "terminated")
        {
            return;
        }

        instance.Tags.TryGetValue(SessionTags.Status, out var current);
        if (current == desired && (desired is not null || !instance.Tags.ContainsKey(SessionTags.CorrelationId)))
        {
            return;
        }

        try
        {
            if (desired is null)
            {
                await _ec2.DeleteTagsAsync([instance.InstanceId], SessionTags.InstanceTagKeys.ToList(), cancellationToken).ConfigureAwait(false);
                _log.Write(new Decision("status-tag", instance.InstanceId, "removed-out-of-scope"));
            }
            else
            {
                await _ec2.CreateTagsAsync([instance.InstanceId], StatusTags(desired), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            _log.Write(new Decision("status-tag", instance.InstanceId, "instance-gone") { Level = "warn", Error = e.ErrorCode });
        }
    }

    public async Task TagStatusAsync(string instanceId, MirrorStatus status, CancellationToken cancellationToken)
    {
        try
        {
            await _ec2.CreateTagsAsync([instanceId], StatusTags(status.ToWireName()), cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            _log.Write(new Decision("status-tag", instanceId, "instance-gone") { Level = "warn", Error = e.ErrorCode });
        }
    }

    /// <summary>The status and, when this run has one, its correlation id: the tags of one CreateTags request.</summary>
    public static IReadOnlyDictionary<string, string> StatusTags(string status)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { [SessionTags.Status] = StatusTagRule.TagValue(status) };
        if (Correlation.Id is { Length: > 0 } id)
        {
            tags[SessionTags.CorrelationId] = StatusTagRule.TagValue(id);
        }

        return tags;
    }
}
