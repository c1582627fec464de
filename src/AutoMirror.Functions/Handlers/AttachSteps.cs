using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The Attach workflow's tasks (statemachine/attach.asl.json; payloads in docs/contracts.md). The plan carries the
/// attach's correlation id (the triggering event's id) from Evaluate to every later step.
/// </summary>
public sealed class AttachSteps(AutoMirrorServices services)
{
    private readonly AttachWorkflow _attach = new(services.Reconciler);
    private readonly TimeSpan? _timeout = services.Settings.FunctionTimeout;

    public AttachSteps()
        : this(AutoMirrorServices.FromEnvironment())
    {
    }

    public Task<Stream> EvaluateAsync(Stream input) =>
        Invocation.RunAsync(input, Invocation.Read(AutoMirrorJsonContext.Default.AttachInput), Invocation.Write(AutoMirrorJsonContext.Default.AttachPlan), _timeout,
            AttachWorkflow.CorrelationIdOf, _attach.EvaluateAsync);

    /// <summary>Input <c>$.plan</c>: its zone is read only with zone-local delivery.</summary>
    public Task<Stream> CheckTargetHealthAsync(Stream input) =>
        Invocation.RunAsync(input, Invocation.Read(AutoMirrorJsonContext.Default.AttachPlan), Invocation.Write(AutoMirrorJsonContext.Default.TargetHealth), _timeout,
            plan => plan.CorrelationId, _attach.CheckTargetHealthAsync);

    public Task<Stream> CreateSessionsAsync(Stream input) =>
        Invocation.RunAsync(input, Invocation.Read(AutoMirrorJsonContext.Default.AttachPlan), Invocation.Write(AutoMirrorJsonContext.Default.CreatedSessions), _timeout,
            plan => plan.CorrelationId, _attach.CreateSessionsAsync);

    public Task<Stream> VerifyAsync(Stream input) =>
        Invocation.RunAsync(input, Invocation.Read(AutoMirrorJsonContext.Default.VerifyInput), Invocation.Write(AutoMirrorJsonContext.Default.Verified), _timeout,
            request => request.Plan?.CorrelationId, _attach.VerifyAsync);

    public Task<Stream> CleanupAsync(Stream input) =>
        Invocation.RunAsync(input, Invocation.Read(AutoMirrorJsonContext.Default.CleanupInput), Invocation.Write(AutoMirrorJsonContext.Default.CleanupResult), _timeout,
            request => request.Plan?.CorrelationId, _attach.CleanupAsync);
}
