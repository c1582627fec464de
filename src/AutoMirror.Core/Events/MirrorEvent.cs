using System.Globalization;
using System.Text.Json;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Core.Events;

/// <summary>An EventBridge event AutoMirror understood, or the reason it did not.</summary>
public abstract record MirrorEvent(string EventId, DateTimeOffset Time);

/// <summary>aws.ec2 "EC2 Instance State-change Notification".</summary>
public sealed record InstanceStateEvent(string EventId, DateTimeOffset Time, string InstanceId, string State) : MirrorEvent(EventId, Time);

/// <summary>
/// aws.tag "Tag Change on Resource" for an EC2 instance. <see cref="Tags"/> are all the instance's tags after the
/// change; a removed key is in <see cref="ChangedTagKeys"/> but not in <see cref="Tags"/>.
/// </summary>
public sealed record TagChangeEvent(
    string EventId,
    DateTimeOffset Time,
    string InstanceId,
    IReadOnlyList<string> ChangedTagKeys,
    IReadOnlyDictionary<string, string> Tags,
    int? Version) : MirrorEvent(EventId, Time);

/// <summary>Not an event AutoMirror acts on; <see cref="Problem"/> says exactly what is wrong with it.</summary>
public sealed record RejectedEvent(string EventId, DateTimeOffset Time, string Problem) : MirrorEvent(EventId, Time);

public static class MirrorEventParser
{
    public const string StateChangeDetailType = "EC2 Instance State-change Notification";
    public const string TagChangeDetailType = "Tag Change on Resource";

    public static readonly IReadOnlySet<string> KnownStates = new HashSet<string>(StringComparer.Ordinal)
    {
        "pending", "running", "stopping", "stopped", "shutting-down", "terminated",
    };

    /// <summary>Never throws on bad input: every malformed shape becomes a <see cref="RejectedEvent"/>.</summary>
    public static MirrorEvent Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            return new RejectedEvent("", DateTimeOffset.MinValue, "the event is not valid JSON: " + e.Message);
        }

        using (document)
        {
            return Parse(document.RootElement);
        }
    }

    public static MirrorEvent Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new RejectedEvent("", DateTimeOffset.MinValue, $"the event must be a JSON object, got {root.ValueKind}");
        }

        var id = String(root, "id");
        var time = String(root, "time") is { } t && DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : DateTimeOffset.MinValue;
        RejectedEvent Reject(string problem) => new(id ?? "", time, problem);

        if (id is null)
        {
            return Reject("the event has no string 'id'");
        }

        if (AwsInput.EventId("id", id) is { } badId)
        {
            return new RejectedEvent("", time, badId);
        }

        if (time == DateTimeOffset.MinValue)
        {
            return Reject("the event has no ISO-8601 'time'");
        }

        var source = String(root, "source");
        var detailType = String(root, "detail-type");
        if (!root.TryGetProperty("detail", out var detail) || detail.ValueKind != JsonValueKind.Object)
        {
            return Reject("the event has no 'detail' object");
        }

        return (source, detailType) switch
        {
            ("aws.ec2", StateChangeDetailType) => ParseStateChange(id, time, detail, Reject),
            ("aws.tag", TagChangeDetailType) => ParseTagChange(id, time, root, detail, Reject),
            _ => Reject($"unexpected event source '{source}' with detail-type '{detailType}'"),
        };
    }

    private static MirrorEvent ParseStateChange(string id, DateTimeOffset time, JsonElement detail, Func<string, RejectedEvent> reject)
    {
        var instanceId = String(detail, "instance-id");
        var state = String(detail, "state");
        if (AwsInput.InstanceId("detail.instance-id", instanceId) is { } badInstance)
        {
            return reject(badInstance);
        }

        if (state is null || !KnownStates.Contains(state))
        {
            return reject($"detail.state '{state}' is not an EC2 instance state");
        }

        return new InstanceStateEvent(id, time, instanceId!, state);
    }

    private static MirrorEvent ParseTagChange(string id, DateTimeOffset time, JsonElement root, JsonElement detail, Func<string, RejectedEvent> reject)
    {
        if (String(detail, "service") != "ec2" || String(detail, "resource-type") != "instance")
        {
            return reject($"tag change on {String(detail, "service")}/{String(detail, "resource-type")}, not ec2/instance");
        }

        string? instanceId = null;
        if (root.TryGetProperty("resources", out var resources) && resources.ValueKind == JsonValueKind.Array)
        {
            foreach (var arn in resources.EnumerateArray())
            {
                var text = arn.ValueKind == JsonValueKind.String ? arn.GetString() : null;
                var slash = text?.LastIndexOf(":instance/", StringComparison.Ordinal) ?? -1;
                if (text is not null && slash >= 0)
                {
                    instanceId = text[(slash + ":instance/".Length)..];
                    break;
                }
            }
        }

        if (instanceId is null)
        {
            return reject("resources[] has no EC2 instance ARN");
        }

        if (AwsInput.InstanceId("resources[] (the instance ARN's id)", instanceId) is { } badInstance)
        {
            return reject(badInstance);
        }

        if (!detail.TryGetProperty("changed-tag-keys", out var changed) || changed.ValueKind != JsonValueKind.Array)
        {
            return reject("detail.changed-tag-keys is missing or not an array");
        }

        if (!detail.TryGetProperty("tags", out var tags) || tags.ValueKind != JsonValueKind.Object)
        {
            return reject("detail.tags is missing or not an object");
        }

        var keys = new List<string>();
        foreach (var key in changed.EnumerateArray())
        {
            if (key.ValueKind != JsonValueKind.String)
            {
                return reject("detail.changed-tag-keys holds a non-string");
            }

            if (AwsInput.TagKey("detail.changed-tag-keys[]", key.GetString()) is { } badKey)
            {
                return reject(badKey);
            }

            keys.Add(key.GetString()!);
        }

        var current = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in tags.EnumerateObject())
        {
            if (tag.Value.ValueKind != JsonValueKind.String)
            {
                return reject($"detail.tags.{tag.Name} is not a string");
            }

            if (AwsInput.First(AwsInput.TagKey("detail.tags key", tag.Name), AwsInput.TagValue($"detail.tags.{tag.Name}", tag.Value.GetString())) is { } badTag)
            {
                return reject(badTag);
            }

            current[tag.Name] = tag.Value.GetString()!;
        }

        int? version = detail.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : null;
        return new TagChangeEvent(id, time, instanceId, keys, current, version);
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
