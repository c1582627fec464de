using System.Collections.Concurrent;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Ownership;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// The in-process paths: one instance to its desired state through the attach steps, an instance EC2 no longer
/// knows, and the whole fleet (a survey settles what is already right in a few paged reads; the rest goes through
/// the per-instance path with bounded concurrency).
/// </summary>
public sealed class FleetReconciler
{
    /// <summary>The reconcile outcome's reason for an instance the zone-local gate held back.</summary>
    public const string NoHealthySensorInZone = "no-healthy-sensor-in-zone";

    private readonly Reconciler _attach;
    private readonly MirrorFacts _facts;
    private readonly SessionWriter _writer;
    private readonly IEc2Client _ec2;
    private readonly AutoMirrorSettings _settings;
    private readonly TimeProvider _time;
    private readonly IDecisionLog _log;
    private readonly IReadOnlyList<TimeSpan> _notFoundBackoff;
    private readonly OwnedSessions _owned;

    public FleetReconciler(Reconciler attach, MirrorFacts facts, SessionWriter writer, OwnedSessions owned, IEc2Client ec2, AutoMirrorSettings settings,
        TimeProvider time, IDecisionLog log, IReadOnlyList<TimeSpan> notFoundBackoff)
    {
        _attach = attach;
        _facts = facts;
        _writer = writer;
        _owned = owned;
        _ec2 = ec2;
        _settings = settings;
        _time = time;
        _log = log;
        _notFoundBackoff = notFoundBackoff;
    }

