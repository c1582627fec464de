using System.Diagnostics;
using System.Text.Json;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>Runs lab.py (boto3) against a local cloud for what AutoMirror's ports do not do: launch, tag, stop, terminate.</summary>
public sealed class LabDriver(Uri endpoint)
{
    public static string ScriptPath { get; } = Path.Combine(RepositoryRoot.Path, "tests", "AutoMirror.Functions.Tests", "Integration", "lab.py");

    public async Task<JsonElement> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(ScriptPath);
        start.ArgumentList.Add(endpoint.ToString().TrimEnd('/'));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"lab.py {string.Join(' ', args)} failed: {await errors}");
        }

        return JsonDocument.Parse(await output).RootElement.Clone();
    }

    public async Task<List<(string InstanceId, List<string> Interfaces)>> LaunchAsync(string subnetId, int count, string type = "m5.large", int interfaces = 1, Dictionary<string, string>? tags = null)
    {
        var result = await RunAsync("launch", subnetId, count.ToString(System.Globalization.CultureInfo.InvariantCulture), type,
            interfaces.ToString(System.Globalization.CultureInfo.InvariantCulture), JsonSerializer.Serialize(tags ?? []));
        return result.EnumerateArray()
            .Select(i => (i.GetProperty("instanceId").GetString()!, i.GetProperty("interfaces").EnumerateArray().Select(n => n.GetString()!).ToList()))
            .ToList();
    }
}
