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
                : InstanceOutcomeKind.Skipped;
            return new InstanceOutcome(instanceId, outcome, plan.Reason, plan.ExistingSessionIds, [], []);
        }

        var created = await _attach.CreateSessionsAsync(plan, cancellationToken).ConfigureAwait(false);
        try
        {
            var verified = await _attach.VerifyAsync(plan, created, cancellationToken).ConfigureAwait(false);
            var outcome = verified.Status == MirrorStatus.Mirrored.ToWireName() ? InstanceOutcomeKind.Mirrored
                : verified.Status == MirrorStatus.SessionLimit.ToWireName() ? InstanceOutcomeKind.SessionLimit
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
        var orphans = (await _facts.OurSessionsAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var id) && id == instanceId);
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
        var report = new ReconcileReport(
            list.Count,
            list.Count(o => o.Outcome == InstanceOutcomeKind.Mirrored),
            list.Count(o => o.Outcome == InstanceOutcomeKind.SessionLimit),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Detached),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Skipped),
            list.Count(o => o.Outcome == InstanceOutcomeKind.Failed),
            list);
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
        var filters = new List<Ec2Filter> { new("tag-key", _settings.MirrorTagKey), new("instance-state-name", "running") };
        if (_settings.VpcIds.Count > 0)
        {
            filters.Add(new Ec2Filter("vpc-id", _settings.VpcIds.ToList()));
        }

        var candidates = await _ec2.DescribeInstancesAsync(filters, cancellationToken).ConfigureAwait(false);
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
            var statusRight = !_settings.StatusTag || currentStatus == eligibility.Status?.ToWireName();
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
            var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings);
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

        var settledIds = settled.Select(o => o.InstanceId).ToHashSet(StringComparer.Ordinal);
        foreach (var owner in ours.Select(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var id) ? id : null).OfType<string>())
        {
            if (!settledIds.Contains(owner))
            {
                unsettled.Add(owner);
            }
        }

        return (settled, unsettled.Order(StringComparer.Ordinal).ToList());
    }

}