    /// <summary>
    /// One instance to its desired state: Evaluate, CreateSessions, Verify, and Cleanup on failure, with a bounded
    /// wait for an instance EC2 does not know yet. With <paramref name="waitForLaunch"/> off, an unknown instance
    /// is taken as gone and its AutoMirror sessions (found by tag) are deleted.
    /// </summary>
    public async Task<InstanceOutcome> ReconcileInstanceAsync(string instanceId, string trigger, StateHint? hint, bool waitForLaunch, CancellationToken cancellationToken)
    {
        AttachPlan? plan = null;
        for (var attempt = 0; plan is null; attempt++)
        {
            try
            {
                plan = await _attach.EvaluateAsync(instanceId, trigger, hint, cancellationToken).ConfigureAwait(false);
            }
            catch (InstanceNotFoundException) when (waitForLaunch && attempt < _notFoundBackoff.Count)
            {
                _log.Write(new Decision("retry", instanceId, "instance-not-found-yet"));
                await Task.Delay(_notFoundBackoff[attempt], _time, cancellationToken).ConfigureAwait(false);
            }
            catch (InstanceNotFoundException)
            {
                return await DetachUnknownInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
            }
        }

        if (plan.Decision != AttachDecision.Attach)
        {
            var outcome = plan.Decision == AttachDecision.Detach ? InstanceOutcomeKind.Detached
                : plan.Reason == SkipReasons.SessionLimit ? InstanceOutcomeKind.SessionLimit
                : plan.Reason == SkipReasons.AlreadyMirrored ? InstanceOutcomeKind.Mirrored
                : plan.Reason == SkipReasons.WaitingForTarget ? InstanceOutcomeKind.Waiting
                : InstanceOutcomeKind.Skipped;
            return new InstanceOutcome(instanceId, outcome, plan.Reason, plan.ExistingSessionIds, [], []);
        }

        // The Attach workflow's gate, here too: sessions to a target with no healthy sensor lose their packets. The
        // instance waits for the next reconcile (or its next event), and the report and the log say so. With
        // zone-local delivery the sensor must be in the instance's own zone (its zone's load balancer node could send
        // its packets nowhere else).
        if (_settings.SensorTargetGroupArn is null && _settings.TargetKind != MirrorTargetKind.Eni && !_settings.ZoneLocalDelivery)
        {
            _log.Write(new Decision("target-health", instanceId, "gate-off-no-target-group") { Level = "warn" });
        }
        else if (!(_settings.ZoneLocalDelivery
                     ? await _attach.CheckTargetHealthAsync(plan, cancellationToken).ConfigureAwait(false)
                     : (await _attach.Health.CheckAsync(cancellationToken).ConfigureAwait(false)).Health).Healthy)
        {
            var reason = _settings.ZoneLocalDelivery ? NoHealthySensorInZone : SkipReasons.WaitingForSensor;
            _log.Write(new Decision("wait-for-sensor", instanceId, reason) { Level = "warn" });
            return new InstanceOutcome(instanceId, InstanceOutcomeKind.Skipped, reason, plan.ExistingSessionIds, [], []);
        }

        var created = await _attach.CreateSessionsAsync(plan, cancellationToken).ConfigureAwait(false);
        try
        {
            var verified = await _attach.VerifyAsync(plan, created, cancellationToken).ConfigureAwait(false);
            var outcome = verified.Status == MirrorStatus.Mirrored.ToWireName() ? InstanceOutcomeKind.Mirrored
                : verified.Status == MirrorStatus.SessionLimit.ToWireName() ? InstanceOutcomeKind.SessionLimit
                : verified.Status == MirrorStatus.Waiting.ToWireName() ? InstanceOutcomeKind.Waiting
                : InstanceOutcomeKind.Skipped;
            return new InstanceOutcome(instanceId, outcome, verified.Status, verified.SessionIds, created.SessionIds, verified.DeletedSessionIds);
        }
        catch (SessionVerificationException e)
        {
            await _attach.CleanupAsync(plan, e.Message, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// An instance EC2 no longer (or not yet) knows: its AutoMirror sessions, found by their instance-id tag, go.
    /// A session whose interface is gone has gone with it, so this mostly finds nothing.
    /// </summary>
    public async Task<InstanceOutcome> DetachUnknownInstanceAsync(string instanceId, CancellationToken cancellationToken)
    {
        var tagged = (await _facts.OurSessionsAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var id) && id == instanceId);
        // A session whose interface now serves another instance is that instance's to judge, whatever its tag says.
        var orphans = await _facts.StillWithAsync(instanceId, tagged, cancellationToken).ConfigureAwait(false);
        var deleted = await _writer.DeleteAsync(orphans, instanceId, "instance-not-found", cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision((deleted.Count > 0 ? AttachDecision.Detach : AttachDecision.Skip).ToWireName(), instanceId, "instance-not-found"));
        return new InstanceOutcome(instanceId, deleted.Count > 0 ? InstanceOutcomeKind.Detached : InstanceOutcomeKind.Skipped, "instance-not-found", [], [], deleted);
    }

    /// <summary>
    /// Every qualifying running instance gets its sessions and every AutoMirror session whose instance no longer
    /// qualifies goes. Instances are worked on with bounded concurrency; one instance's failure does not stop the
    /// others, and is reported and rethrown at the end.
    /// </summary>
    public async Task<ReconcileReport> ReconcileAsync(IReadOnlyCollection<string>? instanceIds, int concurrency, CancellationToken cancellationToken)
    {
        bool waitForLaunch = instanceIds is not null;
        var outcomes = new ConcurrentBag<InstanceOutcome>();
        IReadOnlyCollection<string> ids;
        if (instanceIds is null)
        {
            var (settled, unsettled) = await SurveyAsync(cancellationToken).ConfigureAwait(false);
            foreach (var outcome in settled)
            {
                outcomes.Add(outcome);
            }

            ids = unsettled;
        }
        else
        {
            ids = instanceIds.Distinct(StringComparer.Ordinal).ToList();
        }

        var failures = new ConcurrentBag<Exception>();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = cancellationToken }, async (id, ct) =>
        {
            try
            {
                outcomes.Add(await ReconcileInstanceAsync(id, "reconcile", null, waitForLaunch, ct).ConfigureAwait(false));
            }
            catch (Exception e) when (e is AwsServiceException or SessionVerificationException or InstanceNotFoundException)
            {
                failures.Add(e);
                _log.Write(new Decision("failed", id, e.GetType().Name) { Level = "error", Error = e.Message });
                outcomes.Add(new InstanceOutcome(id, InstanceOutcomeKind.Failed, e.GetType().Name, [], [], []));
            }
        }).ConfigureAwait(false);

        var list = outcomes.OrderBy(o => o.InstanceId, StringComparer.Ordinal).ToList();
        if (_settings.TargetKind == MirrorTargetKind.Eni && list.Any(o => o.Outcome == InstanceOutcomeKind.Waiting)
            && list.Any(o => o.Outcome is InstanceOutcomeKind.Detached or InstanceOutcomeKind.Failed or InstanceOutcomeKind.Skipped))
        {
            // Target kinds (issue #17 item 1): this run's detaches ran beside the waiting instances' room checks, so
            // room they freed is taken now, in instance-id order, instead of one schedule period later.
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].Outcome != InstanceOutcomeKind.Waiting)
                {
                    continue;
                }

