using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace AutoMirror.Template.Tests.Model;

/// <summary>
/// Reads a CloudFormation YAML template into the JSON form CloudFormation itself works on: the short-form tags
/// (<c>!Ref</c>, <c>!GetAtt</c>, <c>!Sub</c>, <c>!If</c>, …) become their long forms (<c>{"Ref": …}</c>,
/// <c>{"Fn::GetAtt": [resource, attribute]}</c>, <c>{"Fn::Sub": …}</c>). Scalars stay strings: the checks compare
/// names, not numbers.
/// </summary>
public static class CloudFormationYaml
{
    public static JsonObject Load(string path)
    {
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        if (stream.Documents.Count != 1)
        {
            throw new InvalidDataException($"{path}: expected one YAML document, found {stream.Documents.Count}");
        }

        return Convert(stream.Documents[0].RootNode) as JsonObject
            ?? throw new InvalidDataException($"{path}: the template is not a mapping");
    }

    private static JsonNode? Convert(YamlNode node)
    {
        JsonNode? value = node switch
        {
            YamlScalarNode scalar => scalar.Value is null ? null : JsonValue.Create(scalar.Value),
            YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(Convert)]),
            YamlMappingNode mapping => ConvertMapping(mapping),
            _ => throw new InvalidDataException($"unsupported YAML node at {node.Start}"),
        };

        var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
        if (tag is null || !tag.StartsWith('!'))
        {
            return value;
        }

        var name = tag[1..];
        return name switch
        {
            "Ref" => new JsonObject { ["Ref"] = value },
            "Condition" => new JsonObject { ["Condition"] = value },
            // !GetAtt Resource.Attribute is the short form of ["Resource", "Attribute"].
            "GetAtt" when value is JsonValue v => new JsonObject
            {
                ["Fn::GetAtt"] = new JsonArray([.. v.GetValue<string>().Split('.', 2).Select(p => (JsonNode)JsonValue.Create(p)!)]),
            },
            _ => new JsonObject { ["Fn::" + name] = value },
        };
    }

    private static JsonObject ConvertMapping(YamlMappingNode mapping)
    {
        var result = new JsonObject();
        foreach (var (key, child) in mapping.Children)
        {
            var name = ((YamlScalarNode)key).Value ?? throw new InvalidDataException($"empty key at {key.Start}");
            if (result.ContainsKey(name))
            {
                throw new InvalidDataException($"duplicate key '{name}' at {key.Start}");
            }

            result[name] = Convert(child);
        }

        return result;
    }
}
