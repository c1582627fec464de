using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The schedule (an EventBridge "Scheduled Event") and operators' backfill (<c>{"instanceIds":[…]}</c> or
/// <c>{"all":true}</c>). Tag events are best-effort; this repairs what they missed.
/// </summary>
public sealed class ReconcileHandler(AutoMirrorServices services)
{
    private readonly FleetReconcile _fleet = new(services.Reconciler, services.Log);

    // One run at a time with many sessions to make: EC2's create rate, not a launch burst's shrinking share.
    public ReconcileHandler()
        : this(AutoMirrorServices.FromEnvironment(adaptiveCreateRate: false))
    {
    }

    public Task<Stream> HandleAsync(Stream input) =>
        Invocation.RunAsync(input, payload => payload, Write, services.Settings.FunctionTimeout, FleetReconcile.CorrelationIdOf, _fleet.RunAsync);

    /// <summary>The report, or for an input no retry can fix, <c>{"outcome":"rejected","reason"}</c>.</summary>
    private static byte[] Write(FleetAnswer answer) => answer.Report is { } report
        ? Invocation.Write(AutoMirrorJsonContext.Default.ReconcileReport)(report)
        : Invocation.Write(AutoMirrorJsonContext.Default.RejectedInput)(answer.Rejected!);
}
