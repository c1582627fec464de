using System.Diagnostics;

namespace AutoMirror.Cli.Tests;

public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}

/// <summary>
/// Runs the built `automirror` (automirror.dll, copied into the test output by the project reference) as its own
/// process, the way an operator does: nothing is compiled at run time, and only the given environment reaches
/// it, so a developer's own AWS credentials or profile can never leak into a test.
/// </summary>
public static class AutomirrorProcess
{
    private static readonly string[] ClearedPrefixes = ["AWS_", "MIRROR_", "SENSOR_", "TEARDOWN_", "EXCLUDE_", "LAB_TAG_KEY", "IDLE_MINUTES", "ALLOW_TERMINATE", "SESSION_HOURLY_PRICE"];

    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "automirror.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in start.Environment.Keys.Where(k => ClearedPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(AppContext.BaseDirectory, "no-such-credentials");
        start.Environment["AWS_CONFIG_FILE"] = Path.Combine(AppContext.BaseDirectory, "no-such-config");
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"automirror {string.Join(' ', args)} did not finish in 90 s; stderr: {await error}");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
