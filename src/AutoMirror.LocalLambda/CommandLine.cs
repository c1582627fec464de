using System.Globalization;

namespace AutoMirror.LocalLambda;

public sealed class CommandLineException(string message) : Exception(message);

/// <summary>The host's few options; every mistake is reported by the option's name.</summary>
public static class CommandLine
{
    public static LocalLambdaOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int? port = null;
        string? template = null;
        Uri? deployedIn = null;
        string? assemblyDirectory = null;
        var explicitFunctions = new Dictionary<string, string>(StringComparer.Ordinal);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new CommandLineException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--port":
                    var text = Value();
                    port = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535
                        ? p
                        : throw new CommandLineException($"--port must be 0-65535, got '{text}'");
                    break;
                case "--template":
                    template = Value();
                    break;
                case "--deployed-in":
                    var endpoint = Value();
                    deployedIn = Uri.TryCreate(endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                        ? uri
                        : throw new CommandLineException($"--deployed-in must be an http(s) URL (the cloud's Lambda API), got '{endpoint}'");
                    break;
                case "--assembly-dir":
                    assemblyDirectory = Value();
                    break;
                case "--function":
                    var (name, handler) = Pair(Value(), "--function", "Name=Assembly::Type::Method");
                    explicitFunctions[name] = handler;
                    break;
                case "--env":
                    var (variable, value) = Pair(Value(), "--env", "NAME=VALUE");
                    environment[variable] = value;
                    break;
                default:
                    throw new CommandLineException($"unknown option '{args[i]}'");
            }
        }

        if (port is null)
        {
            throw new CommandLineException("--port is required (0 picks a free port, printed on the ready line)");
        }

        var functions = new Dictionary<string, FunctionDefinition>(StringComparer.Ordinal);
        if (template is not null)
        {
            if (!File.Exists(template))
            {
                throw new CommandLineException($"--template {template} does not exist");
            }

            foreach (var (id, definition) in SamTemplate.Load(template))
            {
                functions[id] = definition;
            }
        }

        var globals = functions.Values.FirstOrDefault()?.Environment ?? new Dictionary<string, string>();
        foreach (var (name, handler) in explicitFunctions)
        {
            functions[name] = new FunctionDefinition(name, handler, functions.TryGetValue(name, out var known) ? known.Environment : globals);
        }

        if (functions.Count == 0 && deployedIn is null)
        {
            throw new CommandLineException("no functions: give --deployed-in, --template and/or --function Name=Assembly::Type::Method");
        }

        return new LocalLambdaOptions(port.Value, functions, environment, assemblyDirectory, deployedIn);
    }

    private static (string Name, string Value) Pair(string text, string option, string shape)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new CommandLineException($"{option} must be {shape}, got '{text}'");
        }

        return (text[..equals], text[(equals + 1)..]);
    }
}
