using AutoMirror.Testing.Fakes;
using System.Text.Json.Nodes;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Template.Tests.Model;

/// <summary>
/// Resolves the intrinsic functions the template's environment uses to the values a deployment would produce, with
/// stand-ins for what only AWS knows (resource ids and ARNs) that match the fake account's. Parameters take their
/// defaults; parameters without one take the value a user would type. An unknown form throws, so no variable is
/// silently left out.
/// </summary>
public static class TemplateValues
{
    private static readonly Dictionary<string, string> Physical = new(StringComparer.Ordinal)
    {
        ["MirrorTarget"] = TestWorld.Target,
        ["MirrorFilter"] = TestWorld.Filter,
        ["SensorTargetGroup"] = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/automirror-sensor/0123456789abcdef",
        ["SensorGroup"] = "automirror-SensorGroup-ABC",
        ["AttachStateMachine"] = "arn:aws:states:us-east-1:123456789012:stateMachine:AttachStateMachine-abc",
        ["TeardownStateMachine"] = "arn:aws:states:us-east-1:123456789012:stateMachine:TeardownStateMachine-abc",
    };

    private static readonly Dictionary<string, string> Typed = new(StringComparer.Ordinal)
    {
        // The fake account's VPC (FakeEc2's instances live there): with MirrorVpcIds empty it is the one mirrored.
        ["VpcId"] = "vpc-1",
        ["VpcCidr"] = "10.0.0.0/16",
        ["SensorSubnetIds"] = "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
        ["NlbSubnetIds"] = "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
        ["SensorCidr"] = "10.0.100.0/23",
        ["ZeekRepositoryUrl"] = "https://packages.example/zeek/xUbuntu_24.04/",
    };

    public static string? Resolve(SamTemplate template, JsonNode? node) => node switch
    {
        null => null,
        JsonValue v => v.GetValue<string>(),
        JsonObject o when o["Ref"] is JsonValue r => Ref(template, r.GetValue<string>()),
        // !Join [sep, [parts]] or !Join [sep, !Ref SomeList]: a list parameter resolves to its comma-joined text.
        JsonObject o when o["Fn::Join"] is JsonArray join => join[1] is JsonArray parts
            ? string.Join((string)join[0]!, parts.Select(part => Resolve(template, part)))
            : Resolve(template, join[1])?.Replace(",", (string)join[0]!, StringComparison.Ordinal),
        // !If [Condition, then, else]: the condition evaluated with the same parameter values.
        JsonObject o when o["Fn::If"] is JsonArray branches => Resolve(template, Holds(template, (string)branches[0]!) ? branches[1] : branches[2]),
        _ => throw new InvalidDataException($"cannot resolve {node.ToJsonString()}"),
    };

    private static bool Holds(SamTemplate template, string condition) =>
        Evaluate(template, template.Root["Conditions"]?[condition] ?? throw new InvalidDataException($"no condition {condition}"));

    private static bool Evaluate(SamTemplate template, JsonNode node) => node switch
    {
        JsonObject o when o["Fn::Equals"] is JsonArray pair => Resolve(template, pair[0]) == Resolve(template, pair[1]),
        JsonObject o when o["Fn::Not"] is JsonArray one => !Evaluate(template, one[0]!),
        JsonObject o when o["Fn::And"] is JsonArray all => all.All(c => Evaluate(template, c!)),
        JsonObject o when o["Fn::Or"] is JsonArray any => any.Any(c => Evaluate(template, c!)),
        JsonObject o when o["Condition"] is JsonValue name => Holds(template, name.GetValue<string>()),
        _ => throw new InvalidDataException($"cannot evaluate condition {node.ToJsonString()}"),
    };

    private static string Ref(SamTemplate template, string name)
    {
        if (Physical.TryGetValue(name, out var physical))
        {
            return physical;
        }

        // The pseudo parameters CloudFormation supplies, as the local cloud's account and region have them.
        if (name switch { "AWS::AccountId" => "123456789012", "AWS::Region" => "us-east-1", "AWS::Partition" => "aws", _ => null } is { } pseudo)
        {
            return pseudo;
        }

        var parameter = template.Root["Parameters"]?[name] ?? throw new InvalidDataException($"!Ref {name}: neither a parameter nor a known resource");
        return (string?)parameter["Default"] ?? (Typed.TryGetValue(name, out var typed) ? typed : throw new InvalidDataException($"parameter {name} has no default and no stand-in"));
    }
}
