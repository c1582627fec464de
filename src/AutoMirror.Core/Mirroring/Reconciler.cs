using AutoMirror.Core.Ownership;
using System.Collections.Concurrent;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;

namespace AutoMirror.Core.Mirroring;

/// <summary>A state-change event's view of an instance, used when it is newer than what EC2 describes.</summary>
public sealed record StateHint(string State, DateTimeOffset EventTime);

/// <summary>
/// Makes an instance's sessions match the policy, idempotently: every step reads EC2's current state first, so a
/// duplicate, late or reordered event converges to the same end state. Only sessions tagged
/// automirror:managed=true and aimed at our target are ever deleted. The Attach workflow calls the steps one by
/// one (Evaluate, CheckTargetHealth, CreateSessions, Verify, Cleanup); the reconcile paths run them in-process.
/// </summary>
public sealed class Reconciler
{
    private static readonly TimeSpan[] DefaultNotFoundBackoff = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    private readonly IEc2Client _ec2;
    private readonly ILoadBalancingClient _loadBalancing;
    private readonly AutoMirrorSettings _settings;
    private readonly TimeProvider _time;
    private readonly IDecisionLog _log;
    private readonly InstanceTypeCatalog _types;
    private readonly IReadOnlyList<TimeSpan> _notFoundBackoff;
    private readonly OwnedSessions _owned;
    private readonly ConcurrentDictionary<string, int> _labVnis = new(StringComparer.Ordinal);
    private IReadOnlySet<string>? _targetEniIds;

    public Reconciler(
        IEc2Client ec2,
        ILoadBalancingClient loadBalancing,
        AutoMirrorSettings settings,
        TimeProvider time,
        IDecisionLog log,
        IReadOnlyList<TimeSpan>? notFoundBackoff = null)
    {
        _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
        _loadBalancing = loadBalancing ?? throw new ArgumentNullException(nameof(loadBalancing));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _types = new InstanceTypeCatalog(ec2, settings);
        _notFoundBackoff = notFoundBackoff ?? DefaultNotFoundBackoff;
        _owned = new OwnedSessions(ec2, settings.MirrorTargetId);
    }

    public AutoMirrorSettings Settings => _settings;

    // ---------------------------------------------------------------- Attach workflow steps

    /// <summary>
    /// Decides from EC2's current state. A non-qualifying instance loses its AutoMirror sessions here (decision
    /// detach, or skip when it had none); a qualifying one gets a plan of the sessions it lacks.
    /// </summary>
    public async Task<AttachPlan> EvaluateAsync(string instanceId, string trigger, StateHint? hint, CancellationToken cancellationToken)
    {
        var instance = await DescribeAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = EffectiveState(instance, hint);
        if (state == "pending" && trigger == "running")
        {
            // The running event is newer than a describe that still says pending (eventual consistency): the
            // instance is running, and ending the workflow here would leave it unmirrored until a reconcile.
            state = "running";
        }

        var sessions = await SessionsOnAsync(instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        var eligibility = await EligibilityAsync(instance, state, cancellationToken).ConfigureAwait(false);

        if (!eligibility.Qualifies)
        {
            var doomed = sessions.Where(IsOurs).ToList();
            if (state is "shutting-down" or "terminated")
            {
                // A terminated instance describes no interfaces, but an ENI attached with DeleteOnTermination=false
                // outlives it with its sessions still billing: ours are found by their instance-id tag instead.
                doomed = doomed.Concat((await OurSessionsAsync(cancellationToken).ConfigureAwait(false))
                        .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var owner) && owner == instanceId))
                    .DistinctBy(s => s.TrafficMirrorSessionId)
                    .ToList();
            }

            var deleted = await DeleteAsync(doomed, instanceId, eligibility.Reason, cancellationToken).ConfigureAwait(false);
            await WriteStatusAsync(instance, state, eligibility.Status, cancellationToken).ConfigureAwait(false);
            var decision = deleted.Count > 0 ? AttachDecision.Detach : AttachDecision.Skip;
            _log.Write(new Decision(decision, instanceId, eligibility.Reason) { Lab = LabOf(instance) });
            return new AttachPlan(instanceId, decision, eligibility.Reason, [], [], LabOf(instance), []);
        }

