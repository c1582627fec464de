using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AutoMirror.Aws;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Events;
using AutoMirror.Core.Logging;

namespace AutoMirror.Core.Mirroring;

public sealed record EventResult(string EventId, string? InstanceId, EventAction Action, string Reason, string? ExecutionArn = null);

/// <summary>What EventFunction did with an event (<c>action</c> in its output, docs/contracts.md).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EventAction>))]
public enum EventAction
{
    [JsonStringEnumMemberName("attach-started")]
    AttachStarted,

    [JsonStringEnumMemberName("detached")]
    Detached,

    [JsonStringEnumMemberName("skipped")]
    Skipped,

    [JsonStringEnumMemberName("ignored")]
    Ignored,

    [JsonStringEnumMemberName("rejected")]
    Rejected,
}

/// <summary>
/// What an EventBridge event means for AutoMirror. Attach events (running, mirror tag added) start the Attach
/// workflow, whose health gate and retries belong in Step Functions; detach events (untag, stopping, stopped,
/// shutting-down, terminated) delete at once, because sessions bill per interface-hour. Either way the decision is
/// re-made from EC2's current state, so duplicates and reordering converge.
/// </summary>
public sealed class EventRouter(Reconciler reconciler, IStepFunctionsClient stepFunctions, IDecisionLog log)
{
    public static readonly IReadOnlySet<string> DetachStates = new HashSet<string>(StringComparer.Ordinal)
    {
        "stopping", "stopped", "shutting-down", "terminated",
    };

    public async Task<EventResult> RouteAsync(MirrorEvent mirrorEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mirrorEvent);
        var settings = reconciler.Settings;
        switch (mirrorEvent)
        {
            case RejectedEvent rejected:
                log.Write(new Decision("rejected", null, rejected.Problem) { Level = "error" });
                return new EventResult(rejected.EventId, null, EventAction.Rejected, rejected.Problem);

            case InstanceStateEvent { State: "running" } running:
                // Not pre-filtered by tag: a DescribeInstances here would compete with the workflow's own in EC2's
                // per-action bucket during a launch burst, to save an execution that ends at Evaluate anyway.
                return await StartAttachAsync(running.EventId, running.InstanceId, "running", cancellationToken).ConfigureAwait(false);

            case InstanceStateEvent state when DetachStates.Contains(state.State):
                return await DetachAsync(state.EventId, state.InstanceId, "state-" + state.State, new StateHint(state.State, state.Time), cancellationToken)
                    .ConfigureAwait(false);

            case InstanceStateEvent pending:
                log.Write(new Decision("ignored", pending.InstanceId, "state-" + pending.State));
                return new EventResult(pending.EventId, pending.InstanceId, EventAction.Ignored, "state-" + pending.State);

            // The lab tag matters too, for a mirrored instance: its sessions move to the new lab's VNI.
            case TagChangeEvent tag when !tag.ChangedTagKeys.Any(k => k == settings.MirrorTagKey || k == settings.ExcludeTagKey)
                && !(tag.ChangedTagKeys.Contains(settings.LabTagKey) && MirrorPolicy.IsTagged(tag.Tags, settings)):
                log.Write(new Decision("ignored", tag.InstanceId, "tag-change-not-relevant"));
                return new EventResult(tag.EventId, tag.InstanceId, EventAction.Ignored, "tag-change-not-relevant");

            case TagChangeEvent tag when MirrorPolicy.IsTagged(tag.Tags, settings) && !MirrorPolicy.IsExcluded(tag.Tags, settings):
                return await StartAttachAsync(tag.EventId, tag.InstanceId, "tag", cancellationToken).ConfigureAwait(false);

            case TagChangeEvent tag:
                return await DetachAsync(tag.EventId, tag.InstanceId, "tag-removed", null, cancellationToken).ConfigureAwait(false);

            default:
                throw new InvalidOperationException("unhandled event kind " + mirrorEvent.GetType().Name);
        }
    }

    private async Task<EventResult> StartAttachAsync(string eventId, string instanceId, string trigger, CancellationToken cancellationToken)
    {
        var arn = reconciler.Settings.RequireAttachStateMachineArn();
        var name = ExecutionName(eventId);
        var input = AttachInputJson(instanceId, trigger, eventId);
        if (AwsInput.WorkflowPayload("the Attach workflow's input", input) is { } tooLarge)
        {
            // Cannot happen with a parsed event (its fields are bounded), but StartExecution would refuse it anyway.
            log.Write(new Decision("rejected", instanceId, tooLarge) { Level = "error" });
            return new EventResult(eventId, instanceId, EventAction.Rejected, tooLarge);
        }

        try
        {
            var started = await stepFunctions.StartExecutionAsync(arn, name, input, cancellationToken).ConfigureAwait(false);
            log.Write(new Decision("start-attach", instanceId, trigger));
            return new EventResult(eventId, instanceId, EventAction.AttachStarted, trigger, started.ExecutionArn);
        }
        catch (AwsServiceException e) when (e.ErrorCode == "ExecutionAlreadyExists")
        {
            // EventBridge delivers at least once: the duplicate's execution is already running or done.
            log.Write(new Decision("start-attach", instanceId, "duplicate-event"));
            return new EventResult(eventId, instanceId, EventAction.AttachStarted, "duplicate-event");
        }
    }

    private async Task<EventResult> DetachAsync(string eventId, string instanceId, string trigger, StateHint? hint, CancellationToken cancellationToken)
    {
        try
        {
            var plan = await reconciler.EvaluateAsync(instanceId, trigger, hint, cancellationToken).ConfigureAwait(false);
            if (SkipReasons.Qualified(plan))
            {
                // EC2 says the instance qualifies: the event is older than what it reports (re-tagged, restarted).
                log.Write(new Decision("ignored", instanceId, "stale-detach-event"));
                return new EventResult(eventId, instanceId, EventAction.Ignored, "stale-detach-event");
            }

            return new EventResult(eventId, instanceId, plan.Decision == AttachDecision.Detach ? EventAction.Detached : EventAction.Skipped, plan.Reason);
        }
        catch (InstanceNotFoundException)
        {
            var outcome = await reconciler.DetachUnknownInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
            return new EventResult(eventId, instanceId, outcome.Outcome == InstanceOutcomeKind.Detached ? EventAction.Detached : EventAction.Skipped, outcome.Reason);
        }
    }

    /// <summary>
    /// <c>evt-&lt;event id&gt;</c>: the same event delivered twice maps to one execution. Step Functions names allow
    /// 80 characters from a restricted set; EventBridge ids are UUIDs, anything else is reduced to that set.
    /// </summary>
    public static string ExecutionName(string eventId)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        var name = new StringBuilder("evt-");
        foreach (var c in eventId)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        }

        return name.Length > 80 ? name.ToString(0, 80) : name.ToString();
    }

    public static string AttachInputJson(string instanceId, string trigger, string eventId) =>
        JsonSerializer.Serialize(new AttachInput(instanceId, trigger, eventId), AutoMirrorJsonContext.Default.AttachInput);
}
