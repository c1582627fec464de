using System.Reflection;
using System.Text.RegularExpressions;
using AutoMirror.Core.Configuration;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.CrossCheck;

/// <summary>The template against the code it deploys: handlers exist, environment is complete, roles allow exactly
/// what the code calls.</summary>
public sealed partial class CodeCrossCheckTests
{
    private static readonly SamTemplate Template = SamTemplate.Load();
    private static readonly Assembly Functions = typeof(AutoMirror.Functions.Handlers.AttachSteps).Assembly;

    /// <summary>
    /// The AWS calls each function's code can make. Kept here, readable, and proven complete by
    /// <see cref="RecordedCalls_AreAllDeclared"/>, which runs every handler's branches against recording fakes.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> Operations = new Dictionary<string, string[]>
    {
        // Detach deletes at once and sets the status tag; attach starts the workflow. A stale detach event for an
        // instance that still qualifies checks its type.
        ["EventFunction"] =
        [
            "ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeTrafficMirrorSessions", "ec2:DescribeTrafficMirrorTargets",
            "ec2:DeleteTrafficMirrorSession", "ec2:CreateTags", "ec2:DeleteTags", "states:StartExecution",
        ],
        // Makes every instance right in-process (creates and deletes), no workflow; creates only while a sensor is healthy
        // (with ZoneLocalDelivery, one in the instance's zone).
        ["ReconcileFunction"] =
        [
            "ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeTrafficMirrorSessions", "ec2:DescribeTrafficMirrorTargets",
            "ec2:CreateTrafficMirrorSession", "ec2:DeleteTrafficMirrorSession", "ec2:CreateTags", "ec2:DeleteTags",
            "elasticloadbalancing:DescribeTargetHealth",
        ],
        // A detach decision deletes the instance's sessions right away.
        ["EvaluateFunction"] =
        [
            "ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeTrafficMirrorSessions", "ec2:DescribeTrafficMirrorTargets",
            "ec2:DeleteTrafficMirrorSession", "ec2:CreateTags", "ec2:DeleteTags",
        ],
        // With ZoneLocalDelivery the healthy sensors' zones come from EC2 (instance targets carry none).
        ["TargetHealthFunction"] = ["elasticloadbalancing:DescribeTargetHealth", "ec2:DescribeInstances"],
        ["CreateSessionsFunction"] = ["ec2:CreateTrafficMirrorSession"],
        // Recreates a session lost to a stale ClientToken, deletes duplicates, detaches what stopped qualifying.
        ["VerifyFunction"] =
        [
            "ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeTrafficMirrorSessions", "ec2:DescribeTrafficMirrorTargets",
            "ec2:CreateTrafficMirrorSession", "ec2:DeleteTrafficMirrorSession", "ec2:CreateTags", "ec2:DeleteTags",
        ],
        ["CleanupFunction"] = ["ec2:DescribeTrafficMirrorSessions", "ec2:DeleteTrafficMirrorSession", "ec2:CreateTags"],
        // Assesses labs (instances, sessions, CloudWatch activity) and starts one Teardown execution per idle lab.
        ["IdleLabsFunction"] = ["ec2:DescribeInstances", "ec2:DescribeTrafficMirrorSessions", "cloudwatch:GetMetricData", "states:StartExecution"],
        ["ListLabSessionsFunction"] = ["ec2:DescribeInstances", "ec2:DescribeTrafficMirrorSessions"],
        // Re-reads the session (ours, our target) before deleting it.
        ["DeleteSessionFunction"] = ["ec2:DescribeTrafficMirrorSessions", "ec2:DeleteTrafficMirrorSession"],
        ["InstanceActionFunction"] = ["ec2:DescribeInstances", "ec2:CreateTags", "ec2:StopInstances", "ec2:TerminateInstances"],
        // Builds the report from the workflow's state alone.
        ["TeardownReportFunction"] = [],
        ["StackCleanupFunction"] = ["ec2:DescribeTrafficMirrorSessions", "ec2:DeleteTrafficMirrorSession"],
    };

    public static TheoryData<string> FunctionIds() => [.. Template.FunctionIds];

