using AutoMirror.Core.Ownership;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;

namespace AutoMirror.Core.Mirroring;

/// <summary>A state-change event's view of an instance, used when it is newer than what EC2 describes.</summary>
public sealed record StateHint(string State, DateTimeOffset EventTime);

/// <summary>
/// The attach steps: make an instance's sessions match the policy, idempotently. Every step reads EC2's current
/// state first (<see cref="MirrorFacts"/>), so a duplicate, late or reordered event converges to the same end state;
/// changes go through <see cref="SessionWriter"/>, which deletes only our sessions. The Attach workflow calls the
/// steps one by one (Evaluate, CheckTargetHealth, CreateSessions, Verify, Cleanup); <see cref="FleetReconciler"/>
/// runs them in-process, reached through the three reconcile methods below.
/// </summary>
public sealed class Reconciler
{
    private static readonly TimeSpan[] DefaultNotFoundBackoff = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    private readonly ILoadBalancingClient _loadBalancing;
    private readonly AutoMirrorSettings _settings;
    private readonly IDecisionLog _log;
    private readonly OwnedSessions _owned;
    private readonly MirrorFacts _facts;
    private readonly SessionWriter _writer;
    private readonly FleetReconciler _fleet;

    public Reconciler(
        IEc2Client ec2,
        ILoadBalancingClient loadBalancing,
        AutoMirrorSettings settings,
        TimeProvider time,
        IDecisionLog log,
        IReadOnlyList<TimeSpan>? notFoundBackoff = null)
    {
        ArgumentNullException.ThrowIfNull(ec2);
        ArgumentNullException.ThrowIfNull(time);
        _loadBalancing = loadBalancing ?? throw new ArgumentNullException(nameof(loadBalancing));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _owned = new OwnedSessions(ec2, settings.MirrorTargetId);
        _facts = new MirrorFacts(ec2, settings, _owned);
        _writer = new SessionWriter(ec2, settings, log, _owned);
        _fleet = new FleetReconciler(this, _facts, _writer, _owned, ec2, settings, time, log, notFoundBackoff ?? DefaultNotFoundBackoff);
    }

    public AutoMirrorSettings Settings => _settings;

    // ---------------------------------------------------------------- Attach workflow steps

    /// <summary>
    /// Decides from EC2's current state. A non-qualifying instance loses its AutoMirror sessions here (decision
    /// detach, or skip when it had none); a qualifying one gets a plan of the sessions it lacks.
    /// </summary>
    public async Task<AttachPlan> EvaluateAsync(string instanceId, string trigger, StateHint? hint, CancellationToken cancellationToken)
    {
        var instance = await _facts.DescribeAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = MirrorFacts.EffectiveState(instance, hint);
        if (state == "pending" && trigger == "running")
        {
            // The running event is newer than a describe that still says pending (eventual consistency): the
            // instance is running, and ending the workflow here would leave it unmirrored until a reconcile.
            state = "running";
        }

        var sessions = await _facts.SessionsOnAsync(instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        var eligibility = await _facts.EligibilityAsync(instance, state, cancellationToken).ConfigureAwait(false);

        if (!eligibility.Qualifies)
        {
            var doomed = sessions.Where(_owned.IsOurs).ToList();
            if (state is "shutting-down" or "terminated")
            {
                // A terminated instance describes no interfaces, but an ENI attached with DeleteOnTermination=false
                // outlives it with its sessions still billing: ours are found by their instance-id tag instead.
                doomed = doomed.Concat((await _facts.OurSessionsAsync(cancellationToken).ConfigureAwait(false))
                        .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var owner) && owner == instanceId))
                    .DistinctBy(s => s.TrafficMirrorSessionId)
                    .ToList();
            }

            var deleted = await _writer.DeleteAsync(doomed, instanceId, eligibility.Reason, cancellationToken).ConfigureAwait(false);
            await _writer.WriteStatusAsync(instance, state, eligibility.Status, cancellationToken).ConfigureAwait(false);
            var decision = deleted.Count > 0 ? AttachDecision.Detach : AttachDecision.Skip;
            _log.Write(new Decision(decision.ToWireName(), instanceId, eligibility.Reason) { Lab = _facts.LabOf(instance) });
            return new AttachPlan(instanceId, decision, eligibility.Reason, [], [], _facts.LabOf(instance), []);
        }

