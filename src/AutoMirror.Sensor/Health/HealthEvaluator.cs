using System.Text.Encodings.Web;
using System.Text.Json;
using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Health;

/// <summary>
/// Healthy only while the sensor can actually forward: every socket bound and receiving, every
/// output writable, every downstream analyser alive. The NLB stops sending to an unhealthy sensor.
/// </summary>
public sealed class HealthEvaluator(SensorEngine engine, DownstreamProbe downstream)
{
    /// <summary>
    /// /health's body: {"status":"ok"|"unhealthy","receive_path":…,"receive_fallbacks":[{"path","reason"}],"problems":[…]}.
    /// The load balancer reads only the status code; an operator reads which path runs and why the faster ones did not.
    /// </summary>
    public string Json(IReadOnlyList<string> problems)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: reasons quote names ('zeek') and an operator reads them with curl.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("status", problems.Count == 0 ? "ok" : "unhealthy");
            json.WriteString("receive_path", engine.ReceivePath);
            json.WriteStartArray("receive_fallbacks");
            foreach (var fallback in engine.Fallbacks)
            {
                json.WriteStartObject();
                json.WriteString("path", fallback.Path);
                json.WriteString("reason", fallback.Reason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("problems");
            foreach (var problem in problems)
            {
                json.WriteStringValue(problem);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (engine.Workers.Count == 0)
        {
            problems.Add("no receive socket bound");
        }

        foreach (var worker in engine.Workers)
        {
            if (worker.Problem is { } problem)
            {
                problems.Add(worker.Label + ": " + problem);
            }
        }

        foreach (var output in engine.Outputs)
        {
            if (output.Problem() is { } problem)
            {
                problems.Add(problem);
            }
        }

        problems.AddRange(downstream.Problems());

        return problems;
    }
}
