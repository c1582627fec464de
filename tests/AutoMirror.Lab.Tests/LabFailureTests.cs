using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using AutoMirror.Testing;

namespace AutoMirror.Lab.Tests;

/// <summary>
/// A failed step says which step and why, and leaves nothing behind: no namespace, no process, no listening service.
/// The failure is forced after step 3, when the local cloud, the Step Functions endpoint, the Lambda host, the sensor
/// and its analyser are all running.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class LabFailureTests
{
    [LabFact]
    public async Task FailedStep_IsNamed_AndEverythingStartedIsStopped()
    {
        var configuration = typeof(LabRun).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "BuildConfiguration").Value!;
        var start = new ProcessStartInfo("python3")
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("lab/run_lab.py");
        start.ArgumentList.Add("--build-configuration");
        start.ArgumentList.Add(configuration);
        start.Environment["AUTOMIRROR_LAB_FAIL_AFTER_STEP"] = "3";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(LabRun.Budget);

        // A failed run keeps its logs for the user and says where; this test removes them.
        var kept = LogsLine().Match(stderr);
        if (kept.Success && kept.Groups[1].Value.Contains("automirror-lab-", StringComparison.Ordinal))
        {
            Directory.Delete(kept.Groups[1].Value, recursive: true);
        }

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("lab: FAILED in [3/7] attach", stderr, StringComparison.Ordinal);
        Assert.Contains("failing on purpose", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("PASSED", await stdout, StringComparison.Ordinal);

        var namespaces = NamespacesLine().Match(stderr);
        Assert.True(namespaces.Success, stderr);
        var listed = await RunAsync("ip", "netns", "list");
        foreach (var name in namespaces.Groups.Values.Skip(1).Select(g => g.Value))
        {
            Assert.DoesNotContain(name, listed, StringComparison.Ordinal);
        }

        // The sensor's command line names its TAP; no process may still carry it.
        var tap = TapLine().Match(stderr).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(tap), stderr);
        var survivors = Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Where(d => ReadCmdline(d).Contains(tap, StringComparison.Ordinal)).ToList();
        Assert.Empty(survivors);

        foreach (Match endpoint in EndpointLine().Matches(stderr))
        {
            using var client = new TcpClient();
            await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", int.Parse(endpoint.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    private static string ReadCmdline(string dir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static async Task<string> RunAsync(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return text;
    }

    [GeneratedRegex(@"namespaces (\S+) \(lab client\), (\S+) \(lab server\), (\S+) \(sensor\)")]
    private static partial Regex NamespacesLine();

    [GeneratedRegex(@"\(TAP (\S+)\)")]
    private static partial Regex TapLine();

    [GeneratedRegex(@"lab: logs kept in (\S+)")]
    private static partial Regex LogsLine();

    [GeneratedRegex(@"http://127\.0\.0\.1:(\d+)")]
    private static partial Regex EndpointLine();
}
