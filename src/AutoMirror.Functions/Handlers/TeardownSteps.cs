using System.Text.Json.Nodes;
using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>The teardown workflow's tasks (statemachine/teardown.asl.json); payloads in docs/contracts.md.</summary>
public sealed class TeardownSteps(TeardownService service, TeardownLog log, TimeSpan? timeout = null)
{
    public TeardownSteps()
        : this(AutoMirrorServices.FromEnvironment())
    {
    }

    public TeardownSteps(AutoMirrorServices services)
        : this(services.Teardown, services.TeardownLog, services.Settings.FunctionTimeout)
    {
    }

    /// <summary>ListLabSessionsFunction: <c>{"lab": name, …}</c> → <c>{"name","sessions":[…],"instanceIds":[…]}</c>.</summary>
    public Task<Stream> ListLabSessionsAsync(Stream input) => RunAsync(input, AutoMirrorJsonContext.Default.LabSessionList,
        (state, ct) => service.ListLabSessionsAsync(WorkflowState.LabName(state), ct));

    /// <summary>DeleteSessionFunction (Map item): <c>{"sessionId",…}</c> → <c>{"sessionId","outcome"}</c>.</summary>
    public Task<Stream> DeleteSessionAsync(Stream input) => RunAsync(input, AutoMirrorJsonContext.Default.DeleteOutcome,
        (state, ct) => service.DeleteSessionAsync(WorkflowState.SessionId(state), ct));

    /// <summary>InstanceActionFunction: <c>{"lab","action","instanceIds"}</c> → what was stopped, terminated or excluded.</summary>
    public Task<Stream> InstanceActionAsync(Stream input) => RunAsync(input, AutoMirrorJsonContext.Default.InstanceActionResult,
        (state, ct) => service.InstanceActionAsync(WorkflowState.InstanceActionRequest(state), dryRun: false, ct));

    /// <summary>TeardownReportFunction: the whole state → the lab's report (also logged as one line).</summary>
    public Task<Stream> ReportAsync(Stream input) => RunAsync(input, AutoMirrorJsonContext.Default.LabReport,
        (state, _) => Task.FromResult(log.Write(WorkflowState.Report(state, service.Settings), "report")));

    private Task<Stream> RunAsync<T>(Stream input, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> output, Func<JsonNode, CancellationToken, Task<T>> step) =>
        Invocation.RunAsync(input, WorkflowState.Parse, Invocation.Write(output), timeout, _ => null, step);
}
