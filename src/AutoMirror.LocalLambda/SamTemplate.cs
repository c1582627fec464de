using YamlDotNet.RepresentationModel;

namespace AutoMirror.LocalLambda;

/// <summary>One function of a SAM template: its handler string and the environment it declares.</summary>
public sealed record FunctionDefinition(string LogicalId, string Handler, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// The parts of a SAM template the local host needs: each AWS::Serverless::Function's Handler and Environment, with
/// Globals.Function.Environment underneath. Intrinsic functions (!Ref, !Sub, ...) cannot be resolved without a
/// stack, so variables whose value is one are left out; the host's --env overrides supply them.
/// </summary>
public static class SamTemplate
{
    public static IReadOnlyDictionary<string, FunctionDefinition> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new InvalidDataException($"{path} is not a YAML mapping");
        }

        var globals = Variables(Child(Child(Child(root, "Globals"), "Function"), "Environment"));
        var functions = new Dictionary<string, FunctionDefinition>(StringComparer.Ordinal);
        if (Child(root, "Resources") is not YamlMappingNode resources)
        {
            throw new InvalidDataException($"{path} has no Resources");
        }

        foreach (var (key, value) in resources.Children)
        {
            if (value is not YamlMappingNode resource || Scalar(Child(resource, "Type")) != "AWS::Serverless::Function")
            {
                continue;
            }

            var properties = Child(resource, "Properties");
            var handler = Scalar(Child(properties, "Handler"));
            if (handler is null)
            {
                continue;
            }

            var environment = new Dictionary<string, string>(globals, StringComparer.Ordinal);
            foreach (var (name, variable) in Variables(Child(properties, "Environment")))
            {
                environment[name] = variable;
            }

            var logicalId = ((YamlScalarNode)key).Value!;
            functions[logicalId] = new FunctionDefinition(logicalId, handler, environment);
        }

        return functions;
    }

    private static Dictionary<string, string> Variables(YamlNode? environment)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Child(environment, "Variables") is YamlMappingNode variables)
        {
            foreach (var (name, value) in variables.Children)
            {
                // A tagged scalar (!Ref X) or a mapping/sequence is an intrinsic function: unresolvable here.
                if (value is YamlScalarNode scalar && scalar.Tag.IsEmpty && name is YamlScalarNode key && key.Value is not null)
                {
                    result[key.Value] = scalar.Value ?? "";
                }
            }
        }

        return result;
    }

    private static YamlNode? Child(YamlNode? node, string name) =>
        node is YamlMappingNode mapping && mapping.Children.TryGetValue(new YamlScalarNode(name), out var child) ? child : null;

    private static string? Scalar(YamlNode? node) => node is YamlScalarNode scalar && scalar.Tag.IsEmpty ? scalar.Value : null;
}
