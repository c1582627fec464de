namespace AutoMirror.Core.Mirroring;

/// <summary>
/// The Attach workflow's steps as the state machine calls them: each payload is checked (a payload the steps cannot
/// use is a state machine bug, <see cref="InvalidPayloadException"/>), and the attach's correlation id travels in
/// the plan from Evaluate to Verify's output, the workflow's result.
/// </summary>
public sealed class AttachWorkflow(Reconciler reconciler)
{
    /// <summary>The workflow input's <c>trigger</c> values (docs/contracts.md).</summary>
    public static readonly IReadOnlyList<string> Triggers = ["running", "tag", "reconcile", "manual"];

    /// <summary>The triggering event's id; an execution started by hand without one is named by trigger and instance.</summary>
    public static string? CorrelationIdOf(AttachInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.EventId is { Length: > 0 } eventId ? eventId : $"{input.Trigger ?? "manual"}-{input.InstanceId}";
    }

    /// <summary>Input <c>{"instanceId","trigger","eventId"}</c> → <c>$.plan</c>.</summary>
    public async Task<AttachPlan> EvaluateAsync(AttachInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        AwsInput.Require(AwsInput.First(
            AwsInput.InstanceId("instanceId", input.InstanceId),
            input.Trigger is null || Triggers.Contains(input.Trigger) ? null : $"trigger must be one of {string.Join(" | ", Triggers)}, got '{input.Trigger}'",
            input.EventId is null ? null : AwsInput.EventId("eventId", input.EventId)));

        var correlationId = CorrelationIdOf(input);
        var plan = await reconciler.EvaluateAsync(input.InstanceId!, input.Trigger ?? "manual", null, cancellationToken, correlationId).ConfigureAwait(false);
        return plan with { CorrelationId = correlationId };
    }

    /// <summary>Input <c>$.plan</c> (its zone, for zone-local delivery) → <c>$.health</c>.</summary>
    public Task<TargetHealth> CheckTargetHealthAsync(AttachPlan? plan, CancellationToken cancellationToken) => reconciler.CheckTargetHealthAsync(plan, cancellationToken);

    /// <summary>Input <c>$.plan</c> → <c>$.created</c>.</summary>
    public Task<CreatedSessions> CreateSessionsAsync(AttachPlan plan, CancellationToken cancellationToken) =>
        reconciler.CreateSessionsAsync(Checked(plan), cancellationToken);

    /// <summary>Input <c>{"plan","created"}</c> → <c>$.verified</c>.</summary>
    public async Task<Verified> VerifyAsync(VerifyInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var plan = Checked(input.Plan);
        var created = Checked(input.Created ?? throw new InvalidPayloadException("Verify needs 'created' (CreateSessions' output)"));
        var verified = await reconciler.VerifyAsync(plan, created, cancellationToken).ConfigureAwait(false);
        return verified with { CorrelationId = plan.CorrelationId };
    }

    /// <summary>Input <c>{"plan","error"}</c> → what was deleted; the workflow then Fails.</summary>
    public async Task<CleanupResult> CleanupAsync(CleanupInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var plan = Checked(input.Plan);
        var result = await reconciler.CleanupAsync(plan, input.Error?.GetRawText(), cancellationToken).ConfigureAwait(false);
        return result with { CorrelationId = plan.CorrelationId };
    }

    /// <summary>
    /// Every field of the plan against AWS's formats, before any AWS call: a plan that was edited, truncated or made
    /// by another version of Evaluate is refused with the field's name, not sent to EC2.
    /// </summary>
    private static AttachPlan Checked(AttachPlan? plan)
    {
        if (plan?.InstanceId is null)
        {
            throw new InvalidPayloadException("the plan has no instanceId (expected Evaluate's output)");
        }

        if (plan.Decision is null || plan.Sessions is null || plan.ExistingSessionIds is null)
        {
            throw new InvalidPayloadException("the plan lacks decision, sessions or existingSessionIds (expected Evaluate's output)");
        }

        AwsInput.Require(AwsInput.First(
            AwsInput.InstanceId("plan.instanceId", plan.InstanceId),
            plan.Lab is null ? null : AwsInput.LabName("plan.lab", plan.Lab, allowEmpty: true),
            plan.InstanceType is null ? null : AwsInput.InstanceType("plan.instanceType", plan.InstanceType),
            plan.CorrelationId is null ? null : AwsInput.EventId("plan.correlationId", plan.CorrelationId)));
        for (var k = 0; k < plan.Sessions.Count; k++)
        {
            var session = plan.Sessions[k] ?? throw new InvalidPayloadException($"plan.sessions[{k}] is null");
            AwsInput.Require(AwsInput.First(
                AwsInput.NetworkInterfaceId($"plan.sessions[{k}].networkInterfaceId", session.NetworkInterfaceId),
                AwsInput.SessionNumber($"plan.sessions[{k}].sessionNumber", session.SessionNumber),
                AwsInput.Vni($"plan.sessions[{k}].virtualNetworkId", session.VirtualNetworkId),
                AwsInput.ClientToken($"plan.sessions[{k}].clientToken", session.ClientToken)));
        }

        for (var k = 0; k < plan.ExistingSessionIds.Count; k++)
        {
            AwsInput.Require(AwsInput.SessionId($"plan.existingSessionIds[{k}]", plan.ExistingSessionIds[k]));
        }

        var limited = plan.SessionLimitedEniIds ?? [];
        for (var k = 0; k < limited.Count; k++)
        {
            AwsInput.Require(AwsInput.NetworkInterfaceId($"plan.sessionLimitedEniIds[{k}]", limited[k]));
        }

        return plan;
    }

    private static CreatedSessions Checked(CreatedSessions created)
    {
        var ids = created.SessionIds ?? throw new InvalidPayloadException("created lacks sessionIds (expected CreateSessions' output)");
        for (var k = 0; k < ids.Count; k++)
        {
            AwsInput.Require(AwsInput.SessionId($"created.sessionIds[{k}]", ids[k]));
        }

        return created;
    }
}