    [Theory]
    [MemberData(nameof(FunctionIds))]
    public void Handler_NamesAPublicStreamMethodOfTheFunctionsAssembly(string functionId)
    {
        var parts = Template.Handler(functionId).Split("::");

        Assert.Equal(3, parts.Length);
        Assert.Equal(Functions.GetName().Name, parts[0]);
        var type = Functions.GetType(parts[1]);
        Assert.True(type is { IsPublic: true, IsAbstract: false }, $"{functionId}: {parts[1]} is not a public concrete type of {parts[0]}");
        // The managed runtime constructs the handler's type with its parameterless constructor.
        Assert.NotNull(type!.GetConstructor(Type.EmptyTypes));
        var method = type.GetMethod(parts[2], BindingFlags.Public | BindingFlags.Instance, [typeof(Stream)]);
        Assert.True(method is not null, $"{functionId}: {parts[1]} has no public instance method {parts[2]}(Stream)");
        Assert.Equal(typeof(Task<Stream>), method!.ReturnType);
    }

    [Fact]
    public void EveryVariableTheSettingsRead_IsSetForEveryFunction()
    {
        var read = new HashSet<string>(StringComparer.Ordinal);
        AutoMirrorSettings.FromVariables(name =>
        {
            read.Add(name);
            return name switch
            {
                "MIRROR_TARGET_ID" => "tmt-0123456789abcdef0",
                "MIRROR_FILTER_ID" => "tmf-0123456789abcdef0",
                _ => null,
            };
        });
        Assert.Contains("MIRROR_TARGET_ID", read);

        // The state machine ARNs are read by every function but needed only by the one that starts executions;
        // the scenarios (built from each function's own environment) fail if a function needs one it lacks.
        string[] perFunction = ["ATTACH_STATE_MACHINE_ARN", "TEARDOWN_STATE_MACHINE_ARN"];
        foreach (var functionId in Template.FunctionIds)
        {
            var environment = Template.Environment(functionId);
            var missing = read.Except(perFunction).Where(name => !environment.ContainsKey(name)).ToList();
            Assert.True(missing.Count == 0, $"{functionId} lacks {string.Join(", ", missing)}");
        }

        Assert.Contains("ATTACH_STATE_MACHINE_ARN", Template.Environment("EventFunction").Keys);
        Assert.Contains("TEARDOWN_STATE_MACHINE_ARN", Template.Environment("IdleLabsFunction").Keys);
    }

