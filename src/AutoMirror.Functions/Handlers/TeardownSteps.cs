using AutoMirror.Core;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>The teardown workflow's tasks (statemachine/teardown.asl.json); payloads in docs/contracts.md.</summary>
public sealed class TeardownSteps
{
    private readonly TeardownService _service;
    private readonly TeardownLog _log;

    /// <summary>The Lambda runtime's constructor: real AWS clients and settings from the environment.</summary>
    public TeardownSteps()
        : this(TeardownComposition.FromEnvironment())
    {
    }

    private TeardownSteps(TeardownComposition composition)
        : this(composition.Service, composition.Log)
    {
    }

    public TeardownSteps(TeardownService service, TeardownLog log)
    {
        _service = service;
        _log = log;
    }

    /// <summary>ListLabSessionsFunction: <c>{"lab": name, …}</c> → <c>{"name","sessions":[…],"instanceIds":[…]}</c>.</summary>
    public async Task<Stream> ListLabSessionsAsync(Stream input)
    {
        var state = await ReadAsync(input);
        var result = await _service.ListLabSessionsAsync(WorkflowState.LabName(state), CancellationToken.None);
        return IdleLabsHandler.Serialize(result, AutoMirrorJsonContext.Default.LabSessionList);
    }

    /// <summary>DeleteSessionFunction (Map item): <c>{"sessionId",…}</c> → <c>{"sessionId","outcome"}</c>.</summary>
    public async Task<Stream> DeleteSessionAsync(Stream input)
    {
        var state = await ReadAsync(input);
        var result = await _service.DeleteSessionAsync(WorkflowState.RequiredString(state, "sessionId"), CancellationToken.None);
        return IdleLabsHandler.Serialize(result, AutoMirrorJsonContext.Default.DeleteOutcome);
    }

    /// <summary>InstanceActionFunction: <c>{"lab","action","instanceIds"}</c> → what was stopped or terminated.</summary>
    public async Task<Stream> InstanceActionAsync(Stream input)
    {
        var state = await ReadAsync(input);
        var request = new InstanceActionRequest(
            WorkflowState.LabName(state),
            WorkflowState.RequiredString(state, "action"),
            WorkflowState.Strings(state["instanceIds"], "instanceIds"));
        var result = await _service.InstanceActionAsync(request, dryRun: false, CancellationToken.None);
        return IdleLabsHandler.Serialize(result, AutoMirrorJsonContext.Default.InstanceActionResult);
    }

    /// <summary>TeardownReportFunction: the whole state → the lab's report (also logged as one line).</summary>
    public async Task<Stream> ReportAsync(Stream input)
    {
        var state = await ReadAsync(input);
        var report = WorkflowState.Report(state, _service.Settings);
        _log.Write(report, "report");
        return IdleLabsHandler.Serialize(report, AutoMirrorJsonContext.Default.LabReport);
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> ReadAsync(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var reader = new StreamReader(input);
        return WorkflowState.Parse(await reader.ReadToEndAsync());
    }
}
