using System.Text.Json.Nodes;
using AutoMirror.Template.Tests.Tools;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests;

/// <summary>The template and workflows through the real checkers: cfn-lint, asl-validator, aws-sam-translator.
/// Each also runs on a broken copy, so a checker that stopped checking would fail here.</summary>
[Trait("Category", "Integration")]
public sealed class ToolCheckTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);
    private readonly string _scratch = Directory.CreateTempSubdirectory("automirror-template-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task CfnLint_FindsNothingInTheTemplate()
    {
        var result = await ExternalTool.RunAsync("cfn-lint", ["template.yaml"], Limit);

        Assert.True(result.ExitCode == 0 && result.StandardOutput.Trim().Length == 0, result.Describe());
    }

    [Fact]
    public async Task CfnLint_RejectsATemplateWithAnUnknownRuntime()
    {
        var broken = Path.Combine(_scratch, "template.yaml");
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "template.yaml"));
        await File.WriteAllTextAsync(broken, text.Replace("Runtime: dotnet10", "Runtime: dotnet99", StringComparison.Ordinal));

        var result = await ExternalTool.RunAsync("cfn-lint", [broken], Limit);

        Assert.True(result.ExitCode != 0 && result.StandardOutput.Contains("dotnet99", StringComparison.Ordinal), result.Describe());
    }

    [Theory]
    [InlineData("statemachine/attach.asl.json")]
    [InlineData("statemachine/teardown.asl.json")]
    public async Task AslValidator_AcceptsTheWorkflow(string path)
    {
        var result = await ExternalTool.RunAsync(ExternalTool.Node22, [ExternalTool.NodeModule("asl-validator/dist/bin/asl-validator.js"), "--json-path", path], Limit);

        Assert.True(result.ExitCode == 0, result.Describe());
    }

    [Fact]
    public async Task AslValidator_RejectsAWorkflowWithADanglingNext()
    {
        var definition = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "statemachine/attach.asl.json")))!;
        definition["States"]!["Verify"]!["Next"] = "NoSuchState";
        var broken = Path.Combine(_scratch, "broken.asl.json");
        await File.WriteAllTextAsync(broken, definition.ToJsonString());

        var result = await ExternalTool.RunAsync(ExternalTool.Node22, [ExternalTool.NodeModule("asl-validator/dist/bin/asl-validator.js"), "--json-path", broken], Limit);

        Assert.True(result.ExitCode != 0, result.Describe());
    }

    [Fact]
    public async Task SamTranslator_TransformsTheTemplateIntoFunctionsRolesRulesAndStateMachines()
    {
        var output = Path.Combine(_scratch, "transformed.json");

        var result = await ExternalTool.RunAsync("python3", ["tests/AutoMirror.Template.Tests/sam_transform.py", "template.yaml", output], Limit);

        Assert.True(result.ExitCode == 0, result.Describe());
        var resources = JsonNode.Parse(await File.ReadAllTextAsync(output))!["Resources"]!.AsObject();
        Assert.DoesNotContain(resources, r => ((string?)r.Value!["Type"])!.StartsWith("AWS::Serverless::", StringComparison.Ordinal));
        var functions = resources.Where(r => (string?)r.Value!["Type"] == "AWS::Lambda::Function").ToList();
        Assert.Equal(13, functions.Count);
        Assert.All(functions, f =>
        {
            Assert.Equal("dotnet10", (string?)f.Value!["Properties"]!["Runtime"]);
            // Each function gets a role of its own, so each holds only its own grants.
            Assert.Equal($$"""{"Fn::GetAtt":["{{f.Key}}Role","Arn"]}""", f.Value!["Properties"]!["Role"]!.ToJsonString());
        });
        Assert.Equal(2, resources.Count(r => (string?)r.Value!["Type"] == "AWS::StepFunctions::StateMachine"));
        // State change, tag change, reconcile schedule, teardown schedule.
        Assert.Equal(4, resources.Count(r => (string?)r.Value!["Type"] == "AWS::Events::Rule"));
        // The sensor package: SAM names a layer version by its logical id plus a content hash.
        Assert.Single(resources, r => (string?)r.Value!["Type"] == "AWS::Lambda::LayerVersion" && r.Key.StartsWith("SensorPackage", StringComparison.Ordinal));

        // The generated roles, too, grant no whole service.
        var actions = resources.Where(r => (string?)r.Value!["Type"] == "AWS::IAM::Role")
            .SelectMany(r => ActionsIn(r.Value!["Properties"]!["Policies"]))
            .ToList();
        Assert.NotEmpty(actions);
        Assert.DoesNotContain(actions, a => a == "*" || a.EndsWith(":*", StringComparison.Ordinal));
    }

    /// <summary>Every Action value anywhere below a node (statements under Fn::If included).</summary>
    private static IEnumerable<string> ActionsIn(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Key == "Action"
            ? (p.Value is JsonArray a ? a.Select(x => x!.ToString()) : [p.Value!.ToString()])
            : ActionsIn(p.Value)),
        JsonArray a => a.SelectMany(ActionsIn),
        _ => [],
    };

    [Fact]
    public async Task SamTranslator_RejectsAFunctionWithoutCode()
    {
        var broken = Path.Combine(_scratch, "template.yaml");
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "template.yaml"));
        await File.WriteAllTextAsync(broken, text.Replace("    CodeUri: src/AutoMirror.Functions/\n", string.Empty, StringComparison.Ordinal));

        var result = await ExternalTool.RunAsync("python3", ["tests/AutoMirror.Template.Tests/sam_transform.py", broken], Limit);

        Assert.True(result.ExitCode == 1 && result.StandardError.Contains("transform error", StringComparison.Ordinal), result.Describe());
    }
}