        var lab = LabOf(instance);
        var vni = await VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings);
        await DeleteAsync(plan.ToDelete, instanceId, "duplicate-obsolete-or-relabelled", cancellationToken).ConfigureAwait(false);
        foreach (var eni in plan.SessionLimitedEniIds)
        {
            _log.Write(new Decision("session-limit", instanceId, "interface already has 3 sessions") { EniId = eni, Level = "warn" });
        }

        var existing = plan.Existing.Select(s => s.TrafficMirrorSessionId).ToList();
        if (plan.ToCreate.Count == 0)
        {
            var status = plan.HitSessionLimit ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
            await WriteStatusAsync(instance, state, status, cancellationToken).ConfigureAwait(false);
            var reason = plan.HitSessionLimit ? AttachDecision.SessionLimit : AttachDecision.AlreadyMirrored;
            _log.Write(new Decision(AttachDecision.Skip, instanceId, reason) { Lab = lab, Vni = vni });
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
            var request = SessionRequest(plan.InstanceId, planned.NetworkInterfaceId, planned.SessionNumber, planned.VirtualNetworkId, plan.Lab, planned.ClientToken);
            try
            {
                var session = await CreateAsync(request, cancellationToken).ConfigureAwait(false);
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
                    _types.RecordRefusal(plan.InstanceType);
                }

                _log.Write(new Decision("refused", plan.InstanceId, MirrorStatus.UnsupportedInstanceType) { EniId = planned.NetworkInterfaceId, Error = e.Message, Level = "warn" });
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
    /// A create whose ClientToken EC2 already used with other parameters (an earlier session of this interface and
    /// number under another lab's VNI) is retried once with the token salted by the VNI, which is the same for
    /// every caller making this exact session.
    /// </summary>
    private async Task<TrafficMirrorSession> CreateAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
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
            return new Verified(plan.InstanceId, plan.Decision, plan.ExistingSessionIds, []);
        }

        Ec2Instance instance;
        try
        {
            instance = await DescribeAsync(plan.InstanceId, cancellationToken).ConfigureAwait(false);
        }
        catch (InstanceNotFoundException)
        {
            // Gone between create and verify: deleting its interfaces deleted their sessions with them.
            _log.Write(new Decision("verify", plan.InstanceId, "instance-gone"));
            return new Verified(plan.InstanceId, "gone", [], []);
        }

        var sessions = await SessionsOnAsync(instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        var ours = sessions.Where(IsOurs).ToList();
        var eligibility = await EligibilityAsync(instance, instance.State, cancellationToken).ConfigureAwait(false);
        if (created.Refused is not null && eligibility.Qualifies)
        {
            eligibility = Eligibility.No("unsupported-instance-type:refused-by-aws", MirrorStatus.UnsupportedInstanceType);
        }

        if (!eligibility.Qualifies)
        {
            var gone = await DeleteAsync(ours, plan.InstanceId, eligibility.Reason, cancellationToken).ConfigureAwait(false);
            await WriteStatusAsync(instance, instance.State, eligibility.Status, cancellationToken).ConfigureAwait(false);
            _log.Write(new Decision(AttachDecision.Detach, plan.InstanceId, eligibility.Reason));
            return new Verified(plan.InstanceId, eligibility.Status ?? "detached", [], gone);
        }

        // The instance's lab now, not the plan's: a re-label while this execution ran makes the plan stale, and
        // sessions are made for what the instance is now.
        var lab = LabOf(instance);
        var vni = await VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var superseded = (plan.Lab ?? SessionTags.NoLab) != lab;
        var limited = new List<string>();
        var kept = new List<string>();
        var toDelete = new List<TrafficMirrorSession>();
        var missing = new List<InstanceNetworkInterface>();
        foreach (var source in eligibility.SourceInterfaces)
        {
            var mine = ours.Where(s => s.NetworkInterfaceId == source.NetworkInterfaceId).ToList();
            var current = mine.Where(s => SessionPlanner.IsFor(s, lab, vni))
                .OrderBy(s => s.SessionNumber)
                .ThenBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal)
                .ToList();
            toDelete.AddRange(mine.Where(s => !SessionPlanner.IsFor(s, lab, vni)));
            if (current.Count > 0)
            {
                kept.Add(current[0].TrafficMirrorSessionId);
                toDelete.AddRange(current.Skip(1));
            }
            else
            {
                missing.Add(source);
            }
        }

        // Stale and duplicate sessions go first: they hold slots of the interface's three.
        var deleted = await DeleteAsync(toDelete, plan.InstanceId, superseded ? "relabelled" : "duplicate-or-relabelled", cancellationToken).ConfigureAwait(false);
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
            var id = await EnsureSessionAsync(plan.InstanceId, eni, number, vni, lab, cancellationToken).ConfigureAwait(false);
            if (id is null)
            {
                limited.Add(eni);
                continue;
            }

            kept.Add(id);
        }

        var status = limited.Count > 0 ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
        await WriteStatusAsync(instance, instance.State, status, cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision("verified", plan.InstanceId, superseded ? "relabelled-while-attaching" : status) { Lab = lab, Vni = vni });
        return new Verified(plan.InstanceId, status, kept, deleted);
    }

    /// <summary>
    /// After a failure: deletes the sessions this plan made that were not there before this run, so a failed
    /// attach leaves nothing half made, and marks the instance with the error status.
    /// </summary>
    public async Task<CleanupResult> CleanupAsync(AttachPlan plan, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var enis = plan.Sessions.Select(s => s.NetworkInterfaceId).Distinct(StringComparer.Ordinal).ToList();
        var sessions = await SessionsOnAsync(enis, cancellationToken).ConfigureAwait(false);
        var before = plan.ExistingSessionIds.ToHashSet(StringComparer.Ordinal);
        // Only what this plan made: its interface, number and VNI (its ClientToken made exactly that session). A
        // concurrent execution's session for the same interface differs in number or VNI and is left alone.
        var madeByPlan = sessions.Where(s => IsOurs(s) && !before.Contains(s.TrafficMirrorSessionId)
            && plan.Sessions.Any(p => p.NetworkInterfaceId == s.NetworkInterfaceId && p.SessionNumber == s.SessionNumber
                && (s.VirtualNetworkId is null || p.VirtualNetworkId == s.VirtualNetworkId)));
        var deleted = await DeleteAsync(madeByPlan, plan.InstanceId, "cleanup-after-failure", cancellationToken).ConfigureAwait(false);
        if (_settings.StatusTag)
        {
            await TagStatusAsync(plan.InstanceId, MirrorStatus.Error, cancellationToken).ConfigureAwait(false);
        }

        _log.Write(new Decision("cleanup", plan.InstanceId, "attach-failed") { Level = "error", Error = error });
        return new CleanupResult(plan.InstanceId, deleted);
    }

    // ---------------------------------------------------------------- in-process paths

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
                plan = await EvaluateAsync(instanceId, trigger, hint, cancellationToken).ConfigureAwait(false);
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
            var outcome = plan.Decision == AttachDecision.Detach ? "detached"
                : plan.Reason == AttachDecision.SessionLimit ? "session-limit"
                : plan.Reason == AttachDecision.AlreadyMirrored ? "mirrored"
                : "skipped";
            return new InstanceOutcome(instanceId, outcome, plan.Reason, plan.ExistingSessionIds, [], []);
        }

        var created = await CreateSessionsAsync(plan, cancellationToken).ConfigureAwait(false);
        try
        {
            var verified = await VerifyAsync(plan, created, cancellationToken).ConfigureAwait(false);
            var outcome = verified.Status switch
            {
                MirrorStatus.Mirrored => "mirrored",
                MirrorStatus.SessionLimit => "session-limit",
                _ => "skipped",
            };
            return new InstanceOutcome(instanceId, outcome, verified.Status, verified.SessionIds, created.SessionIds, verified.DeletedSessionIds);
        }
        catch (SessionVerificationException e)
        {
            await CleanupAsync(plan, e.Message, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// An instance EC2 no longer (or not yet) knows: its AutoMirror sessions, found by their instance-id tag, go.
    /// A session whose interface is gone has gone with it, so this mostly finds nothing.
    /// </summary>
    public async Task<InstanceOutcome> DetachUnknownInstanceAsync(string instanceId, CancellationToken cancellationToken)
    {
        var orphans = (await OurSessionsAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var id) && id == instanceId);
        var deleted = await DeleteAsync(orphans, instanceId, "instance-not-found", cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision(deleted.Count > 0 ? AttachDecision.Detach : AttachDecision.Skip, instanceId, "instance-not-found"));
        return new InstanceOutcome(instanceId, deleted.Count > 0 ? "detached" : "skipped", "instance-not-found", [], [], deleted);
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
                outcomes.Add(new InstanceOutcome(id, "failed", e.GetType().Name, [], [], []));
            }
        }).ConfigureAwait(false);

        var list = outcomes.OrderBy(o => o.InstanceId, StringComparer.Ordinal).ToList();
        var report = new ReconcileReport(
            list.Count,
            list.Count(o => o.Outcome == "mirrored"),
            list.Count(o => o.Outcome == "session-limit"),
            list.Count(o => o.Outcome == "detached"),
            list.Count(o => o.Outcome == "skipped"),
            list.Count(o => o.Outcome == "failed"),
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
        var ours = await OurSessionsAsync(cancellationToken).ConfigureAwait(false);
        var onCandidates = (await SessionsOnAsync(candidates.SelectMany(c => c.NetworkInterfaces).Select(n => n.NetworkInterfaceId), cancellationToken)
            .ConfigureAwait(false)).ToLookup(s => s.NetworkInterfaceId, StringComparer.Ordinal);

        var settled = new List<InstanceOutcome>();
        var unsettled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in candidates)
        {
            var sessions = instance.NetworkInterfaces.SelectMany(n => onCandidates[n.NetworkInterfaceId]).ToList();
            var eligibility = await EligibilityAsync(instance, instance.State, cancellationToken).ConfigureAwait(false);
            instance.Tags.TryGetValue(SessionTags.Status, out var currentStatus);
            var statusRight = !_settings.StatusTag || currentStatus == eligibility.Status;
            if (!eligibility.Qualifies)
            {
                if (sessions.Any(IsOurs) || !statusRight)
                {
                    unsettled.Add(instance.InstanceId);
                    continue;
                }

                _log.Write(new Decision(AttachDecision.Skip, instance.InstanceId, eligibility.Reason));
                settled.Add(new InstanceOutcome(instance.InstanceId, "skipped", eligibility.Reason, [], [], []));
                continue;
            }

            var lab = LabOf(instance);
            var vni = await VniForAsync(lab, cancellationToken).ConfigureAwait(false);
            var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings);
            var status = plan.HitSessionLimit ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
            if (plan.ToCreate.Count > 0 || plan.ToDelete.Count > 0 || (_settings.StatusTag && currentStatus != status))
            {
                unsettled.Add(instance.InstanceId);
                continue;
            }

            var reason = plan.HitSessionLimit ? AttachDecision.SessionLimit : AttachDecision.AlreadyMirrored;
            _log.Write(new Decision(AttachDecision.Skip, instance.InstanceId, reason));
            settled.Add(new InstanceOutcome(instance.InstanceId, plan.HitSessionLimit ? "session-limit" : "mirrored", reason,
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

    // ---------------------------------------------------------------- helpers

    private bool IsOurs(TrafficMirrorSession session) => _owned.IsOurs(session);

    private string LabOf(Ec2Instance instance) =>
        instance.Tags.TryGetValue(_settings.LabTagKey, out var lab) ? lab.Trim() : SessionTags.NoLab;

    /// <summary>
    /// A detach state from an event wins over a described "running" unless the instance started again after the
    /// event (its LaunchTime is the last start): then the event is stale.
    /// </summary>
    private static string EffectiveState(Ec2Instance instance, StateHint? hint)
    {
        if (hint is null || instance.State != "running" || hint.State == "running" || hint.State == "pending")
        {
            return instance.State;
        }

        return instance.LaunchTime is { } launched && hint.EventTime < launched ? instance.State : hint.State;
    }

    private async Task<Ec2Instance> DescribeAsync(string instanceId, CancellationToken cancellationToken)
    {
        IReadOnlyList<Ec2Instance> found;
        try
        {
            found = await _ec2.DescribeInstancesAsync([instanceId], cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            throw new InstanceNotFoundException(instanceId, e);
        }

        return found.FirstOrDefault(i => i.InstanceId == instanceId) ?? throw new InstanceNotFoundException(instanceId);
    }

    private async Task<Eligibility> EligibilityAsync(Ec2Instance instance, string state, CancellationToken cancellationToken)
    {
        var targetEnis = await TargetEniIdsAsync(cancellationToken).ConfigureAwait(false);
        // The type check costs a call, so it only runs for an instance every cheaper rule lets through.
        var cheap = MirrorPolicy.Evaluate(instance, state, _settings, new TypeVerdict(TypeSupport.Supported, "not-checked"), targetEnis);
        if (!cheap.Qualifies)
        {
            return cheap;
        }

        var verdict = await _types.VerdictAsync(instance.InstanceType, cancellationToken).ConfigureAwait(false);
        return MirrorPolicy.Evaluate(instance, state, _settings, verdict, targetEnis);
    }

    private async Task<IReadOnlySet<string>> TargetEniIdsAsync(CancellationToken cancellationToken)
    {
        if (_targetEniIds is { } known)
        {
            return known;
        }

        var targets = await _ec2.DescribeTrafficMirrorTargetsAsync([new Ec2Filter("traffic-mirror-target-id", _settings.MirrorTargetId)], cancellationToken)
            .ConfigureAwait(false);
        if (targets.Count == 0)
        {
            throw new ConfigurationException($"MIRROR_TARGET_ID {_settings.MirrorTargetId} does not exist in this account and region");
        }

        var enis = targets.Select(t => t.NetworkInterfaceId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        _targetEniIds = enis;
        return enis;
    }

    private async Task<IReadOnlyList<TrafficMirrorSession>> SessionsOnAsync(IEnumerable<string> eniIds, CancellationToken cancellationToken)
    {
        // EC2 bounds the values of one filter (200), so a whole fleet's interfaces are asked for in chunks.
        var result = new List<TrafficMirrorSession>();
        foreach (var chunk in eniIds.Distinct(StringComparer.Ordinal).Chunk(200))
        {
            result.AddRange(await _ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", chunk)], cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    private Task<IReadOnlyList<TrafficMirrorSession>> OurSessionsAsync(CancellationToken cancellationToken) => _owned.ListAsync(cancellationToken);

    private async Task<int> VniForAsync(string lab, CancellationToken cancellationToken)
    {
        if (_labVnis.TryGetValue(lab, out var cached))
        {
            return cached;
        }

        var ours = await OurSessionsAsync(cancellationToken).ConfigureAwait(false);
        var vniLabs = new Dictionary<int, string>();
        foreach (var session in ours.OrderBy(s => s.TrafficMirrorSessionId, StringComparer.Ordinal))
        {
            if (session.VirtualNetworkId is { } vni)
            {
                vniLabs.TryAdd(vni, session.Tags.TryGetValue(SessionTags.Lab, out var owner) ? owner : SessionTags.NoLab);
            }
        }

        var chosen = SessionIdentity.VniForLab(lab, vniLabs, _settings.DefaultVni);
        _labVnis[lab] = chosen;
        return chosen;
    }

    /// <summary>
    /// Creates the session for (interface, number) and makes sure it is live. EC2 answers a reused ClientToken with
    /// the session it made then, even if that was deleted since, and refuses it with IdempotentParameterMismatch if
    /// the lab's VNI differs now; each retry salts the token with what every concurrent caller sees alike (the
    /// stale session's id, the VNI), so retries stay idempotent across them. Null when the interface is full or gone.
    /// </summary>
    private async Task<string?> EnsureSessionAsync(string instanceId, string eni, int number, int vni, string lab, CancellationToken cancellationToken)
    {
        const int MaxAttempts = 8;
        var token = SessionIdentity.ClientToken(eni, _settings.MirrorTargetId, _settings.MirrorFilterId, number);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            TrafficMirrorSession session;
            try
            {
                session = await _ec2.CreateTrafficMirrorSessionAsync(SessionRequest(instanceId, eni, number, vni, lab, token), cancellationToken).ConfigureAwait(false);
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

    private CreateTrafficMirrorSessionRequest SessionRequest(string instanceId, string eni, int number, int vni, string? lab, string token) => new(
        eni,
        _settings.MirrorTargetId,
        _settings.MirrorFilterId,
        number,
        vni,
        _settings.PacketLength,
        token,
        SessionTags.For(instanceId, eni, lab),
        "AutoMirror " + instanceId);

    private async Task<IReadOnlyList<string>> DeleteAsync(IEnumerable<TrafficMirrorSession> sessions, string instanceId, string reason, CancellationToken cancellationToken)
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

    private async Task WriteStatusAsync(Ec2Instance instance, string state, string? status, CancellationToken cancellationToken)
    {
        // A terminated instance's tags go with it; writing them is a wasted mutating call.
        if (!_settings.StatusTag || state is "shutting-down" or "terminated")
        {
            return;
        }

        instance.Tags.TryGetValue(SessionTags.Status, out var current);
        if (current == status)
        {
            return;
        }

        try
        {
            if (status is null)
            {
                await _ec2.DeleteTagsAsync([instance.InstanceId], [SessionTags.Status], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _ec2.CreateTagsAsync([instance.InstanceId], new Dictionary<string, string> { [SessionTags.Status] = status }, cancellationToken)
                    .ConfigureAwait(false);
            }
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            _log.Write(new Decision("status-tag", instance.InstanceId, "instance-gone") { Level = "warn", Error = e.ErrorCode });
        }
    }

    private async Task TagStatusAsync(string instanceId, string status, CancellationToken cancellationToken)
    {
        try
        {
            await _ec2.CreateTagsAsync([instanceId], new Dictionary<string, string> { [SessionTags.Status] = status }, cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (AwsErrors.IsInstanceNotFound(e))
        {
            _log.Write(new Decision("status-tag", instanceId, "instance-gone") { Level = "warn", Error = e.ErrorCode });
        }
    }
}

/// <summary>Some instances of a reconcile failed; the others were reconciled. Carries the full report.</summary>
public sealed class ReconcileFailedException(ReconcileReport report, IReadOnlyList<Exception> failures)
    : AggregateException($"{report.Failed} of {report.Instances} instances failed to reconcile", failures)
{
    public ReconcileReport Report { get; } = report;
}