    [Fact]
    public void NoOtherEnvironmentVariable_IsReadByTheCode()
    {
        // Reads outside AutoMirrorSettings would bypass the one-record rule and could go unset in the template.
        var sources = new[] { "src/AutoMirror.Functions", "src/AutoMirror.Core", "src/AutoMirror.Aws" }
            .Select(d => Path.Combine(RepositoryRoot.Path, d))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal));
        var literalReads = sources
            .SelectMany(f => EnvironmentRead().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Name: m.Groups[1].Value)))
            .ToList();

        // AWS_* and the runtime's own variables are set by Lambda itself (region, credentials, endpoint overrides).
        var unset = literalReads
            .Where(r => !r.Name.StartsWith("AWS_", StringComparison.Ordinal) && !r.Name.StartsWith("_", StringComparison.Ordinal))
            .Where(r => !Template.FunctionIds.Any(f => Template.Environment(f).ContainsKey(r.Name)))
            .ToList();
        Assert.Empty(unset);
    }

    [Fact]
    public void EveryFunction_HasAScenarioAndADeclaredOperationList()
    {
        Assert.Equal(Template.FunctionIds.Order(), FunctionScenarios.FunctionsWithScenarios.Order());
        Assert.Equal(Template.FunctionIds.Order(), Operations.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(FunctionIds))]
    public async Task RecordedCalls_AreAllDeclared(string functionId)
    {
        Assert.True(FunctionScenarios.FunctionsWithScenarios.Contains(functionId), $"{functionId} has no scenario");
        Assert.True(Operations.ContainsKey(functionId), $"{functionId} has no declared operation list");

        var recorded = await new FunctionScenarios(Template).RecordAsync(functionId);

        var undeclared = recorded.Except(Operations[functionId]).ToList();
        Assert.True(undeclared.Count == 0, $"{functionId} called {string.Join(", ", undeclared)}, which {nameof(Operations)} does not list");
        // And the list is not padded: every declared operation was seen in the scenarios.
        var unseen = Operations[functionId].Except(recorded).ToList();
        Assert.True(unseen.Count == 0, $"{functionId}: {string.Join(", ", unseen)} declared but never called by the scenarios");
    }

    [Theory]
    [MemberData(nameof(FunctionIds))]
    public void Role_AllowsEveryDeclaredOperation_AndNothingElse(string functionId)
    {
        Assert.True(Operations.ContainsKey(functionId), $"{functionId} has no declared operation list");
        // The scenarios run the default TargetKind (nlb); the other kinds' grants: TargetKindTemplateTests.
        var statements = Template.FunctionStatements(functionId).Where(s => TargetKindTemplateTests.HoldsForKind(s.OnlyWhen, "nlb")).ToList();
        var needed = Operations[functionId].SelectMany(AwsOperations.RequiredActions).ToHashSet(StringComparer.Ordinal);

        var denied = needed.Where(action => !statements.Any(s => s.Allows(action))).ToList();
        Assert.True(denied.Count == 0, $"{functionId}'s role does not allow {string.Join(", ", denied)}");

        // Least privilege: no action of any AWS port the code does not call from this function.
        var extra = AwsOperations.AllActions().Append("ec2:CreateTags").Distinct()
            .Where(action => !needed.Contains(action) && statements.Any(s => s.Allows(action)))
            .ToList();
        Assert.True(extra.Count == 0, $"{functionId}'s role allows {string.Join(", ", extra)}, which its code never calls");
    }

    /// <summary>The sample event for each function (events/), for `sam local invoke -e`.</summary>
    public static readonly IReadOnlyDictionary<string, string> SampleEvents = new Dictionary<string, string>
    {
        ["EventFunction"] = "ec2-state-running.json",
        ["ReconcileFunction"] = "scheduled-reconcile.json",
        ["EvaluateFunction"] = "attach-input.json",
        ["TargetHealthFunction"] = "attach-plan.json",
        ["CreateSessionsFunction"] = "attach-plan.json",
        ["VerifyFunction"] = "attach-verify-input.json",
        ["CleanupFunction"] = "attach-cleanup-input.json",
        ["IdleLabsFunction"] = "scheduled-teardown.json",
        ["ListLabSessionsFunction"] = "teardown-input.json",
        ["DeleteSessionFunction"] = "teardown-session.json",
        ["InstanceActionFunction"] = "teardown-instance-action.json",
        ["TeardownReportFunction"] = "teardown-state.json",
        ["StackCleanupFunction"] = "stack-cleanup-delete.json",
    };

    [Theory]
    [MemberData(nameof(FunctionIds))]
    public async Task SampleEvent_IsAcceptedByTheFunctionsHandler(string functionId)
    {
        Assert.True(SampleEvents.TryGetValue(functionId, out var file), $"{functionId} has no sample event in events/");
        var payload = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "events", file));
        // A custom resource answers its ResponseURL (a presigned S3 URL in the sample): here, a loopback catcher.
        using var catcher = ResponseUrlCatcher.Start();
        if (System.Text.Json.Nodes.JsonNode.Parse(payload) is System.Text.Json.Nodes.JsonObject request && request.ContainsKey("ResponseURL"))
        {
            request["ResponseURL"] = catcher.Url.ToString();
            payload = request.ToJsonString();
        }

        string answer;
        try
        {
            answer = await new FunctionScenarios(Template).InvokeHandlerAsync(functionId, payload);
        }
        catch (AutoMirror.Core.Mirroring.InstanceNotFoundException)
        {
            // The sample's instance is not in the fake account: the payload was understood (the workflow retries this).
            return;
        }

        Assert.DoesNotContain("\"rejected\"", answer, StringComparison.Ordinal);
    }

    [GeneratedRegex("""GetEnvironmentVariable\(\s*"([A-Za-z0-9_]+)"\s*\)""")]
    private static partial Regex EnvironmentRead();
}
