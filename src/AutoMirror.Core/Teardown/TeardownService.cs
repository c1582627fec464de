using AutoMirror.Core.Ownership;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AutoMirror.Aws;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// The teardown's use cases over AWS ports: assess labs, start one workflow per idle lab, and the workflow's steps
/// (list, delete, instance action, report). The CLI runs the same steps in-process. Every mutating step re-reads
/// what it acts on, so a stale or forged workflow input cannot reach a resource AutoMirror did not create.
/// </summary>
public sealed class TeardownService(
    IEc2Client ec2,
    ICloudWatchClient cloudWatch,
    IStepFunctionsClient stepFunctions,
    TimeProvider time,
    TeardownSettings settings)
{
    private readonly OwnedSessions _owned = new(ec2, settings.MirrorTargetId, settings.AccountId);

    private static readonly string[] LiveStates = ["pending", "running", "stopping", "stopped", "shutting-down"];

    public TeardownSettings Settings => settings;

    /// <summary>Verdicts for every lab, or for <paramref name="lab"/> alone (then without the not-a-lab group).</summary>
    public async Task<IReadOnlyList<LabVerdict>> AssessAsync(string? lab, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var instances = await LabInstancesAsync(lab, cancellationToken);
        var sessions = await OurSessionsAsync(cancellationToken);

        IReadOnlyDictionary<string, InstanceTraffic> traffic = new Dictionary<string, InstanceTraffic>();
        if (instances.Count > 0)
        {
            var ids = instances.Select(i => i.InstanceId).ToList();
            var windowStart = now - settings.IdlePeriod;
            var results = await cloudWatch.GetMetricDataAsync(MirrorTraffic.Queries(ids), windowStart, now, cancellationToken);
            traffic = MirrorTraffic.Interpret(ids, results, windowStart, now);
        }

        var verdicts = IdleLabDetector.Detect(instances, sessions, traffic, now, settings);
        if (lab is not null)
        {
            verdicts = [.. verdicts.Where(v => v.Lab == lab)];
            if (verdicts.Count == 0)
            {
                verdicts = [new LabVerdict(lab, LabStatus.NotALab, [$"no live instance carries {settings.LabTagKey}={lab}"], [], [])];
            }
        }

        return verdicts;
    }

    /// <summary>The scheduled run: assess every lab and start the teardown workflow for each idle one.</summary>
    public async Task<IdleLabsResult> StartIdleTeardownsAsync(CancellationToken cancellationToken)
    {
        var stateMachineArn = settings.StateMachineArn
            ?? throw new ConfigurationException("TEARDOWN_STATE_MACHINE_ARN is required by this function and is not set");
        var now = time.GetUtcNow();
        var verdicts = await AssessAsync(null, cancellationToken);
        var reports = new List<LabReport>(verdicts.Count);
        var executions = new List<StartedTeardown>();
        foreach (var verdict in verdicts)
        {
            var plan = TeardownPlanner.Plan(verdict, settings.Action, settings);
            if (verdict.IsIdle && plan.SessionsToDelete.Count == 0 && plan.InstancesToStop.Count == 0 && plan.InstancesToTerminate.Count == 0)
            {
                // Idle but already torn down (no sessions, instances already stopped): starting a workflow every
                // window for such a lab would only add noise.
                plan = plan with { Notes = [.. plan.Notes, "nothing left to tear down"] };
                reports.Add(Report(verdict, plan, deleted: [], action: null));
                continue;
            }

            reports.Add(Report(verdict, plan, deleted: [], action: null));
            if (!verdict.IsIdle)
            {
                continue;
            }

            var input = new TeardownInput(plan.Lab, plan.Action.ToName(),
                new TeardownReasons(verdict.Status.ToName(), verdict.Reasons, plan.RequestedAction.ToName(), plan.Notes));
            var name = ExecutionName(plan.Lab, now, settings.IdlePeriod);
            var json = JsonSerializer.Serialize(input, AutoMirrorJsonContext.Default.TeardownInput);
            if (AwsInput.WorkflowPayload($"the teardown input for lab {plan.Lab}", json) is { } tooLarge)
            {
                // StartExecution would refuse it: this lab is reported, the others still start.
                executions.Add(new StartedTeardown(plan.Lab, name, null, AlreadyStarted: false) { Error = tooLarge });
                continue;
            }

            executions.Add(await StartAsync(stateMachineArn, name, plan.Lab, json, cancellationToken));
        }

        return new IdleLabsResult(now, (int)settings.IdlePeriod.TotalMinutes, settings.Action.ToName(), reports, executions);
    }

    public async Task<LabSessionList> ListLabSessionsAsync(string lab, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(lab);
        var instances = await LabInstancesAsync(lab, cancellationToken);
        var sessions = IdleLabDetector.SessionsOf(instances, await OurSessionsAsync(cancellationToken));
        return new LabSessionList(lab,
            [.. sessions.Select(s => new SessionRef(s.SessionId, s.InstanceId, s.NetworkInterfaceId))],
            [.. instances.Select(i => i.InstanceId)]);
    }

    /// <summary>Deletes one session if, read again now, it is AutoMirror's and mirrors to our target.</summary>
    public async Task<DeleteOutcome> DeleteSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        var session = await _owned.FindAsync(sessionId, cancellationToken);
        if (session is null)
        {
            return new DeleteOutcome(sessionId, "already-gone");
        }

        return await _owned.DeleteAsync(session, cancellationToken)
            ? new DeleteOutcome(sessionId, "deleted")
            : new DeleteOutcome(sessionId, "not-automirror");
    }

    /// <summary>
    /// Stops or terminates the lab's instances, or for detach marks its running opted-in ones excluded: a tagged
    /// running instance without sessions is exactly what the scheduled reconcile re-attaches, which would undo the
    /// detach. Lab members that never opted in to mirroring keep their tags untouched.
    /// (Stopped instances are left unmarked: a lab started again is in use and is mirrored again.) The instance list
    /// is intersected with the lab as it is now, and terminate is re-checked against both opt-ins: an input cannot
    /// widen what the lab allows.
    /// </summary>
    /// <summary>
    /// Before the stack is deleted: every session AutoMirror made to this stack's target, whatever its lab, so that
    /// EC2 lets CloudFormation delete the target and the filter. Sessions that are not ours are left alone (EC2 then
    /// refuses to delete the target, and the stack says so) — AutoMirror never deletes what it did not create.
    /// </summary>
    public async Task<IReadOnlyList<DeleteOutcome>> DeleteAllOursAsync(CancellationToken cancellationToken)
    {
        var outcomes = new List<DeleteOutcome>();
        foreach (var session in await _owned.ListAsync(cancellationToken))
        {
            outcomes.Add(await DeleteSessionAsync(session.TrafficMirrorSessionId, cancellationToken));
        }

        return outcomes;
    }

    public async Task<InstanceActionResult> InstanceActionAsync(InstanceActionRequest request, bool dryRun, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.Lab);
        if (!TeardownActions.TryParse(request.Action, out var requested))
        {
            throw new ArgumentException($"action must be one of {string.Join(" | ", TeardownActions.Names)}, got '{request.Action}'", nameof(request));
        }

        var notes = new List<string>();
        var members = await LabInstancesAsync(request.Lab, cancellationToken);
        var memberIds = members.Select(m => m.InstanceId).ToHashSet(StringComparer.Ordinal);
        var outsiders = request.InstanceIds.Where(id => !memberIds.Contains(id)).ToList();
        if (outsiders.Count > 0)
        {
            notes.Add($"not in lab {request.Lab} (now), left alone: {string.Join(", ", outsiders)}");
        }

        var wanted = request.InstanceIds.ToHashSet(StringComparer.Ordinal);
        var targets = members.Where(m => wanted.Contains(m.InstanceId)).ToList();
        var action = requested;
        if (action == TeardownAction.Terminate
            && TeardownPlanner.RefuseTerminate(new LabVerdict(request.Lab, LabStatus.Expired, [], members, []), settings) is { } refusal)
        {
            // The opt-in is judged on the whole lab as it is now, not on the list the input names.
            notes.Add(refusal + "; stopping instead");
            action = TeardownAction.Stop;
        }

        IReadOnlyList<string> toStop = action == TeardownAction.Stop
            ? [.. targets.Where(t => TeardownPlanner.CanStop(t.State)).Select(t => t.InstanceId)]
            : [];
        IReadOnlyList<string> toTerminate = action == TeardownAction.Terminate
            ? [.. targets.Where(t => TeardownPlanner.CanTerminate(t.State)).Select(t => t.InstanceId)]
            : [];
        IReadOnlyList<string> toExclude = action == TeardownAction.Detach
            ? [.. targets.Where(t => TeardownPlanner.CanStop(t.State) && settings.OptIn.IsOptedIn(t.Tags) && !settings.OptIn.IsExcluded(t.Tags)).Select(t => t.InstanceId)]
            : [];
        if (toExclude.Count > 0)
        {
            notes.Add($"running instances marked {settings.ExcludeTagKey}=true so the reconcile leaves them detached; remove the tag to mirror again");
        }

        if (dryRun)
        {
            notes.Add("dry run: nothing is changed");
        }
        else
        {
            if (toStop.Count > 0)
            {
                await ec2.StopInstancesAsync(toStop, cancellationToken);
            }

            if (toTerminate.Count > 0)
            {
                await ec2.TerminateInstancesAsync(toTerminate, cancellationToken);
            }

            if (toExclude.Count > 0)
            {
                await ec2.CreateTagsAsync(toExclude, new Dictionary<string, string> { [settings.ExcludeTagKey] = "true" }, cancellationToken);
            }
        }

        return new InstanceActionResult(request.Lab, requested.ToName(), action.ToName(),
            dryRun ? [] : toStop, dryRun ? [] : toTerminate, dryRun ? [] : toExclude, notes);
    }

    /// <summary>
    /// The operator's teardown of one named lab, in-process, through the same steps as the workflow. The lab need
    /// not be idle (the operator decides), but terminate still needs both opt-ins.
    /// </summary>
    public async Task<LabReport> TeardownLabAsync(string lab, TeardownAction action, bool dryRun, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(lab);
        var verdict = (await AssessAsync(lab, cancellationToken))[0];
        var plan = TeardownPlanner.Plan(verdict, action, settings, dryRun, force: verdict.Lab is not null && verdict.Instances.Count > 0);
        if (!plan.Applies)
        {
            return Report(verdict, plan, deleted: [], action: null);
        }

        InstanceActionResult? instanceAction = null;
        if (plan.Action == TeardownAction.Detach)
        {
            // Mark first, so a reconcile running meanwhile does not re-create what is being deleted.
            instanceAction = await InstanceActionAsync(
                new InstanceActionRequest(lab, plan.Action.ToName(), [.. verdict.InstanceIds]), dryRun: false, cancellationToken);
        }

        var deleted = new List<string>();
        foreach (var session in plan.SessionsToDelete)
        {
            var outcome = await DeleteSessionAsync(session.SessionId, cancellationToken);
            if (outcome.Outcome is "deleted" or "already-gone")
            {
                deleted.Add(session.SessionId);
            }
        }

        if (plan.Action is TeardownAction.Stop or TeardownAction.Terminate)
        {
            instanceAction = await InstanceActionAsync(
                new InstanceActionRequest(lab, plan.Action.ToName(), [.. verdict.InstanceIds]), dryRun: false, cancellationToken);
        }

        return Report(verdict, plan, deleted, instanceAction);
    }

    public LabReport Report(LabVerdict verdict, TeardownPlan plan, IReadOnlyList<string> deleted, InstanceActionResult? action)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(deleted);
        var notes = plan.Notes.Concat(action?.Notes ?? []).Distinct().ToList();
        var lines = verdict.Sessions.Select(s => new TeardownSessionLine(s.SessionId, s.InstanceId, s.NetworkInterfaceId, verdict.Lab)).ToList();
        // Saved is what this run did; a run that changed nothing saved nothing, and says what a real run would save.
        var saved = plan.Applies ? deleted.Count * settings.SessionHourlyPrice : 0m;
        return new LabReport(verdict.Lab, verdict.Status.ToName(), verdict.IsIdle, verdict.Reasons,
            plan.RequestedAction.ToName(), plan.Action.ToName(), plan.Applies,
            [.. verdict.InstanceIds], [.. verdict.Sessions.Select(s => s.SessionId)], deleted,
            action?.StoppedInstanceIds ?? [], action?.TerminatedInstanceIds ?? [], action?.ExcludedInstanceIds ?? [], notes, saved,
            plan.Applies ? [.. verdict.Sessions.Select(s => s.SessionId).Except(deleted)] : [], [])
        {
            WouldDelete = plan.Applies ? null : lines,
            Deleted = plan.Applies ? [.. lines.Where(l => deleted.Contains(l.SessionId))] : null,
            HourlyCostWouldSave = plan.Applies ? null : plan.HourlyCostSaved,
        };
    }

    /// <summary>
    /// Execution name: lab and idle window, so every scheduled run within one window maps to one execution.
    /// Step Functions allows 80 characters of letters, digits, '-' and '_'; other lab names are hashed to stay unique.
    /// </summary>
    public static string ExecutionName(string lab, DateTimeOffset now, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(lab);
        var ticks = Math.Max(1, window.Ticks);
        var windowStart = new DateTimeOffset(now.UtcTicks / ticks * ticks, TimeSpan.Zero);
        var safe = new string([.. lab.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        if (safe != lab || safe.Length > 40)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lab)))[..8];
            safe = (safe.Length > 40 ? safe[..40] : safe) + "-" + hash;
        }

        return string.Create(CultureInfo.InvariantCulture, $"teardown-{safe}-{windowStart:yyyyMMdd'T'HHmm}");
    }

    private async Task<StartedTeardown> StartAsync(string arn, string name, string lab, string input, CancellationToken cancellationToken)
    {
        try
        {
            var started = await stepFunctions.StartExecutionAsync(arn, name, input, cancellationToken);
            return new StartedTeardown(lab, name, started.ExecutionArn, AlreadyStarted: false);
        }
        catch (AwsServiceException e) when (e.ErrorCode == "ExecutionAlreadyExists")
        {
            // An earlier run in this window already started this lab's teardown (its reasons text may differ).
            return new StartedTeardown(lab, name, null, AlreadyStarted: true);
        }
    }

    private async Task<IReadOnlyList<LabInstance>> LabInstancesAsync(string? lab, CancellationToken cancellationToken)
    {
        var filters = new List<Ec2Filter>
        {
            lab is null ? new Ec2Filter("tag-key", settings.LabTagKey) : new Ec2Filter("tag:" + settings.LabTagKey, lab),
            new("instance-state-name", LiveStates),
        };
        var instances = await ec2.DescribeInstancesAsync(filters, cancellationToken);
        return [.. instances
            .Where(i => LiveStates.Contains(i.State))
            .Select(i => new LabInstance(i.InstanceId, i.State, i.Tags,
                [.. i.NetworkInterfaces.Select(n => n.NetworkInterfaceId)], i.StateTransitionReason))
            .Where(i => lab is null || IdleLabDetector.LabOf(i, settings) == lab)];
    }

    private async Task<IReadOnlyList<LabSession>> OurSessionsAsync(CancellationToken cancellationToken)
    {
        var sessions = await _owned.ListAsync(cancellationToken);
        return [.. sessions.Select(s => new LabSession(s.TrafficMirrorSessionId, s.NetworkInterfaceId,
            s.Tags.TryGetValue(SessionTags.InstanceId, out var id) ? id : null))];
    }

    /// <summary>AutoMirror touches only sessions it tagged as managed whose target is the stack's target.</summary>
    public bool IsOurs(TrafficMirrorSession session) => _owned.IsOurs(session);
}
