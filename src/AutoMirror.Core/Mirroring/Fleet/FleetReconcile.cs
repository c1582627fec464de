using System.Text.Json;
using AutoMirror.Core.Logging;

namespace AutoMirror.Core.Mirroring;

/// <summary>ReconcileFunction's answer: the report, or why the input was rejected (never both).</summary>
public sealed record FleetAnswer(ReconcileReport? Report, RejectedInput? Rejected);

/// <summary>
/// The scheduled repair and operators' backfill: reads the request, reconciles the fleet or the named instances.
/// An input no retry can fix is answered as rejected and logged as an error, not thrown.
/// </summary>
public sealed class FleetReconcile(Reconciler reconciler, IDecisionLog log)
{
    /// <summary>The scheduled event's id; a direct invocation gets an id of its own.</summary>
    public static string CorrelationIdOf(byte[] payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (JsonException)
        {
            // Rejected by RunAsync with the reason; it still gets an id for that log line.
        }

        return "reconcile-" + Guid.NewGuid().ToString("N")[..12];
    }

    public async Task<FleetAnswer> RunAsync(byte[] payload, CancellationToken cancellationToken)
    {
        if (!ReconcileRequests.TryParse(payload, out var request, out var problem))
        {
            log.Write(new Decision("rejected", null, problem) { Level = "error" });
            return new FleetAnswer(null, new RejectedInput("rejected", problem));
        }

        var report = await reconciler.ReconcileAsync(request.All ? null : request.InstanceIds, ReconcileRequests.Concurrency, cancellationToken)
            .ConfigureAwait(false);
        return new FleetAnswer(report, null);
    }
}
