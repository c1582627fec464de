using System.Text.Json;
using System.Text.Json.Nodes;

namespace AutoMirror.Aws.StepFunctions;

internal sealed class StepFunctionsClient(AwsPipeline pipeline) : IStepFunctionsClient
{
    private static readonly AwsService Service = AwsService.StepFunctions;

    public async Task<StartedExecution> StartExecutionAsync(string stateMachineArn, string name, string inputJson, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["stateMachineArn"] = stateMachineArn, ["name"] = name, ["input"] = inputJson };
        using var answer = await SendAsync("StartExecution", request, cancellationToken).ConfigureAwait(false);
        var root = answer.RootElement;
        return new StartedExecution(Required(root, "executionArn"), Epoch(root, "startDate") ?? throw Missing("startDate"));
    }

    public async Task<ExecutionDescription> DescribeExecutionAsync(string executionArn, CancellationToken cancellationToken)
    {
        using var answer = await SendAsync("DescribeExecution", new JsonObject { ["executionArn"] = executionArn }, cancellationToken).ConfigureAwait(false);
        var root = answer.RootElement;
        return new ExecutionDescription(
            Required(root, "executionArn"),
            Required(root, "stateMachineArn"),
            Optional(root, "name") ?? string.Empty,
            Required(root, "status"),
            Optional(root, "input"),
            Optional(root, "output"),
            Optional(root, "error"),
            Optional(root, "cause"),
            Epoch(root, "startDate") ?? throw Missing("startDate"),
            Epoch(root, "stopDate"));
    }

    private async Task<JsonDocument> SendAsync(string operation, JsonObject request, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, JsonContext.Default.JsonObject);
        var answer = await pipeline.SendJsonAsync(Service, operation, body, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(answer);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{operation} answered with a body that is not JSON: {e.Message}", e);
        }
    }

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Required(JsonElement root, string name) => Optional(root, name) ?? throw Missing(name);

    // JSON 1.0 timestamps are epoch seconds with a fraction.
    private static DateTimeOffset? Epoch(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(value.GetDouble() * 1000))
            : null;

    private static FormatException Missing(string name) => new($"Step Functions answer has no '{name}'");
}
