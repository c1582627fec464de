namespace AutoMirror.LocalLambda;

/// <summary>
/// Resolves the function name of an Invoke call — a SAM logical id, a function name or ARN ending in one (a deployed
/// name such as <c>stack-EvaluateFunction-1AB2</c> contains it as a segment) — to its definition.
/// </summary>
public sealed class FunctionCatalog(IReadOnlyDictionary<string, FunctionDefinition> functions)
{
    public IReadOnlyDictionary<string, FunctionDefinition> Functions { get; } = functions;

    public FunctionDefinition? Resolve(string functionName)
    {
        var name = NameOf(functionName);
        if (Functions.TryGetValue(name, out var exact))
        {
            return exact;
        }

        // The longest logical id wins, so "VerifyFunction" is not mistaken for a shorter id it ends with.
        return Functions.Values
            .Where(f => name.EndsWith(f.LogicalId, StringComparison.Ordinal) || name.Contains("-" + f.LogicalId + "-", StringComparison.Ordinal))
            .OrderByDescending(f => f.LogicalId.Length)
            .FirstOrDefault();
    }

    /// <summary>The function name in an invoke's path: a name, or an ARN with an optional qualifier.</summary>
    public static string NameOf(string functionName)
    {
        ArgumentNullException.ThrowIfNull(functionName);
        var name = Uri.UnescapeDataString(functionName);
        var marker = name.IndexOf(":function:", StringComparison.Ordinal);
        if (marker >= 0)
        {
            name = name[(marker + ":function:".Length)..];
            // A qualifier (version or alias) follows the name after a colon.
            var colon = name.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                name = name[..colon];
            }
        }

        return name;
    }
}
