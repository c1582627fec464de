using System.Text;
using System.Text.Json.Nodes;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The stack's custom resource (StackCleanup in template.yaml). CloudFormation sends it Delete before it deletes the
/// mirror target and filter, which EC2 refuses while sessions use them; this deletes AutoMirror's own sessions to the
/// stack's target first. Create and Update change nothing. The answer goes to the request's ResponseURL (a presigned
/// S3 URL on AWS), as CloudFormation's custom-resource protocol requires; a failure is answered FAILED with its
/// reason, so the stack reports it instead of waiting an hour.
/// </summary>
public sealed class StackCleanupHandler
{
    // One client per container: the ResponseURL is the only HTTP call that is not an AWS API call.
    private static readonly HttpClient ResponseClient = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly TeardownService _service;
    private readonly TeardownLog _log;

    /// <summary>The Lambda runtime's constructor: the teardown's real composition (settings from the environment).</summary>
    public StackCleanupHandler()
        : this(TeardownComposition.FromEnvironment())
    {
    }

    private StackCleanupHandler(TeardownComposition composition)
        : this(composition.Service, composition.Log)
    {
    }

    public StackCleanupHandler(TeardownService service, TeardownLog log)
    {
        _service = service;
        _log = log;
    }

    public async Task<Stream> HandleAsync(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var reader = new StreamReader(input);
        var request = JsonNode.Parse(await reader.ReadToEndAsync()) as JsonObject
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
                var outcomes = await _service.DeleteAllOursAsync(CancellationToken.None);
                var deleted = outcomes.Where(o => o.Outcome == "deleted").Select(o => o.SessionId).ToList();
                response["Data"] = new JsonObject { ["Deleted"] = deleted.Count };
                _log.WriteStackCleanup(requestType, deleted, failure: null);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            response["Status"] = "FAILED";
            response["Reason"] = $"AutoMirror could not delete its sessions: {e.GetType().Name}: {e.Message}";
            _log.WriteStackCleanup(requestType, [], (string)response["Reason"]!);
        }

        var body = response.ToJsonString();
        using var put = new HttpRequestMessage(HttpMethod.Put, responseUrl) { Content = new StringContent(body, Encoding.UTF8) };
        // A presigned S3 URL is signed for an empty content type.
        put.Content.Headers.ContentType = null;
        using var answer = await ResponseClient.SendAsync(put);
        answer.EnsureSuccessStatusCode();
        return new MemoryStream(Encoding.UTF8.GetBytes(body));
    }

    private static string Required(JsonObject request, string name) =>
        request[name]?.GetValue<string>() is { Length: > 0 } value
            ? value
            : throw new InvalidDataException($"the custom resource request has no {name}");
}
