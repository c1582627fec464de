using AutoMirror.Core;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The Attach workflow's task handlers (statemachine/attach.asl.json). Each takes the state's input as the
/// contract describes and throws typed exceptions whose names the workflow's Retry/Catch match.
/// </summary>
public sealed class AttachSteps
{
    private readonly Reconciler _reconciler;

    public AttachSteps()
        : this(FunctionServices.FromEnvironment())
    {
    }

    public AttachSteps(FunctionServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _reconciler = services.Reconciler;
    }

    /// <summary>Input <c>{"instanceId","trigger","eventId"}</c> → <c>$.plan</c>.</summary>
    public async Task<Stream> EvaluateAsync(Stream input)
    {
        var request = HandlerIo.Read(await HandlerIo.ReadAsync(input).ConfigureAwait(false), AutoMirrorJsonContext.Default.AttachInput);
        if (request.InstanceId is not { } instanceId || !instanceId.StartsWith("i-", StringComparison.Ordinal))
        {
            throw new InvalidPayloadException($"Evaluate needs an instanceId starting with 'i-', got '{request.InstanceId}'");
        }

        var plan = await _reconciler.EvaluateAsync(instanceId, request.Trigger ?? "manual", null, CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(plan, AutoMirrorJsonContext.Default.AttachPlan);
    }

    /// <summary>Input <c>$.plan</c> (unused: the gate is the sensor's) → <c>$.health</c>.</summary>
    public async Task<Stream> CheckTargetHealthAsync(Stream input)
    {
        await HandlerIo.ReadAsync(input).ConfigureAwait(false);
        var health = await _reconciler.CheckTargetHealthAsync(CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(health, AutoMirrorJsonContext.Default.TargetHealth);
    }

    /// <summary>Input <c>$.plan</c> → <c>$.created</c>.</summary>
    public async Task<Stream> CreateSessionsAsync(Stream input)
    {
        var plan = ReadPlan(HandlerIo.Read(await HandlerIo.ReadAsync(input).ConfigureAwait(false), AutoMirrorJsonContext.Default.AttachPlan));
        var created = await _reconciler.CreateSessionsAsync(plan, CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(created, AutoMirrorJsonContext.Default.CreatedSessions);
    }

    /// <summary>Input <c>{"plan","created"}</c> → <c>$.verified</c>.</summary>
    public async Task<Stream> VerifyAsync(Stream input)
    {
        var request = HandlerIo.Read(await HandlerIo.ReadAsync(input).ConfigureAwait(false), AutoMirrorJsonContext.Default.VerifyInput);
        var plan = ReadPlan(request.Plan);
        var created = request.Created ?? throw new InvalidPayloadException("Verify needs 'created' (CreateSessions' output)");
        var verified = await _reconciler.VerifyAsync(plan, created, CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(verified, AutoMirrorJsonContext.Default.Verified);
    }

    /// <summary>Input <c>{"plan","error"}</c> → what was deleted; the workflow then Fails.</summary>
    public async Task<Stream> CleanupAsync(Stream input)
    {
        var request = HandlerIo.Read(await HandlerIo.ReadAsync(input).ConfigureAwait(false), AutoMirrorJsonContext.Default.CleanupInput);
        var plan = ReadPlan(request.Plan);
        var result = await _reconciler.CleanupAsync(plan, request.Error?.GetRawText(), CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(result, AutoMirrorJsonContext.Default.CleanupResult);
    }

    private static AttachPlan ReadPlan(AttachPlan? plan)
    {
        if (plan?.InstanceId is null || !plan.InstanceId.StartsWith("i-", StringComparison.Ordinal))
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
