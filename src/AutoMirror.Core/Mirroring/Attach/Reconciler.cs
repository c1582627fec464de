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

    private readonly IEc2Client _ec2;
    private readonly ILoadBalancingClient _loadBalancing;
    private readonly AutoMirrorSettings _settings;
    private readonly IDecisionLog _log;
    private readonly OwnedSessions _owned;
    private readonly MirrorFacts _facts;
    private readonly SessionWriter _writer;
    private readonly FleetReconciler _fleet;
    private readonly SensorHealth _health;
    private readonly StatusTagBatch _statusBatch;

    public Reconciler(
        IEc2Client ec2,
        ILoadBalancingClient loadBalancing,
        AutoMirrorSettings settings,
        TimeProvider time,
        IDecisionLog log,
        IReadOnlyList<TimeSpan>? notFoundBackoff = null)
    {
        _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
        ArgumentNullException.ThrowIfNull(time);
        _loadBalancing = loadBalancing ?? throw new ArgumentNullException(nameof(loadBalancing));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _owned = new OwnedSessions(ec2, settings.MirrorTargetId, settings.AccountId);
        _facts = new MirrorFacts(ec2, settings, _owned);
        _writer = new SessionWriter(ec2, settings, log, _owned);
        _health = new SensorHealth(loadBalancing, settings, time, interfaceTargetProbe: InterfaceTargetHealthAsync);
        _statusBatch = new StatusTagBatch(ec2, time, log);
        _fleet = new FleetReconciler(this, _facts, _writer, _owned, ec2, settings, time, log, notFoundBackoff ?? DefaultNotFoundBackoff);
    }

    public AutoMirrorSettings Settings => _settings;

    /// <summary>The container's sensor health gate, cached (the Attach workflow's and the scheduled reconcile's).</summary>
    public SensorHealth Health => _health;

    /// <summary>The container's pending automirror:status verdicts of create-first attaches.</summary>
    public StatusTagBatch StatusBatch => _statusBatch;

    // ---------------------------------------------------------------- Attach workflow steps

    /// <summary>
    /// Decides from EC2's current state. A non-qualifying instance loses its AutoMirror sessions here (decision
    /// detach, or skip when it had none); a qualifying one gets a plan of the sessions it lacks. With a
    /// <paramref name="correlationId"/> (the Attach workflow's event id) a qualifying instance is planned
    /// create-first: one DescribeInstances and no session describe (see <see cref="AttachPlan.CreateFirst"/>).
    /// </summary>
    public async Task<AttachPlan> EvaluateAsync(string instanceId, string trigger, StateHint? hint, CancellationToken cancellationToken, string? correlationId = null)
    {
        var instance = await _facts.DescribeAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = MirrorFacts.EffectiveState(instance, hint);
        if (state == "pending" && trigger == "running")
        {
            // The running event is newer than a describe that still says pending (eventual consistency): the
            // instance is running, and ending the workflow here would leave it unmirrored until a reconcile.
            state = "running";
        }

        var eligibility = await _facts.EligibilityAsync(instance, state, cancellationToken).ConfigureAwait(false);
        if (eligibility.Qualifies && correlationId is not null && CreateFirstNumber() is { } number)
        {
            return await PlanCreateFirstAsync(instance, eligibility, trigger, correlationId, number, cancellationToken).ConfigureAwait(false);
        }

        var sessions = await _facts.SessionsOnAsync(instance.NetworkInterfaces.Select(n => n.NetworkInterfaceId), cancellationToken).ConfigureAwait(false);
        if (!eligibility.Qualifies)
        {
            var doomed = sessions.Where(_owned.IsOurs).ToList();
            if (state is "shutting-down" or "terminated")
            {
                // A terminated instance describes no interfaces, but an ENI attached with DeleteOnTermination=false
                // outlives it with its sessions still billing: ours are found by their instance-id tag instead, less
                // those whose interface has since been attached to another instance (that instance's decision).
                var byTag = (await _facts.OurSessionsAsync(cancellationToken).ConfigureAwait(false))
                    .Where(s => s.Tags.TryGetValue(SessionTags.InstanceId, out var owner) && owner == instanceId
                        && !doomed.Any(d => d.TrafficMirrorSessionId == s.TrafficMirrorSessionId));
                doomed = [.. doomed, .. await _facts.StillWithAsync(instanceId, byTag, cancellationToken).ConfigureAwait(false)];
            }

            var deleted = await _writer.DeleteAsync(doomed, instanceId, eligibility.Reason, cancellationToken).ConfigureAwait(false);
            await _writer.WriteStatusAsync(instance, state, StatusTagRule.Desired(StatusOf(instance), eligibility, deleted.Count > 0), cancellationToken).ConfigureAwait(false);
            var decision = deleted.Count > 0 ? AttachDecision.Detach : AttachDecision.Skip;
            _log.Write(new Decision(decision.ToWireName(), instanceId, eligibility.Reason) { Lab = _facts.LabOf(instance) });
            return new AttachPlan(instanceId, decision, eligibility.Reason, [], [], _facts.LabOf(instance), []);
        }

        var lab = _facts.LabOf(instance);
        var vni = await _facts.VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var plan = SessionPlanner.Plan(eligibility.SourceInterfaces, sessions, lab, vni, _settings, instanceId);
        await _writer.DeleteAsync(plan.ToDelete, instanceId, "duplicate-obsolete-or-relabelled", cancellationToken).ConfigureAwait(false);
        foreach (var eni in plan.SessionLimitedEniIds)
        {
            _log.Write(new Decision("session-limit", instanceId, "interface already has 3 sessions") { EniId = eni, Level = "warn" });
        }

        var existing = plan.Existing.Select(s => s.TrafficMirrorSessionId).ToList();
        if (plan.ToCreate.Count > 0 && _settings.TargetKind == MirrorTargetKind.Eni)
        {
            // Target kinds (issue #17 item 1): an interface target takes 10 sources (100 on a few large types). An
            // instance is attached whole or waits whole, so a lab never sees half its interfaces; the scheduled
            // reconcile attaches it once a source leaves.
            var room = await _facts.InterfaceTargetRoomAsync(cancellationToken).ConfigureAwait(false);
            if (!room.Fits(plan.ToCreate.Select(p => p.NetworkInterfaceId)))
            {
                await _writer.WriteStatusAsync(instance, state, MirrorStatus.Waiting.ToWireName(), cancellationToken).ConfigureAwait(false);
                _log.Write(new Decision(AttachDecision.Skip.ToWireName(), instanceId, SkipReasons.WaitingForTarget)
                {
                    Lab = lab,
                    Level = "warn",
                    Counts = new Dictionary<string, int> { ["targetSources"] = room.Sources.Count, ["targetLimit"] = room.Limit, ["needed"] = plan.ToCreate.Count },
                });
                return new AttachPlan(instanceId, AttachDecision.Skip, SkipReasons.WaitingForTarget, [], existing, lab, plan.SessionLimitedEniIds);
            }
        }

        if (plan.ToCreate.Count == 0)
        {
            var status = plan.HitSessionLimit ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
            await _writer.WriteStatusAsync(instance, state, status.ToWireName(), cancellationToken).ConfigureAwait(false);
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
                SessionNumberReason = planned.NumberReason,
                Vni = planned.VirtualNetworkId,
                Lab = lab,
            });
        }

        return new AttachPlan(instanceId, AttachDecision.Attach, "sessions-missing", plan.ToCreate, existing, lab, plan.SessionLimitedEniIds)
        {
            InstanceType = instance.InstanceType,
            AvailabilityZone = instance.AvailabilityZone,
        };
    }

    /// <summary>
    /// The number a create-first plan may take without reading the interface's sessions, or null when only a read can
    /// tell. AWS gives a packet to the lowest-numbered session whose filter accepts it, so AutoMirror must never go
    /// ahead of a session someone else made: the last number (32766) is behind every session that can exist; a
    /// preferred number is safe unread only when the operator allowed it ahead of foreign sessions.
    /// </summary>
    private SessionNumberChoice? CreateFirstNumber() => _settings.PreferredSessionNumber switch
    {
        // An interface target's room must be counted before a create (Evaluate reads the target's sessions).
        _ when _settings.TargetKind == MirrorTargetKind.Eni => null,
        null => new SessionNumberChoice(AutoMirrorSettings.MaxSessionNumber, "last-free"),
        { } preferred when _settings.PreferredSessionNumberAheadOfForeign => new SessionNumberChoice(preferred, "preferred-ahead-of-foreign"),
        _ => null,
    };

    /// <summary>
    /// The plan of a qualifying instance without reading its sessions: one session per source interface at
    /// <paramref name="choice"/>, under a token of this attach. What is already there shows up as a conflict at create
    /// time, and only then is the interface described (and planned behind its foreign sessions).
    /// </summary>
    private async Task<AttachPlan> PlanCreateFirstAsync(Ec2Instance instance, Eligibility eligibility, string trigger, string correlationId, SessionNumberChoice choice, CancellationToken cancellationToken)
    {
        var lab = _facts.LabOf(instance);
        var vni = await _facts.VniForAsync(lab, cancellationToken).ConfigureAwait(false);
        var number = choice.Number;
        var planned = eligibility.SourceInterfaces
            .Select(source => new PlannedSession(source.NetworkInterfaceId, number, vni,
                SessionIdentity.AttachClientToken(source.NetworkInterfaceId, _settings.MirrorTargetId, _settings.MirrorFilterId, number, correlationId))
            { NumberReason = choice.Reason })
            .ToList();
        foreach (var session in planned)
        {
            _log.Write(new Decision("plan-session", instance.InstanceId, trigger)
            {
                EniId = session.NetworkInterfaceId,
                SessionNumber = session.SessionNumber,
                SessionNumberReason = session.NumberReason,
                Vni = session.VirtualNetworkId,
                Lab = lab,
            });
        }

        return new AttachPlan(instance.InstanceId, AttachDecision.Attach, "create-first", planned, [], lab, [])
        {
            InstanceType = instance.InstanceType,
            AvailabilityZone = instance.AvailabilityZone,
            CorrelationId = correlationId,
            CreateFirst = true,
        };
    }

    /// <summary>
    /// The gate before any session is made: mirrored packets to a target with no healthy sensor are lost. A healthy
    /// answer is reused for a bounded age (<see cref="SensorHealth"/>). With zone-local delivery the sensor must be in
    /// the source's own zone (<see cref="SensorZones"/>), asked afresh each time.
    /// </summary>
    public async Task<TargetHealth> CheckTargetHealthAsync(AttachPlan? plan, CancellationToken cancellationToken)
    {
        if (_settings.ZoneLocalDelivery)
        {
            return await CheckTargetHealthInZoneAsync(plan, cancellationToken).ConfigureAwait(false);
        }

        var (health, cached) = await _health.CheckAsync(cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision("target-health", null, health.Healthy ? (cached ? "healthy-cached" : "healthy") : "no-healthy-target"));
        return health;
    }

    /// <summary>
    /// The health of an interface target (TargetKind eni). No load balancer checks it: a sensor takes the interface
    /// only once its own /health answers (its user data), and the Auto Scaling group replaces one that fails EC2's
    /// status checks, so a running instance holding the interface is the healthy sensor. (A Lambda outside the VPC
    /// cannot ask the sensor's /health itself.)
    /// </summary>
    private async Task<TargetHealth> InterfaceTargetHealthAsync(CancellationToken cancellationToken)
    {
        var holder = await _facts.InterfaceHolderAsync(cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision("target-health", holder?.InstanceId, holder is not null ? "sensor-holds-the-target-interface" : "no-sensor-holds-the-target-interface"));
        return new TargetHealth(holder is not null ? 1 : 0, holder is not null);
    }

    /// <summary>
    /// Zone-local delivery's gate: a healthy sensor in the source's own zone. Instance targets carry no zone in
    /// DescribeTargetHealth, so the healthy ones are described once (no call when none is healthy).
    /// </summary>
    private async Task<TargetHealth> CheckTargetHealthInZoneAsync(AttachPlan? plan, CancellationToken cancellationToken)
    {
        var targets = await _loadBalancing.DescribeTargetHealthAsync(_settings.RequireSensorTargetGroupArn(), cancellationToken).ConfigureAwait(false);
        var healthy = SensorZones.Healthy(targets);
        var zones = await ZonesOfAsync(healthy, cancellationToken).ConfigureAwait(false);
        var sourceZone = plan?.AvailabilityZone;
        var served = SensorZones.ServesInZone(sourceZone, zones.Values.ToList());
        var inZone = zones.Count(z => z.Value == sourceZone || z.Value == SensorZones.AllZones);
        _log.Write(new Decision("target-health", plan?.InstanceId, served ? "healthy-in-zone" : sourceZone is null ? "zone-unknown" : "no-healthy-target-in-zone")
        {
            Level = served ? "info" : "warn",
        });
        return new TargetHealth(healthy.Count, served) { AvailabilityZone = sourceZone, HealthyTargetsInZone = inZone };
    }

    /// <summary>Target id → zone of each healthy target: ELBv2's own zone where it gives one, else the instance's.</summary>
    private async Task<Dictionary<string, string>> ZonesOfAsync(IReadOnlyList<TargetHealthDescription> healthy, CancellationToken cancellationToken)
    {
        var zones = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var target in healthy.Where(t => t.AvailabilityZone is not null))
        {
            zones[target.TargetId] = target.AvailabilityZone!;
        }

        var instanceIds = healthy.Where(t => t.AvailabilityZone is null && InstanceIds.IsInstanceId(t.TargetId)).Select(t => t.TargetId).Distinct().ToList();
        if (instanceIds.Count > 0)
        {
            // By filter, not by id: a sensor terminated since DescribeTargetHealth is left out instead of failing the call.
            foreach (var sensor in await _ec2.DescribeInstancesAsync([new Ec2Filter("instance-id", instanceIds)], cancellationToken).ConfigureAwait(false))
            {
                if (sensor.AvailabilityZone is { } zone)
                {
                    zones[sensor.InstanceId] = zone;
                }
            }
        }

        return zones;
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
        var waiting = new List<string>();
        if (plan.Decision != AttachDecision.Attach)
        {
            return new CreatedSessions([], created, limited);
        }

        foreach (var planned in plan.Sessions)
        {
            var request = _writer.Request(plan.InstanceId, planned.NetworkInterfaceId, planned.SessionNumber, planned.VirtualNetworkId, plan.Lab, planned.ClientToken,
                plan.CreateFirst ? plan.CorrelationId : null);
            try
            {
                var session = await _writer.CreateAsync(request, cancellationToken).ConfigureAwait(false);
                created.Add(new CreatedSession(planned.NetworkInterfaceId, session.TrafficMirrorSessionId, session.SessionNumber, planned.ClientToken)
                {
                    NumberReason = planned.NumberReason,
                });
                _log.Write(new Decision("create-session", plan.InstanceId, "planned")
                {
                    EniId = planned.NetworkInterfaceId,
                    SessionId = session.TrafficMirrorSessionId,
                    SessionNumber = session.SessionNumber,
                    SessionNumberReason = planned.NumberReason,
                    Vni = planned.VirtualNetworkId,
                    Lab = plan.Lab,
                });
            }
            catch (AwsServiceException e) when (AwsErrors.IsInterfaceNotFound(e))
            {
                _log.Write(new Decision("skip-interface", plan.InstanceId, "interface-gone") { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode });
            }
            catch (AwsServiceException e) when (AwsErrors.IsTargetSourceLimit(e))
            {
                // Another attach took the target's last place since Evaluate counted: this one waits (Verify decides).
                waiting.Add(planned.NetworkInterfaceId);
                _log.Write(new Decision("skip-interface", plan.InstanceId, SkipReasons.WaitingForTarget) { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode, Level = "warn" });
            }
            catch (AwsServiceException e) when (AwsErrors.IsInstanceTypeRefusal(e))
            {
                if (plan.InstanceType is not null)
                {
                    _facts.Types.RecordRefusal(plan.InstanceType);
                }

                _log.Write(new Decision("refused", plan.InstanceId, MirrorStatus.UnsupportedInstanceType.ToWireName()) { EniId = planned.NetworkInterfaceId, Error = e.Message, Level = "warn" });
                return new CreatedSessions(created.Select(c => c.SessionId).ToList(), created, limited, MirrorStatus.UnsupportedInstanceType) { WaitingEniIds = waiting };
            }
            catch (AwsServiceException e) when (plan.CreateFirst && (AwsErrors.IsSessionLimit(e) || AwsErrors.IsPossibleNumberConflict(e) || AwsErrors.IsRaceLost(e)))
            {
                // Planned without looking: the interface already has sessions (ours from an earlier attach, another
                // tool's, a concurrent execution's). Verify describes it and decides; nothing is concluded here.
                _log.Write(new Decision("create-session", plan.InstanceId, "conflict-describe-in-verify") { EniId = planned.NetworkInterfaceId, Error = e.ErrorCode });
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

        return new CreatedSessions(created.Select(c => c.SessionId).ToList(), created, limited) { WaitingEniIds = waiting };
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

        if (plan.CreateFirst && created.Refused is null && CoversEveryInterface(plan, created))
        {
            // Each create was answered with a session under this attach's own token, which EC2 cannot answer with a
            // session deleted since: the answers are the verification, with no read. The instance is re-checked by the
            // events that change it (an untag or stop detaches at once) and by the scheduled reconcile.
            if (_settings.StatusTag)
            {
                await _statusBatch.AddAsync(plan.InstanceId, MirrorStatus.Mirrored, cancellationToken).ConfigureAwait(false);
            }

            _log.Write(new Decision("verified", plan.InstanceId, "create-answered") { Lab = plan.Lab });
            return new Verified(plan.InstanceId, MirrorStatus.Mirrored.ToWireName(), created.Sessions!.Select(s => s.SessionId).ToList(), []);
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
            await _writer.WriteStatusAsync(instance, instance.State, StatusTagRule.Desired(StatusOf(instance), eligibility, gone.Count > 0), cancellationToken)
                .ConfigureAwait(false);
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
            var judged = SessionPlanner.ForInterface([.. ours.Where(s => s.NetworkInterfaceId == source.NetworkInterfaceId)], lab, vni, _settings.MirrorTargetId, plan.InstanceId);
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
        var waiting = new List<string>();
        if (missing.Count > 0 && _settings.TargetKind == MirrorTargetKind.Eni
            && !(await _facts.InterfaceTargetRoomAsync(cancellationToken).ConfigureAwait(false)).Fits(missing.Select(m => m.NetworkInterfaceId)))
        {
            // Target kinds (issue #17 item 1): the interface target filled up since Evaluate; the rest waits.
            waiting.AddRange(missing.Select(m => m.NetworkInterfaceId));
            missing.Clear();
        }

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
            var onEni = sessions.Where(s => s.NetworkInterfaceId == eni).ToList();
            int number;
            if (planned is not null && !others.Any(o => o.SessionNumber == planned.SessionNumber)
                && SessionPlanner.StaysBehindForeign(planned.SessionNumber, others, _settings))
            {
                number = planned.SessionNumber;
            }
            else if (SessionPlanner.ChooseSessionNumber(onEni, _settings) is { } choice)
            {
                number = choice.Number;
                _log.Write(new Decision("plan-session", plan.InstanceId, "verify-repair") { EniId = eni, SessionNumber = number, SessionNumberReason = choice.Reason });
            }
            else
            {
                limited.Add(eni);
                continue;
            }

            string? id;
            try
            {
                id = await _writer.EnsureSessionAsync(plan.InstanceId, eni, number, vni, lab, cancellationToken).ConfigureAwait(false);
            }
            catch (AwsServiceException e) when (AwsErrors.IsTargetSourceLimit(e))
            {
                waiting.Add(eni);
                continue;
            }

            if (id is null)
            {
                limited.Add(eni);
                continue;
            }

            kept.Add(id);
        }

        var status = waiting.Count > 0 ? MirrorStatus.Waiting : limited.Count > 0 ? MirrorStatus.SessionLimit : MirrorStatus.Mirrored;
        await _writer.WriteStatusAsync(instance, instance.State, status.ToWireName(), cancellationToken).ConfigureAwait(false);
        _log.Write(new Decision("verified", plan.InstanceId, superseded ? "relabelled-while-attaching" : status.ToWireName()) { Lab = lab, Vni = vni });
        return new Verified(plan.InstanceId, status.ToWireName(), kept, deleted);
    }

    private static bool CoversEveryInterface(AttachPlan plan, CreatedSessions created) =>
        created.Sessions is { } sessions && plan.Sessions.Count > 0
        && plan.Sessions.All(p => sessions.Any(s => s.NetworkInterfaceId == p.NetworkInterfaceId && s.ClientToken == p.ClientToken));

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
        // A create-first plan knew no sessions before: its own carry its correlation id.
        var madeByPlan = sessions.Where(s => _owned.IsOurs(s) && !before.Contains(s.TrafficMirrorSessionId)
            && plan.Sessions.Any(p => p.NetworkInterfaceId == s.NetworkInterfaceId && p.SessionNumber == s.SessionNumber
                && (s.VirtualNetworkId is null || p.VirtualNetworkId == s.VirtualNetworkId))
            && (!plan.CreateFirst || (s.Tags.TryGetValue(SessionTags.CorrelationId, out var madeBy) && madeBy == plan.CorrelationId)));
        var deleted = await _writer.DeleteAsync(madeByPlan, plan.InstanceId, "cleanup-after-failure", cancellationToken).ConfigureAwait(false);
        if (_settings.StatusTag)
        {
            await _writer.TagStatusAsync(plan.InstanceId, MirrorStatus.Error, cancellationToken).ConfigureAwait(false);
        }

        _log.Write(new Decision("cleanup", plan.InstanceId, "attach-failed") { Level = "error", Error = error });
        return new CleanupResult(plan.InstanceId, deleted);
    }

    private static string? StatusOf(Ec2Instance instance) => instance.Tags.TryGetValue(SessionTags.Status, out var status) ? status : null;

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
