using System.Text;
using System.Text.Json.Nodes;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// The stack's custom resource (StackCleanup in template.yaml). CloudFormation sends it Delete before it deletes the
/// mirror target and filter, which EC2 refuses while sessions use them; this deletes AutoMirror's own sessions to the
/// stack's target first. Create and Update change nothing. The answer goes to the request's ResponseURL (a presigned
/// S3 URL on AWS), as CloudFormation's custom-resource protocol requires; a failure is answered FAILED with its
/// reason, so the stack reports it instead of waiting an hour.
/// </summary>
public sealed class StackCleanup(TeardownService service, TeardownLog log, HttpClient responseClient)
{
    /// <summary>Handles one request and returns the response body it sent to CloudFormation.</summary>
    public async Task<string> RespondAsync(string requestJson, CancellationToken cancellationToken)
    {
        var request = JsonNode.Parse(requestJson) as JsonObject
            ?? throw new InvalidDataException("a CloudFormation custom resource request must be a JSON object");
        var responseUrl = Required(request, "ResponseURL");
        var requestType = Required(request, "RequestType");
        var physicalId = request["PhysicalResourceId"]?.GetValue<string>() ?? $"{Required(request, "LogicalResourceId")}-automirror-cleanup";

        var response = new JsonObject
        {
            ["Status"] = "SUCCESS",
            ["PhysicalResourceId"] = physicalId,
            ["StackId"] = Required(request, "StackId"),
            ["RequestId"] = Required(request, "RequestId"),
            ["LogicalResourceId"] = Required(request, "LogicalResourceId"),
        };
        try
        {
            if (requestType == "Delete")
            {
                var outcomes = await service.DeleteAllOursAsync(cancellationToken).ConfigureAwait(false);
                var deleted = outcomes.Where(o => o.Outcome == "deleted").Select(o => o.SessionId).ToList();
                response["Data"] = new JsonObject { ["Deleted"] = deleted.Count };
                log.WriteStackCleanup(requestType, deleted, failure: null);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            response["Status"] = "FAILED";
            response["Reason"] = $"AutoMirror could not delete its sessions: {e.GetType().Name}: {e.Message}";
            log.WriteStackCleanup(requestType, [], (string)response["Reason"]!);
        }

        var body = response.ToJsonString();
        using var put = new HttpRequestMessage(HttpMethod.Put, responseUrl) { Content = new StringContent(body, Encoding.UTF8) };
        // A presigned S3 URL is signed for an empty content type.
        put.Content.Headers.ContentType = null;
        using var answer = await responseClient.SendAsync(put, cancellationToken).ConfigureAwait(false);
        answer.EnsureSuccessStatusCode();
        return body;
    }

    /// <summary>The CloudFormation request id: the correlation id of the cleanup's log lines.</summary>
    public static string? RequestIdOf(string requestJson) =>
        (JsonNode.Parse(requestJson) as JsonObject)?["RequestId"]?.GetValue<string>();

    private static string Required(JsonObject request, string name) =>
        request[name]?.GetValue<string>() is { Length: > 0 } value
            ? value
            : throw new InvalidDataException($"the custom resource request has no {name}");
}
