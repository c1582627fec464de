using System.Text.RegularExpressions;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Model;

/// <summary>The names docs/contracts.md fixes, read from its tables so the template is checked against the document
/// the other parts are written against, not against a copy of it.</summary>
public static partial class Contract
{
    private static readonly Lazy<string[]> Lines = new(() =>
        File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "docs", "contracts.md")));

    public const string HandlerPrefix = "AutoMirror.Functions::AutoMirror.Functions.Handlers.";

    /// <summary>SAM logical id → full handler string, from the Functions table.</summary>
    public static IReadOnlyDictionary<string, string> Functions()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Lines.Value)
        {
            var match = FunctionRow().Match(line);
            if (match.Success)
            {
                result[match.Groups["id"].Value] = HandlerPrefix + match.Groups["handler"].Value;
            }
        }

        return result.Count > 0 ? result : throw new InvalidDataException("docs/contracts.md: no function rows found");
    }

    /// <summary>The error names of the "Error names" table.</summary>
    public static IReadOnlySet<string> ErrorNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in Lines.Value)
        {
            var match = ErrorRow().Match(line);
            if (match.Success)
            {
                names.Add(match.Groups["name"].Value);
            }
        }

        return names.Count > 0 ? names : throw new InvalidDataException("docs/contracts.md: no error rows found");
    }

    /// <summary>Environment variable names of the Environment table (a row may name two, "A / B").</summary>
    public static IReadOnlySet<string> EnvironmentVariables()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in Lines.Value)
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal))
            {
                continue;
            }

            var firstCell = line.Split('|')[1];
            foreach (Match m in EnvName().Matches(firstCell))
            {
                names.Add(m.Groups[1].Value);
            }
        }

        return names;
    }

    [GeneratedRegex(@"^\|\s*`(?<id>[A-Za-z]+Function)`\s*\|\s*`(?<handler>[A-Za-z]+::[A-Za-z]+Async)`")]
    private static partial Regex FunctionRow();

    [GeneratedRegex(@"^\|\s*`(?<name>[A-Za-z.]+Exception)`\s*\|")]
    private static partial Regex ErrorRow();

    [GeneratedRegex(@"`([A-Z][A-Z0-9_]+)`")]
    private static partial Regex EnvName();
}