                try
                {
                    list[i] = await ReconcileInstanceAsync(list[i].InstanceId, "reconcile-room-freed", null, waitForLaunch, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is AwsServiceException or SessionVerificationException or InstanceNotFoundException)
                {
                    failures.Add(e);
                    _log.Write(new Decision("failed", list[i].InstanceId, e.GetType().Name) { Level = "error", Error = e.Message });
                    list[i] = new InstanceOutcome(list[i].InstanceId, InstanceOutcomeKind.Failed, e.GetType().Name, [], [], []);
                }
            }
        }

        var report = new ReconcileReport(
            list.Count,
            list.Count(o => o.Outcome == InstanceOutcomeKind.Mirrored),
            list.Count(o => o.Outcome == InstanceOutcomeKind.SessionLimit),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Detached),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Skipped),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Failed),
            list)
        {
            WaitingForSensor = list.Count(o => o.Reason == SkipReasons.WaitingForSensor),
            Waiting = list.Count(o => o.Outcome == InstanceOutcomeKind.Waiting),
        };
        _log.Write(new Decision("reconciled", null, report.Failed > 0 ? "some-failed" : "complete")
        {
            Level = report.Failed > 0 ? "error" : "info",
            Counts = new Dictionary<string, int>
            {
                ["instances"] = report.Instances,
                ["mirrored"] = report.Mirrored,
                ["sessionLimited"] = report.SessionLimited,
                ["detached"] = report.Detached,
                ["skipped"] = report.Skipped,
                ["failed"] = report.Failed,
                ["waitingForSensor"] = report.WaitingForSensor,
                ["waiting"] = report.Waiting,
            },
        });
        if (!failures.IsEmpty)
        {
            throw new ReconcileFailedException(report, [.. failures]);
        }

        return report;
    }

    /// <summary>
    /// The whole account in a few paged reads (candidate instances, our sessions, the sessions on the candidates'
    /// interfaces), so a steady-state reconcile costs a handful of calls instead of several per instance. Instances
    /// already as they should be are settled here; the rest (and every instance our sessions name that is not a
    /// candidate any more) go through the per-instance path, which re-reads before it acts.
    /// </summary>
    private async Task<(List<InstanceOutcome> Settled, List<string> Unsettled)> SurveyAsync(CancellationToken cancellationToken)
    {
        // One read finds both the candidates (mirror-tagged, running, in the configured VPCs) and every live instance
        // that carries a status tag, which must lose it if it left scope: the status keeps costing no extra call.
        var tagKeys = _settings.StatusTag ? new List<string> { _settings.MirrorTagKey, SessionTags.Status } : [_settings.MirrorTagKey];
        var seen = await _ec2.DescribeInstancesAsync(
            [new Ec2Filter("tag-key", tagKeys), new Ec2Filter("instance-state-name", ["pending", "running", "stopping", "stopped"])], cancellationToken)
            .ConfigureAwait(false);
        var candidates = seen.Where(i => i.State == "running" && i.Tags.ContainsKey(_settings.MirrorTagKey)
            && (_settings.VpcIds.Count == 0 || (i.VpcId is not null && _settings.VpcIds.Contains(i.VpcId)))).ToList();
        var ours = await _facts.OurSessionsAsync(cancellationToken).ConfigureAwait(false);
        var onCandidates = (await _facts.SessionsOnAsync(candidates.SelectMany(c => c.NetworkInterfaces).Select(n => n.NetworkInterfaceId), cancellationToken)
            .ConfigureAwait(false)).ToLookup(s => s.NetworkInterfaceId, StringComparer.Ordinal);

        var settled = new List<InstanceOutcome>();
        var unsettled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in candidates)
        {
            var sessions = instance.NetworkInterfaces.SelectMany(n => onCandidates[n.NetworkInterfaceId]).ToList();
            var eligibility = await _facts.EligibilityAsync(instance, instance.State, cancellationToken).ConfigureAwait(false);
            instance.Tags.TryGetValue(SessionTags.Status, out var currentStatus);
            var statusRight = !_settings.StatusTag || currentStatus == StatusTagRule.Desired(currentStatus, eligibility, removedSessions: false);
            if (!eligibility.Qualifies)
            {
                if (sessions.Any(_owned.IsOurs) || !statusRight)
                {
                    unsettled.Add(instance.InstanceId);
                    continue;
                }

                _log.Write(new Decision(AttachDecision.Skip.ToWireName(), instance.InstanceId, eligibility.Reason));
                settled.Add(new InstanceOutcome(instance.InstanceId, InstanceOutcomeKind.Skipped, eligibility.Reason, [], [], []));
                continue;
            }

            var lab = _facts.LabOf(instance);
            var vni = await _facts.VniForAsync(lab, cancellationToken).ConfigureAwait(false);
            var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings, instance.InstanceId);
            var status = plan.HitSessionLimit ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
            if (plan.ToCreate.Count > 0 || plan.ToDelete.Count > 0 || (_settings.StatusTag && currentStatus != status.ToWireName()))
            {
                unsettled.Add(instance.InstanceId);
                continue;
            }

            var reason = plan.HitSessionLimit ? SkipReasons.SessionLimit : SkipReasons.AlreadyMirrored;
            _log.Write(new Decision(AttachDecision.Skip.ToWireName(), instance.InstanceId, reason));
            settled.Add(new InstanceOutcome(instance.InstanceId, plan.HitSessionLimit ? InstanceOutcomeKind.SessionLimit : InstanceOutcomeKind.Mirrored, reason,
                plan.Existing.Select(e => e.TrafficMirrorSessionId).ToList(), [], []));
        }

        // Every other AutoMirror session is judged by the instance its interface is attached to now, not the one its
        // tag names: an interface can be detached and attached elsewhere, and its session goes with it.
        var candidateEnis = candidates.SelectMany(c => c.NetworkInterfaces).Select(n => n.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);
        var elsewhere = ours.Where(s => !candidateEnis.Contains(s.NetworkInterfaceId)).ToList();
        var owners = await _facts.AttachedToAsync(elsewhere.Select(s => s.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        var orphans = new List<TrafficMirrorSession>();
        foreach (var session in elsewhere)
        {
            if (owners.TryGetValue(session.NetworkInterfaceId, out var owner))
            {
                unsettled.Add(owner.InstanceId);
            }
            else
            {
                orphans.Add(session);
            }
        }

        // The status tag lives only on instances AutoMirror is responsible for: one carrying it that is not a candidate
        // (stopped, untagged, moved out of the configured VPCs, now a sensor) is re-judged when the tag is wrong.
        if (_settings.StatusTag)
        {
            var candidateIds = candidates.Select(c => c.InstanceId).ToHashSet(StringComparer.Ordinal);
            foreach (var instance in seen.Where(i => i.Tags.ContainsKey(SessionTags.Status) && !candidateIds.Contains(i.InstanceId) && !unsettled.Contains(i.InstanceId)))
            {
                var eligibility = await _facts.EligibilityAsync(instance, instance.State, cancellationToken).ConfigureAwait(false);
                var current = instance.Tags.GetValueOrDefault(SessionTags.Status);
                if (current != StatusTagRule.Desired(current, eligibility, removedSessions: false))
                {
                    unsettled.Add(instance.InstanceId);
                }
            }
        }

        // A detached interface (or one whose instance is gone) mirrors nothing an instance opted in to, and still bills.
        foreach (var group in orphans.GroupBy(s => s.Tags.GetValueOrDefault(SessionTags.InstanceId) ?? "", StringComparer.Ordinal))
        {
            var deleted = await _writer.DeleteAsync(group, group.Key, "interface-detached", cancellationToken).ConfigureAwait(false);
            if (group.Key.Length > 0 && !unsettled.Contains(group.Key) && !settled.Any(o => o.InstanceId == group.Key))
            {
                settled.Add(new InstanceOutcome(group.Key, deleted.Count > 0 ? InstanceOutcomeKind.Detached : InstanceOutcomeKind.Skipped, "interface-detached", [], [], deleted));
            }
        }

        return (settled, unsettled.Order(StringComparer.Ordinal).ToList());
    }

}
