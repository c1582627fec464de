using System.Text;
using System.Text.Json;

namespace AutoMirror.Core.Logging;

/// <summary>One decision, logged as one JSON line. Keys are stable so log queries survive refactors.</summary>
public sealed record Decision(string Action, string? InstanceId = null, string? Reason = null)
{
    public string Level { get; init; } = "info";

    public string? EniId { get; init; }

    public string? SessionId { get; init; }

    public string? Lab { get; init; }

    public int? SessionNumber { get; init; }

    /// <summary>Why AutoMirror took <see cref="SessionNumber"/> (preferred, next-free, after-foreign:n, …).</summary>
    public string? SessionNumberReason { get; init; }

    public int? Vni { get; init; }

    public string? Error { get; init; }

    /// <summary>Tallies for a summary decision (a reconcile's outcome counts), written as one nested object.</summary>
    public IReadOnlyDictionary<string, int>? Counts { get; init; }
}

public interface IDecisionLog
{
    void Write(Decision decision);
}

/// <summary>
/// Writes decisions as JSON lines (CloudWatch Logs parses them as structured fields). Lines are built in full
/// and written with one call under a lock, so concurrent invocations in one process never interleave a line.
/// </summary>
public sealed class JsonLinesDecisionLog(TextWriter writer, TimeProvider timeProvider) : IDecisionLog
{
    private readonly Lock _gate = new();

    public static JsonLinesDecisionLog Console { get; } = new(System.Console.Out, TimeProvider.System);

    public void Write(Decision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        var line = Format(decision, timeProvider.GetUtcNow(), Correlation.Id);
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    public static string Format(Decision decision, DateTimeOffset time, string? correlationId = null)
    {
        ArgumentNullException.ThrowIfNull(decision);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", time.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", decision.Level);
            json.WriteString("action", decision.Action);
            WriteIf(json, "correlationId", correlationId);
            WriteIf(json, "instanceId", decision.InstanceId);
            WriteIf(json, "eniId", decision.EniId);
            WriteIf(json, "sessionId", decision.SessionId);
            WriteIf(json, "lab", decision.Lab);
            if (decision.SessionNumber is { } number)
            {
                json.WriteNumber("sessionNumber", number);
            }

            WriteIf(json, "sessionNumberReason", decision.SessionNumberReason);

            if (decision.Vni is { } vni)
            {
                json.WriteNumber("vni", vni);
            }

            WriteIf(json, "reason", decision.Reason);
            WriteIf(json, "error", decision.Error);
            if (decision.Counts is { } counts)
            {
                json.WriteStartObject("counts");
                foreach (var (name, count) in counts)
                {
                    json.WriteNumber(name, count);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteIf(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
