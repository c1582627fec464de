namespace AutoMirror.Core.Mirroring;

/// <summary>
/// The Attach workflow's steps as the state machine calls them: each payload is checked (a payload the steps cannot
/// use is a state machine bug, <see cref="InvalidPayloadException"/>), and the attach's correlation id travels in
/// the plan from Evaluate to Verify's output, the workflow's result.
/// </summary>
public sealed class AttachWorkflow(Reconciler reconciler)
{
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
        if (!InstanceIds.IsInstanceId(input.InstanceId))
        {
            throw new InvalidPayloadException($"Evaluate needs an instanceId starting with 'i-', got '{input.InstanceId}'");
        }

        var plan = await reconciler.EvaluateAsync(input.InstanceId, input.Trigger ?? "manual", null, cancellationToken).ConfigureAwait(false);
        return plan with { CorrelationId = CorrelationIdOf(input) };
    }

    public Task<TargetHealth> CheckTargetHealthAsync(CancellationToken cancellationToken) => reconciler.CheckTargetHealthAsync(cancellationToken);

    /// <summary>Input <c>$.plan</c> → <c>$.created</c>.</summary>
    public Task<CreatedSessions> CreateSessionsAsync(AttachPlan plan, CancellationToken cancellationToken) =>
        reconciler.CreateSessionsAsync(Checked(plan), cancellationToken);

    /// <summary>Input <c>{"plan","created"}</c> → <c>$.verified</c>.</summary>
    public async Task<Verified> VerifyAsync(VerifyInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var plan = Checked(input.Plan);
        var created = input.Created ?? throw new InvalidPayloadException("Verify needs 'created' (CreateSessions' output)");
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

    private static AttachPlan Checked(AttachPlan? plan)
    {
        if (!InstanceIds.IsInstanceId(plan?.InstanceId))
        {
            throw new InvalidPayloadException("the plan has no instanceId (expected Evaluate's output)");
        }

        if (plan.Decision is null || plan.Sessions is null || plan.ExistingSessionIds is null)
        {
            throw new InvalidPayloadException("the plan lacks decision, sessions or existingSessionIds (expected Evaluate's output)");
        }

        return plan;
    }
}
