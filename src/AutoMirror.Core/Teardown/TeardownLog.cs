using System.Globalization;
using System.Text;
using System.Text.Json;
using AutoMirror.Core.Logging;

namespace AutoMirror.Core.Teardown;

/// <summary>One JSON line per lab decision, with the stable keys every AutoMirror log uses.</summary>
public sealed class TeardownLog(TextWriter writer, TimeProvider time)
{
    private readonly Lock _gate = new();

    public static TeardownLog Console { get; } = new(System.Console.Out, TimeProvider.System);

    /// <summary>Logs the report as one line and returns it, so a step can log what it answers in one expression.</summary>
    public LabReport Write(LabReport report, string step)
    {
        ArgumentNullException.ThrowIfNull(report);
        var line = Format(report, step, time.GetUtcNow(), Correlation.Id);
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }

        return report;
    }

    /// <summary>One line per lab of a scheduled assessment; returns the result.</summary>
    public IdleLabsResult WriteAll(IdleLabsResult result, string step)
    {
        ArgumentNullException.ThrowIfNull(result);
        foreach (var lab in result.Labs)
        {
            Write(lab, step);
        }

        return result;
    }

    /// <summary>The stack's cleanup before deletion: one line naming every session it deleted.</summary>
    public void WriteStackCleanup(string requestType, IReadOnlyList<string> deletedSessionIds, string? failure)
    {
        ArgumentNullException.ThrowIfNull(deletedSessionIds);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", time.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("level", failure is null ? "info" : "error");
            json.WriteString("step", "stack-cleanup");
            json.WriteString("action", requestType);
            if (Correlation.Id is { } correlationId)
            {
                json.WriteString("correlationId", correlationId);
            }

            json.WriteString("reason", failure ?? "");
            json.WriteNumber("deletedSessions", deletedSessionIds.Count);
            json.WriteStartArray("sessionIds");
            foreach (var id in deletedSessionIds)
            {
                json.WriteStringValue(id);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        lock (_gate)
        {
            writer.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            writer.Flush();
        }
    }

    public static string Format(LabReport report, string step, DateTimeOffset at, string? correlationId = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("level", "info");
            json.WriteString("step", step);
            if (correlationId is not null)
            {
                json.WriteString("correlationId", correlationId);
            }

            json.WriteString("lab", report.Lab);
            json.WriteString("status", report.Status);
            json.WriteBoolean("idle", report.Idle);
            json.WriteString("action", report.Action);
            json.WriteBoolean("applied", report.Applied);
            json.WriteString("reason", string.Join("; ", report.Reasons.Concat(report.Notes)));
            json.WriteNumber("sessions", report.SessionIds.Count);
            json.WriteNumber("deletedSessions", report.DeletedSessionIds.Count);
            json.WriteNumber("hourlyCostSaved", report.HourlyCostSaved);
            if (report.HourlyCostWouldSave is { } wouldSave)
            {
                json.WriteNumber("hourlyCostWouldSave", wouldSave);
            }
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
