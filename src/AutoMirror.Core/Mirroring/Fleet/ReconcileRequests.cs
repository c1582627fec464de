using System.Text.Json;

namespace AutoMirror.Core.Mirroring;

/// <summary>ReconcileFunction's input: the schedule's event, <c>{"all":true}</c> or <c>{"instanceIds":[…]}</c>.</summary>
public static class ReconcileRequests
{
    /// <summary>Bounded so a full reconcile stays inside EC2's mutating-call bucket instead of fighting it.</summary>
    public const int Concurrency = 8;

    /// <summary>A direct invocation names at most this many instances (Lambda's 6 MB payload would allow far more).</summary>
    public const int MaxInstanceIds = 1000;

    /// <summary>Accepts the schedule's event, <c>{"all":true}</c> or a list of instance ids, and says what is wrong otherwise.</summary>
    public static bool TryParse(byte[] payload, out ReconcileRequest request, out string problem)
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
                    var text = id.ValueKind == JsonValueKind.String ? id.GetString() : id.GetRawText();
                    if (AwsInput.InstanceId($"instanceIds[{list.Count}]", text) is { } bad)
                    {
                        problem = bad;
                        return false;
                    }

                    if (list.Count == MaxInstanceIds)
                    {
                        problem = $"instanceIds holds more than {MaxInstanceIds} ids; use {{\"all\":true}} to reconcile everything";
                        return false;
                    }

                    list.Add(text!);
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
