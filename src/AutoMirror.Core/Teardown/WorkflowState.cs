using System.Text.Json;
using System.Text.Json.Nodes;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// Reads the teardown workflow's state. <c>$.lab</c> is the lab's name in the input and ListLabSessions' result
/// (with <c>name</c>) afterwards, so both shapes are accepted. The Report step sees the whole state and finds the
/// Map's delete outcomes and the instance action's result by their shape, not by a ResultPath it cannot know. A step
/// that failed after its retries is under <c>$.failed.&lt;step&gt;</c> (<c>{"Error","Cause"}</c>, as a Catch records it),
/// and a delete that failed is an outcome <c>failed</c> with its error: the report names them in <c>failures</c>.
/// </summary>
public static class WorkflowState
{
    public static JsonNode Parse(byte[] json) => Parse(System.Text.Encoding.UTF8.GetString(json));

    /// <summary>A scheduled event's id (the teardown schedule's correlation id); null for anything else.</summary>
    public static string? EventId(byte[] json)
    {
        try
        {
            return JsonNode.Parse(json) is JsonObject o && o["id"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>InstanceAction's input <c>{"lab","action","instanceIds"}</c>.</summary>
    public static InstanceActionRequest InstanceActionRequest(JsonNode state)
    {
        var ids = Strings(state["instanceIds"], "instanceIds");
        for (var k = 0; k < ids.Count; k++)
        {
            AwsInput.Require(AwsInput.InstanceId($"instanceIds[{k}]", ids[k]));
        }

        return new(LabName(state), RequiredString(state, "action"), ids);
    }

    /// <summary>DeleteSession's input: one session of ListLabSessions' list, checked before EC2 is asked about it.</summary>
    public static string SessionId(JsonNode state)
    {
        var id = RequiredString(state, "sessionId");
        AwsInput.Require(AwsInput.SessionId("sessionId", id));
        return id;
    }

    public static JsonNode Parse(string json)
    {
        try
        {
            return JsonNode.Parse(json) ?? throw new InvalidPayloadException("the input is JSON null");
        }
        catch (JsonException e)
        {
            throw new InvalidPayloadException("the input is not JSON: " + e.Message, e);
        }
    }

    public static string LabName(JsonNode state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var lab = state["lab"];
        var name = lab switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o when o["name"] is JsonValue n && n.TryGetValue<string>(out var s) => s,
            _ => null,
        };
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new InvalidPayloadException("\"lab\" must be the lab's name or an object with \"name\"");
        }

        AwsInput.Require(AwsInput.LabName("lab", name));
        return name;
    }

    public static string RequiredString(JsonNode state, string field)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state[field] is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s)
            ? s
            : throw new InvalidPayloadException($"\"{field}\" must be a non-empty string");
    }

    public static IReadOnlyList<string> Strings(JsonNode? node, string field)
    {
        if (node is null)
        {
            return [];
        }

        if (node is not JsonArray array)
        {
            throw new InvalidPayloadException($"\"{field}\" must be an array of strings");
        }

        return [.. array.Select(item => item is JsonValue v && v.TryGetValue<string>(out var s)
            ? s
            : throw new InvalidPayloadException($"\"{field}\" must be an array of strings"))];
    }

    /// <summary>The Report step: one lab's report from the whole workflow state.</summary>
    public static LabReport Report(JsonNode state, TeardownSettings settings)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(settings);
        var lab = LabName(state);
        var actionName = RequiredString(state, "action");
        if (!TeardownActions.TryParse(actionName, out var action))
        {
            throw new InvalidPayloadException($"\"action\" must be one of {string.Join(" | ", TeardownActions.Names)}, got '{actionName}'");
        }

        var reasons = state["reasons"] as JsonObject;
        var status = reasons?["status"] is JsonValue sv && sv.TryGetValue<string>(out var st) ? st : "unknown";
        var requested = reasons?["requestedAction"] is JsonValue rv && rv.TryGetValue<string>(out var ra) ? ra : actionName;
        var details = Strings(reasons?["details"], "reasons.details");
        var notes = Strings(reasons?["notes"], "reasons.notes").ToList();

        // ListLabSessions' result: at $.lab in the contract's wording, at $.found in the template's ASL.
        var labObject = state.AsObject().Select(p => p.Value).OfType<JsonObject>()
            .FirstOrDefault(o => o.ContainsKey("sessions") && o.ContainsKey("instanceIds"));
        var lines = labObject?["sessions"] is JsonArray sessions
            ? sessions.OfType<JsonObject>().Where(o => o["sessionId"] is JsonValue)
                .Select(o => new TeardownSessionLine(o["sessionId"]!.GetValue<string>(), OptionalText(o["instanceId"]), OptionalText(o["networkInterfaceId"]), lab)).ToList()
            : [];
        var sessionIds = lines.Select(l => l.SessionId).ToList();
        var instanceIds = Strings(labObject?["instanceIds"], "lab.instanceIds");

        var deleted = new List<string>();
        var failures = new List<string>();
        foreach (var (step, error) in state["failed"] as JsonObject ?? [])
        {
            failures.Add($"{step}: {Text(error?["Error"])}: {Text(error?["Cause"])}");
        }

        if (labObject is null && failures.Count > 0)
        {
            notes.Add("the lab's sessions were not listed: nothing was deleted");
        }

        JsonObject? instanceAction = null;
        foreach (var (_, value) in state.AsObject())
        {
            if (value is JsonArray array && array.All(e => e is JsonObject o && o.ContainsKey("outcome") && o.ContainsKey("sessionId")) && array.Count > 0)
            {
                deleted.AddRange(array.Select(e => (JsonObject)e!)
                    .Where(o => o["outcome"]?.GetValue<string>() is "deleted" or "already-gone")
                    .Select(o => o["sessionId"]!.GetValue<string>()));
                failures.AddRange(array.Select(e => (JsonObject)e!)
                    .Where(o => o["outcome"]?.GetValue<string>() == "failed")
                    .Select(o => $"{o["sessionId"]!.GetValue<string>()}: {Text(o["error"])}: {Text(o["cause"])}"));
            }
            else if (value is JsonObject o && o.ContainsKey("stoppedInstanceIds") && o.ContainsKey("terminatedInstanceIds"))
            {
                instanceAction = o;
            }
        }

        notes.AddRange(Strings(instanceAction?["notes"], "notes"));
        var applied = action != TeardownAction.Report;
        var performed = instanceAction?["action"] is JsonValue pv && pv.TryGetValue<string>(out var p) ? p : actionName;
        // Saved is what this run did; a report run saved nothing and says what a real run would save.
        var saved = applied ? deleted.Count * settings.SessionHourlyPrice : 0m;
        return new LabReport(lab, status, status is "idle-no-traffic" or "idle-stopped" or "expired", details,
            requested, performed, applied, instanceIds, sessionIds, applied ? deleted : [],
            Strings(instanceAction?["stoppedInstanceIds"], "stoppedInstanceIds"),
            Strings(instanceAction?["terminatedInstanceIds"], "terminatedInstanceIds"),
            Strings(instanceAction?["excludedInstanceIds"], "excludedInstanceIds"),
            [.. notes.Distinct()], saved,
            applied ? [.. sessionIds.Except(deleted)] : [], failures)
        {
            WouldDelete = applied ? null : lines,
            Deleted = applied ? [.. lines.Where(l => deleted.Contains(l.SessionId))] : null,
            HourlyCostWouldSave = applied ? null : lines.Count * settings.SessionHourlyPrice,
        };
    }

    private static string? OptionalText(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Text(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "unknown";
}
