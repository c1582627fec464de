using AutoMirror.Core;
using System.Text.Json;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The schedule (an EventBridge "Scheduled Event") and operators' backfill (handler
/// <c>ReconcileHandler::HandleAsync</c>). Tag events are best-effort; this repairs what they missed.
/// </summary>
public sealed class ReconcileHandler
{
    /// <summary>Bounded so a full reconcile stays inside EC2's mutating-call bucket instead of fighting it.</summary>
    public const int Concurrency = 8;

    private readonly Reconciler _reconciler;
    private readonly IDecisionLog _log;

    public ReconcileHandler()
        : this(FunctionServices.FromEnvironment())
    {
    }

    public ReconcileHandler(FunctionServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _reconciler = services.Reconciler;
        _log = services.Log;
    }

    public async Task<Stream> HandleAsync(Stream input)
    {
        var payload = await HandlerIo.ReadAsync(input).ConfigureAwait(false);
        if (!TryRead(payload, out var request, out var problem))
        {
            _log.Write(new Decision("rejected", null, problem) { Level = "error" });
            return HandlerIo.Write(new RejectedInput("rejected", problem), AutoMirrorJsonContext.Default.RejectedInput);
        }

        var report = await _reconciler.ReconcileAsync(request.All ? null : request.InstanceIds, Concurrency, CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(report, AutoMirrorJsonContext.Default.ReconcileReport);
    }

    /// <summary>Accepts the schedule's event, <c>{"all":true}</c> or a list of instance ids, and says what is wrong otherwise.</summary>
    public static bool TryRead(byte[] payload, out ReconcileRequest request, out string problem)
    {
        request = new ReconcileRequest(null, false);
        problem = "";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException e)
        {
            problem = "the payload is not valid JSON: " + e.Message;
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the payload must be a JSON object";
                return false;
            }

            if (root.TryGetProperty("detail-type", out var detailType) && detailType.ValueKind == JsonValueKind.String
                && detailType.GetString() == "Scheduled Event")
            {
                request = new ReconcileRequest(null, true);
                return true;
            }

            if (root.TryGetProperty("all", out var all) && all.ValueKind == JsonValueKind.True)
            {
                request = new ReconcileRequest(null, true);
                return true;
            }

            if (root.TryGetProperty("instanceIds", out var ids) && ids.ValueKind == JsonValueKind.Array)
            {
                var list = new List<string>();
                foreach (var id in ids.EnumerateArray())
                {
                    if (id.ValueKind != JsonValueKind.String || id.GetString() is not { } text || !text.StartsWith("i-", StringComparison.Ordinal))
                    {
                        problem = $"instanceIds holds {id}, which is not an instance id";
                        return false;
                    }

                    list.Add(text);
                }

                if (list.Count == 0)
                {
                    problem = "instanceIds is empty; use {\"all\":true} to reconcile everything";
                    return false;
                }

                request = new ReconcileRequest(list, false);
                return true;
            }

            problem = "expected {\"instanceIds\":[\"i-…\"]}, {\"all\":true} or a Scheduled Event";
            return false;
        }
    }
}
