using System.Text.Json.Nodes;
using AutoMirror.Aws;
using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Functions.Handlers;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.CrossCheck;

/// <summary>
/// The workflows' Retry and Catch match the errorType the runtime reports: the short name of the exception a
/// handler throws. A renamed exception would silently turn a retried error into a failed execution.
/// </summary>
public sealed class ErrorContractTests
{
    private static readonly SamTemplate Template = SamTemplate.Load();

    public static TheoryData<string> Workflows() =>
        [.. Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "statemachine"), "*.asl.json").Select(Path.GetFileName).OfType<string>()];

    [Theory]
    [MemberData(nameof(Workflows))]
    public void EveryErrorName_IsAnExceptionTheHandlersCanThrow(string workflow)
    {
        // The handlers' assembly, the domain and the AWS adapters: everything a handler's call can throw from.
        var thrown = new[] { typeof(AttachSteps).Assembly, typeof(AutoMirrorServices).Assembly, typeof(AwsServiceException).Assembly }
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => typeof(Exception).IsAssignableFrom(t))
            .Select(t => t.Name)
            .ToHashSet(StringComparer.Ordinal);

        var names = Asl.ErrorEquals(Definition(workflow))
            .Where(n => !n.StartsWith("States.", StringComparison.Ordinal) && !n.StartsWith("Lambda.", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.Contains(n, thrown));
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void EveryTaskThatCallsAws_RetriesTheErrorAnExpiredDeadlineRaises(string workflow)
    {
        // Invocation ends a call cut by the function's deadline as TransientServiceException; Report calls no AWS API.
        foreach (var (name, task) in Asl.Tasks(Definition(workflow)).Where(t => t.Name != "Report"))
        {
            var retried = (task["Retry"]?.AsArray() ?? []).SelectMany(r => r!["ErrorEquals"]!.AsArray().Select(e => (string?)e));
            Assert.True(retried.Contains(nameof(TransientServiceException)), $"{workflow}: {name} does not retry {nameof(TransientServiceException)}");
        }
    }

    [Fact]
    public void AttachChoice_ComparesTheWireNameOfAttachDecisionAttach()
    {
        // The plan's decision is an enum in code; the Choice state reads its JSON string.
        var choice = Asl.States(Definition("attach.asl.json")).Single(s => s.Name == "ShouldAttach").State;
        Assert.Equal(AutoMirror.Core.Mirroring.AttachDecision.Attach.ToWireName(), (string?)choice["Choices"]![0]!["StringEquals"]);
    }

    [Fact]
    public void FunctionTimeoutSeconds_IsEveryFunctionsTimeout()
    {
        // The handlers' deadline is derived from it; a value above the real Timeout would let Lambda kill the call first.
        foreach (var functionId in Template.FunctionIds)
        {
            var timeout = Template.FunctionProperty(functionId, "Timeout")?.ToString();
            var variable = Template.Environment(functionId).GetValueOrDefault("FUNCTION_TIMEOUT_SECONDS")?.ToString();
            Assert.True(timeout is not null && timeout == variable, $"{functionId}: Timeout {timeout}, FUNCTION_TIMEOUT_SECONDS {variable}");
        }
    }

    private static JsonObject Definition(string workflow) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "statemachine", workflow)))!.AsObject();
}
