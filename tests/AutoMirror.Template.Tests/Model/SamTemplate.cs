using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Model;

/// <summary>One IAM statement as a function's role would hold it. <see cref="OnlyWhen"/> names the template condition
/// a statement under <c>!If</c> depends on.</summary>
public sealed record PolicyStatement(
    string Effect,
    IReadOnlyList<string> Actions,
    IReadOnlyList<JsonNode?> Resources,
    JsonObject? Condition,
    string Origin,
    string? OnlyWhen)
{
    public bool Allows(string action) =>
        Effect == "Allow" && Actions.Any(pattern => IamAction.Matches(pattern, action));
}

public static class IamAction
{
    /// <summary>IAM's action matching: case-insensitive, <c>*</c> any run of characters, <c>?</c> one character.</summary>
    public static bool Matches(string pattern, string action)
    {
        var regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(action, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    /// <summary>An action pattern that grants a whole service or everything (<c>*</c>, <c>ec2:*</c>, <c>*:*</c>).</summary>
    public static bool IsServiceWildcard(string pattern) =>
        pattern == "*" || pattern.EndsWith(":*", StringComparison.Ordinal);
}

/// <summary>
/// template.yaml as the SAM transform sees it: functions with Globals merged in, their environment and their
/// role's statements (inline statements and this template's managed policies resolved).
/// </summary>
public sealed class SamTemplate
{
    private SamTemplate(JsonObject root) => Root = root;

    public JsonObject Root { get; }

    public static SamTemplate Load() => new(CloudFormationYaml.Load(System.IO.Path.Combine(RepositoryRoot.Path, "template.yaml")));

    public JsonObject Resources => Root["Resources"]!.AsObject();

    public JsonObject? FunctionGlobals => Root["Globals"]?["Function"]?.AsObject();

    public IEnumerable<string> LogicalIdsOfType(string type) =>
        Resources.Where(r => (string?)r.Value?["Type"] == type).Select(r => r.Key);

    public IReadOnlyList<string> FunctionIds => [.. LogicalIdsOfType("AWS::Serverless::Function")];

    public JsonObject Properties(string logicalId) =>
        Resources[logicalId]?["Properties"]?.AsObject() ?? throw new KeyNotFoundException($"{logicalId} has no Properties");

    /// <summary>A function property, falling back to Globals.Function as SAM does.</summary>
    public JsonNode? FunctionProperty(string functionId, string name) =>
        Properties(functionId)[name] ?? FunctionGlobals?[name];

    public string Handler(string functionId) =>
        (string?)FunctionProperty(functionId, "Handler") ?? throw new KeyNotFoundException($"{functionId} has no Handler");

    /// <summary>Environment variables as SAM merges them: the function's own over Globals'.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Environment(string functionId)
    {
        var merged = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var source in new[] { FunctionGlobals, Properties(functionId) })
        {
            if (source?["Environment"]?["Variables"] is JsonObject variables)
            {
                foreach (var (name, value) in variables)
                {
                    merged[name] = value;
                }
            }
        }

        return merged;
    }

    /// <summary>Every statement the function's role gets from its Policies. Anything this model cannot resolve
    /// (a SAM policy template, an outside managed policy) throws, so an unchecked grant cannot slip by.</summary>
    public IReadOnlyList<PolicyStatement> FunctionStatements(string functionId)
    {
        var policies = Properties(functionId)["Policies"];
        var entries = policies switch
        {
            null => [],
            JsonArray array => array.ToList(),
            _ => [policies],
        };
        var statements = new List<PolicyStatement>();
        foreach (var entry in entries)
        {
            if (entry is JsonObject { Count: 1 } reference && reference["Ref"] is JsonValue refValue)
            {
                var policyId = refValue.GetValue<string>();
                var policy = Resources[policyId] ?? throw new InvalidDataException($"{functionId}: policy {policyId} is not in the template");
                if ((string?)policy["Type"] != "AWS::IAM::ManagedPolicy")
                {
                    throw new InvalidDataException($"{functionId}: {policyId} is not an AWS::IAM::ManagedPolicy");
                }

                statements.AddRange(Statements(policy["Properties"]!["PolicyDocument"]!, policyId));
            }
            else if (entry is JsonObject inline && inline.ContainsKey("Statement"))
            {
                statements.AddRange(Statements(inline, functionId + " inline"));
            }
            else
            {
                throw new InvalidDataException($"{functionId}: policy entry {entry?.ToJsonString()} is neither a managed policy of this template nor an inline statement list");
            }
        }

        return statements;
    }

    /// <summary>Every statement of every policy document in the template (roles, managed policies, inline lists).</summary>
    public IEnumerable<PolicyStatement> AllStatements()
    {
        foreach (var (id, resource) in Resources)
        {
            var type = (string?)resource?["Type"];
            var properties = resource?["Properties"];
            if (type == "AWS::IAM::ManagedPolicy")
            {
                foreach (var s in Statements(properties!["PolicyDocument"]!, id))
                {
                    yield return s;
                }
            }
            else if (type == "AWS::IAM::Role")
            {
                foreach (var entry in properties?["Policies"]?.AsArray() ?? [])
                {
                    // !If [Condition, policy, !Ref AWS::NoValue]: the policy exists only when the condition holds.
                    var (policy, onlyWhen) = entry is JsonObject conditional && conditional["Fn::If"] is JsonArray branches
                        ? (branches[1] as JsonObject, (string?)branches[0])
                        : (entry as JsonObject, null);
                    if (policy is null || IsNoValue(policy))
                    {
                        continue;
                    }

                    foreach (var s in Statements(policy["PolicyDocument"]!, id))
                    {
                        yield return onlyWhen is null || s.OnlyWhen is not null ? s : s with { OnlyWhen = onlyWhen };
                    }
                }
            }
            else if (type == "AWS::Serverless::Function")
            {
                foreach (var entry in properties?["Policies"]?.AsArray() ?? [])
                {
                    if (entry is JsonObject inline && inline.ContainsKey("Statement"))
                    {
                        foreach (var s in Statements(inline, id + " inline"))
                        {
                            yield return s;
                        }
                    }
                }
            }
        }
    }

    private static IEnumerable<PolicyStatement> Statements(JsonNode document, string origin)
    {
        var list = document["Statement"] switch
        {
            JsonArray array => array.ToList(),
            JsonNode single => [single],
            null => [],
        };
        foreach (var item in list)
        {
            // !If [Condition, statement, !Ref AWS::NoValue]: the statement exists only when the condition holds.
            if (item is JsonObject conditional && conditional["Fn::If"] is JsonArray branches)
            {
                // The second branch holds when the condition does not: "!Condition".
                var condition = (string?)branches[0];
                string?[] when = [condition, "!" + condition];
                for (var n = 1; n < branches.Count; n++)
                {
                    if (branches[n] is JsonObject b && !IsNoValue(b))
                    {
                        yield return Statement(b, origin, when[n - 1]);
                    }
                }
            }
            else
            {
                yield return Statement(item!.AsObject(), origin, null);
            }
        }
    }

    private static bool IsNoValue(JsonObject node) => (string?)node["Ref"] == "AWS::NoValue";

    private static PolicyStatement Statement(JsonObject statement, string origin, string? onlyWhen) => new(
        (string?)statement["Effect"] ?? throw new InvalidDataException($"{origin}: a statement has no Effect"),
        Strings(statement["Action"], origin),
        statement["Resource"] is JsonArray resources ? [.. resources] : [statement["Resource"]],
        statement["Condition"] as JsonObject,
        origin,
        onlyWhen);

    private static List<string> Strings(JsonNode? node, string origin) => node switch
    {
        JsonValue v => [v.GetValue<string>()],
        JsonArray a => [.. a.Select(x => x is JsonValue xv ? xv.GetValue<string>() : throw new InvalidDataException($"{origin}: an Action is not a plain string"))],
        _ => throw new InvalidDataException($"{origin}: a statement has no Action (NotAction is not used here)"),
    };
}
