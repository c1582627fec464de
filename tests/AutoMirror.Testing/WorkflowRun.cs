using System.Text.Json.Nodes;

namespace AutoMirror.Testing;

/// <summary>
/// A finished execution as Step Functions reports it: DescribeExecution's status, output, error and cause, and
/// GetExecutionHistory's events (AWS's HistoryEvent shape, in order).
/// </summary>
public sealed record WorkflowRun(string ExecutionArn, string Status, JsonNode? Output, string? Error, string? Cause, JsonArray Events)
{
    /// <summary>The names of the states entered, in order (every <c>*StateEntered</c> event).</summary>
    public IReadOnlyList<string> States { get; } =
        [.. Events.Where(e => Type(e).EndsWith("StateEntered", StringComparison.Ordinal)).Select(e => (string)e!["stateEnteredEventDetails"]!["name"]!)];

    public int Entered(string state) => States.Count(s => s == state);

    /// <summary>Events of <paramref name="type"/> that belong to <paramref name="state"/> (found as AWS readers do, by following previousEventId back to the state's entry).</summary>
    public IEnumerable<JsonNode> EventsOf(string type, string state) =>
        Events.Where(e => Type(e) == type && StateOf(e!) == state).Select(e => e!);

    /// <summary>
    /// How often the workflow's Retry ran a Task again: on AWS a retry is a new LambdaFunctionScheduled (TaskScheduled)
    /// right after the attempt's LambdaFunctionFailed (TaskFailed).
    /// </summary>
    public int Retries(string? state = null) =>
        Events.Count(e => Type(e) is "LambdaFunctionScheduled" or "TaskScheduled"
            && Type(Previous(e!)) is "LambdaFunctionFailed" or "TaskFailed"
            && (state is null || StateOf(e!) == state));

    public string Describe() => $"{Status} {Error}: {Cause}\nstates: {string.Join(" > ", States)}";

    private static string Type(JsonNode? e) => (string?)e?["type"] ?? "";

    private JsonNode? Previous(JsonNode e)
    {
        var previous = (long?)e["previousEventId"] ?? 0;
        // Event ids are 1-based positions in the history.
        return previous > 0 && previous <= Events.Count ? Events[(int)previous - 1] : null;
    }

    private string? StateOf(JsonNode e)
    {
        for (var at = e; at is not null; at = Previous(at))
        {
            if (Type(at).EndsWith("StateEntered", StringComparison.Ordinal))
            {
                return (string?)at["stateEnteredEventDetails"]?["name"];
            }
        }

        return null;
    }
}