        var lab = _facts.LabOf(instance);
        var vni = await _facts.VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings);
        await _writer.DeleteAsync(plan.ToDelete, instanceId, "duplicate-obsolete-or-relabelled", cancellationToken).ConfigureAwait(false);
        foreach (var eni in plan.SessionLimitedEniIds)
        {
            _log.Write(new Decision("session-limit", instanceId, "interface already has 3 sessions") { EniId = eni, Level = "warn" });
        }

        var existing = plan.Existing.Select(s => s.TrafficMirrorSessionId).ToList();
        if (plan.ToCreate.Count == 0)
        {
            var status = plan.HitSessionLimit ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
            await _writer.WriteStatusAsync(instance, state, status, cancellationToken).ConfigureAwait(false);
            var reason = plan.HitSessionLimit ? SkipReasons.SessionLimit : SkipReasons.AlreadyMirrored;
            _log.Write(new Decision(AttachDecision.Skip.ToWireName(), instanceId, reason) { Lab = lab, Vni = vni });
            return new AttachPlan(instanceId, AttachDecision.Skip, reason, [], existing, lab, plan.SessionLimitedEniIds);
        }

        foreach (var planned in plan.ToCreate)
        {
            _log.Write(new Decision("plan-session", instanceId, trigger)
            {
                EniId = planned.NetworkInterfaceId,
                SessionNumber = planned.SessionNumber,
                Vni = planned.VirtualNetworkId,
                Lab = lab,
            });
        }

        return new AttachPlan(instanceId, AttachDecision.Attach, "sessions-missing", plan.ToCreate, existing, lab, plan.SessionLimitedEniIds)
        {
            InstanceType = instance.InstanceType,
        };
    }

    /// <summary>The gate before any session is made: mirrored packets to a target with no healthy sensor are lost.</summary>
    public async Task<TargetHealth> CheckTargetHealthAsync(CancellationToken cancellationToken)
    {
        var targets = await _loadBalancing.DescribeTargetHealthAsync(_settings.RequireSensorTargetGroupArn(), cancellationToken).ConfigureAwait(false);
        var healthy = targets.Count(t => string.Equals(t.State, "healthy", StringComparison.OrdinalIgnoreCase));
        _log.Write(new Decision("target-health", null, healthy > 0 ? "healthy" : "no-healthy-target"));
        return new TargetHealth(healthy, healthy > 0);
    }

    /// <summary>
    /// Creates the planned sessions. The ClientToken makes a repeat (a retried step, a duplicate event) a no-op at
    /// AWS; an interface that filled up meanwhile is reported, not failed; a refusal for the instance type is final.
    /// </summary>
    public async Task<CreatedSessions> CreateSessionsAsync(AttachPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var created = new List<CreatedSession>();
        var limited = new List<string>(plan.SessionLimitedEniIds ?? []);
        if (plan.Decision != AttachDecision.Attach)
        {
            return new CreatedSessions([], created, limited);
        }

        foreach (var planned in plan.Sessions)
        {
            var request = _writer.Request(plan.InstanceId, planned.NetworkInterfaceId, planned.SessionNumber, planned.VirtualNetworkId, plan.Lab, planned.ClientToken);
            try
            {
                var session = await _writer.CreateAsync(request, cancellationToken).ConfigureAwait(false);
                created.Add(new CreatedSession(planned.NetworkInterfaceId, session.TrafficMirrorSessionId, session.SessionNumber, planned.ClientToken));
                _log.Write(new Decision("create-session", plan.InstanceId, "planned")
                {
                    EniId = planned.NetworkInterfaceId,
                    SessionId = session.TrafficMirrorSessionId,
                    SessionNumber = session.SessionNumber,
                    Vni = planned.VirtualNetworkId,
                    Lab = plan.Lab,
                });
            }
            catch (AwsServiceException e) when (AwsErrors.IsInterfaceNotFound(e))
            {
                _log.Write(new Decision("skip-interface", plan.InstanceId, "interface-gone") { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode });
            }
            catch (AwsServiceException e) when (AwsErrors.IsInstanceTypeRefusal(e))
            {
                if (plan.InstanceType is not null)
                {
                    _facts.Types.RecordRefusal(plan.InstanceType);
                }

                _log.Write(new Decision("refused", plan.InstanceId, MirrorStatus.UnsupportedInstanceType.ToWireName()) { EniId = planned.NetworkInterfaceId, Error = e.Message, Level = "warn" });
                return new CreatedSessions(created.Select(c => c.SessionId).ToList(), created, limited, MirrorStatus.UnsupportedInstanceType);
            }
            catch (AwsServiceException e) when (AwsErrors.IsSessionLimit(e))
            {
                limited.Add(planned.NetworkInterfaceId);
                _log.Write(new Decision("session-limit", plan.InstanceId, "refused-by-aws") { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode, Level = "warn" });
            }
            catch (AwsServiceException e) when (AwsErrors.IsRaceLost(e))
            {
                // A concurrent execution used the token with other parameters since Evaluate looked: Verify, reading
                // what is there now, keeps its session or makes one for the instance's current lab.
                _log.Write(new Decision("create-session", plan.InstanceId, "raced") { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode, Level = "warn" });
            }
        }

        return new CreatedSessions(created.Select(c => c.SessionId).ToList(), created, limited);
    }

    /// <summary>
    /// Re-reads the instance and its sessions. If the instance stopped qualifying while we created (an untag or stop
    /// that raced us), our sessions go. Otherwise each source must end with exactly one AutoMirror session for the
    /// instance's current lab: duplicates from racing creates are deleted (lowest number kept), sessions of an old
    /// label are replaced, and a missing one is made from what is there now (a stale ClientToken included); only a
    /// session that cannot be made live fails the step.
    /// </summary>
    public async Task<Verified> VerifyAsync(AttachPlan plan, CreatedSessions created, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(created);
        if (plan.Decision != AttachDecision.Attach)
        {
            return new Verified(plan.InstanceId, plan.Decision?.ToWireName() ?? "", plan.ExistingSessionIds, []);
        }

        Ec2Instance instance;
        try
        {
            instance = await _facts.DescribeAsync(plan.InstanceId, cancellationToken).ConfigureAwait(false);
        }
        catch (InstanceNotFoundException)
        {
            // Gone between create and verify: deleting its interfaces deleted their sessions with them.
            _log.Write(new Decision("verify", plan.InstanceId, "instance-gone"));
            return new Verified(plan.InstanceId, "gone", [], []);
        }

        var sessions = await _facts.SessionsOnAsync(instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        var ours = sessions.Where(_owned.IsOurs).ToList();
        var eligibility = await _facts.EligibilityAsync(instance, instance.State, cancellationToken).ConfigureAwait(false);
        if (created.Refused is not null && eligibility.Qualifies)
        {
            eligibility = Eligibility.No("unsupported-instance-type:refused-by-aws", MirrorStatus.UnsupportedInstanceType);
        }

        if (!eligibility.Qualifies)
        {
            var gone = await _writer.DeleteAsync(ours, plan.InstanceId, eligibility.Reason, cancellationToken).ConfigureAwait(false);
            await _writer.WriteStatusAsync(instance, instance.State, eligibility.Status, cancellationToken).ConfigureAwait(false);
            _log.Write(new Decision(AttachDecision.Detach.ToWireName(), plan.InstanceId, eligibility.Reason));
            return new Verified(plan.InstanceId, eligibility.Status?.ToWireName() ?? InstanceOutcomeKind.Detached.ToWireName(), [], gone);
        }

        // The instance's lab now, not the plan's: a re-label while this execution ran makes the plan stale, and
        // sessions are made for what the instance is now.
        var lab = _facts.LabOf(instance);
        var vni = await _facts.VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var superseded = (plan.Lab ?? SessionTags.NoLab) != lab;
        var limited = new List<string>();
        var kept = new List<string>();
        var toDelete = new List<TrafficMirrorSession>();
        var missing = new List<InstanceNetworkInterface>();
        foreach (var source in eligibility.SourceInterfaces)
        {
            var judged = SessionPlanner.ForInterface([.. ours.Where(s => s.NetworkInterfaceId == source.NetworkInterfaceId)], lab, vni, _settings.MirrorTargetId);
            toDelete.AddRange(judged.ToDelete);
            if (judged.Keep is { } keep)
            {
                kept.Add(keep.TrafficMirrorSessionId);
            }
            else
            {
                missing.Add(source);
            }
        }

        // Stale and duplicate sessions go first: they hold slots of the interface's three.
        var deleted = await _writer.DeleteAsync(toDelete, plan.InstanceId, superseded ? "relabelled" : "duplicate-or-relabelled", cancellationToken).ConfigureAwait(false);
        foreach (var source in missing)
        {
            var eni = source.NetworkInterfaceId;
            var others = sessions.Where(s => s.NetworkInterfaceId == eni && !deleted.Contains(s.TrafficMirrorSessionId)).ToList();
            if (others.Count >= SessionPlanner.MaxSessionsPerInterface)
            {
                limited.Add(eni);
                continue;
            }

            // The plan's session is missing: EC2 answered a stale ClientToken, a concurrent execution or detach
            // took it, or the instance was re-labelled. Made again from what is there now, not failed.
            var planned = superseded ? null : plan.Sessions.FirstOrDefault(p => p.NetworkInterfaceId == eni && p.VirtualNetworkId == vni);
            var taken = sessions.Where(s => s.NetworkInterfaceId == eni).Select(s => s.SessionNumber).ToHashSet();
            var number = planned is not null && !others.Any(o => o.SessionNumber == planned.SessionNumber)
                ? planned.SessionNumber
                : SessionPlanner.ChooseSessionNumber(taken, _settings.PreferredSessionNumber);
            var id = await _writer.EnsureSessionAsync(plan.InstanceId, eni, number, vni, lab, cancellationToken).ConfigureAwait(false);
            if (id is null)
            {
                limited.Add(eni);
                continue;
            }

            kept.Add(id);
        }

        var status = limited.Count > 0 ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
        await _writer.WriteStatusAsync(instance, instance.State, status, cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision("verified", plan.InstanceId, superseded ? "relabelled-while-attaching" : status.ToWireName()) { Lab = lab, Vni = vni });
        return new Verified(plan.InstanceId, status.ToWireName(), kept, deleted);
    }

    /// <summary>
    /// After a failure: deletes the sessions this plan made that were not there before this run, so a failed
    /// attach leaves nothing half made, and marks the instance with the error status.
    /// </summary>
    public async Task<CleanupResult> CleanupAsync(AttachPlan plan, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var enis = plan.Sessions.Select(s => s.NetworkInterfaceId).Distinct(StringComparer.Ordinal).ToList();
        var sessions = await _facts.SessionsOnAsync(enis, cancellationToken).ConfigureAwait(false);
        var before = plan.ExistingSessionIds.ToHashSet(StringComparer.Ordinal);
        // Only what this plan made: its interface, number and VNI (its ClientToken made exactly that session). A
        // concurrent execution's session for the same interface differs in number or VNI and is left alone.
        var madeByPlan = sessions.Where(s => _owned.IsOurs(s) && !before.Contains(s.TrafficMirrorSessionId)
            && plan.Sessions.Any(p => p.NetworkInterfaceId == s.NetworkInterfaceId && p.SessionNumber == s.SessionNumber
                && (s.VirtualNetworkId is null || p.VirtualNetworkId == s.VirtualNetworkId)));
        var deleted = await _writer.DeleteAsync(madeByPlan, plan.InstanceId, "cleanup-after-failure", cancellationToken).ConfigureAwait(false);
        if (_settings.StatusTag)
        {
            await _writer.TagStatusAsync(plan.InstanceId, MirrorStatus.Error, cancellationToken).ConfigureAwait(false);
        }

        _log.Write(new Decision("cleanup", plan.InstanceId, "attach-failed") { Level = "error", Error = error });
        return new CleanupResult(plan.InstanceId, deleted);
    }

    // ---------------------------------------------------------------- in-process paths (FleetReconciler)

    public Task<InstanceOutcome> ReconcileInstanceAsync(string instanceId, string trigger, StateHint? hint, bool waitForLaunch, CancellationToken cancellationToken) =>
        _fleet.ReconcileInstanceAsync(instanceId, trigger, hint, waitForLaunch, cancellationToken);

    public Task<InstanceOutcome> DetachUnknownInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
        _fleet.DetachUnknownInstanceAsync(instanceId, cancellationToken);

    public Task<ReconcileReport> ReconcileAsync(IReadOnlyCollection<string>? instanceIds, int concurrency, CancellationToken cancellationToken) =>
        _fleet.ReconcileAsync(instanceIds, concurrency, cancellationToken);
}

/// <summary>Some instances of a reconcile failed; the others were reconciled. Carries the full report.</summary>
public sealed class ReconcileFailedException(ReconcileReport report, IReadOnlyList<Exception> failures)
    : AggregateException($"{report.Failed} of {report.Instances} instances failed to reconcile", failures)
{
    public ReconcileReport Report { get; } = report;
}
