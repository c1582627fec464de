using System.Text.Json.Nodes;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// The local Step Functions endpoint's GetExecutionHistory, which the workflow tests read their assertions from:
/// AWS's event types and details, AWS's paging, and a real AWS client (botocore) reading it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalStepFunctionsTests : IAsyncLifetime
{
    // Pass, a two-item Map, Wait and Choice into Fail: every state type the history names without a Lambda host.
    private const string Definition = """
        {"StartAt":"Prepare","States":{
          "Prepare":{"Type":"Pass","Result":["a","b"],"ResultPath":"$.items","Next":"EachItem"},
          "EachItem":{"Type":"Map","ItemsPath":"$.items","ResultPath":"$.done",
            "ItemProcessor":{"StartAt":"Item","States":{"Item":{"Type":"Pass","End":true}}},"Next":"Pause"},
          "Pause":{"Type":"Wait","Seconds":0,"Next":"Route"},
          "Route":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"Stop"}],"Default":"Done"},
          "Stop":{"Type":"Fail","Error":"Lab.Broken","Cause":"asked to fail"},
          "Done":{"Type":"Succeed"}}}
        """;

    private readonly string _file = Path.Combine(Path.GetTempPath(), $"automirror-history-{Guid.NewGuid():N}.asl.json");
    private LocalStepFunctions _stepFunctions = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_file, Definition);
        _stepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = new Dictionary<string, string> { ["History"] = _file },
        });
    }

    public async Task DisposeAsync()
    {
        await _stepFunctions.DisposeAsync();
        File.Delete(_file);
    }

    [Fact]
    public async Task History_NamesEveryStateByItsType_AndEndsWithTheExecutionsError()
    {
        var run = await _stepFunctions.RunAsync("History", """{"fail":true}""");

        Assert.Equal("FAILED", run.Status);
        Assert.Equal(("Lab.Broken", "asked to fail"), (run.Error, run.Cause));
        Assert.Equal(["Prepare", "EachItem", "Item", "Item", "Pause", "Route", "Stop"], run.States);
        var types = run.Events.Select(e => (string)e!["type"]!).ToList();
        Assert.Equal("ExecutionStarted", types[0]);
        Assert.Equal("ExecutionFailed", types[^1]);
        foreach (var type in new[] { "PassStateEntered", "MapStateEntered", "MapIterationStarted", "MapIterationSucceeded", "MapStateExited", "WaitStateEntered", "ChoiceStateExited", "FailStateEntered" })
        {
            Assert.Contains(type, types);
        }

        Assert.Equal(["Lab.Broken", "asked to fail"], new[] { "error", "cause" }.Select(k => (string?)run.Events[^1]!["executionFailedEventDetails"]![k]));
        Assert.Equal(Enumerable.Range(1, types.Count), run.Events.Select(e => (int)e!["id"]!));
        // Each Map iteration's state belongs to its own iteration, found by following previousEventId back.
        Assert.Equal(2, run.EventsOf("PassStateExited", "Item").Count());
        Assert.Equal("""{"fail":true}""", (string?)run.Events[0]!["executionStartedEventDetails"]!["input"]);
    }

    [Fact]
    public async Task History_PagesInOrderAndInReverse_AndLeavesDataOutWhenAsked()
    {
        var run = await _stepFunctions.RunAsync("History", """{"fail":false}""");
        Assert.Equal("SUCCEEDED", run.Status);

        var pages = new List<JsonNode>();
        string? token = null;
        do
        {
            var request = new JsonObject { ["executionArn"] = run.ExecutionArn, ["maxResults"] = 4, ["reverseOrder"] = true, ["includeExecutionData"] = false };
            if (token is not null)
            {
                request["nextToken"] = token;
            }

            var page = await _stepFunctions.CallAsync("GetExecutionHistory", request);
            Assert.True(page["events"]!.AsArray().Count <= 4);
            pages.AddRange(page["events"]!.AsArray().Select(e => e!));
            token = (string?)page["nextToken"];
        }
        while (token is not null);

        Assert.Equal(run.Events.Select(e => (int)e!["id"]!).Reverse(), pages.Select(e => (int)e["id"]!));
        Assert.All(pages, e => Assert.Null(e["stateEnteredEventDetails"]?["input"]));
        Assert.Contains(pages, e => (string?)e["stateEnteredEventDetails"]?["name"] == "Prepare");
    }

    [Fact]
    public async Task History_OfAnUnknownExecution_IsExecutionDoesNotExist()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _stepFunctions.HistoryAsync("arn:aws:states:us-east-1:123456789012:execution:History:never-started"));

        Assert.Contains("ExecutionDoesNotExist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_IsReadByBotocore_AsAwsAnswers()
    {
        var run = await _stepFunctions.RunAsync("History", """{"fail":false}""");

        // boto3 pages and parses the answer with the service model; timestamps become datetimes.
        const string Script = """
            import sys, boto3
            sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            events = [e for page in sfn.get_paginator("get_execution_history").paginate(
                executionArn=sys.argv[2], PaginationConfig={"PageSize": 3}) for e in page["events"]]
            print(len(events), events[0]["timestamp"].year, events[-1]["type"],
                  sum(1 for e in events if e["type"] == "MapIterationStarted"))
            """;
        var result = await ExternalTool.RunAsync("python3", ["-c", Script, _stepFunctions.Endpoint.ToString(), run.ExecutionArn], TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Equal($"{run.Events.Count} {DateTime.UtcNow.Year} ExecutionSucceeded 2", result.StandardOutput.Trim());
    }
}
