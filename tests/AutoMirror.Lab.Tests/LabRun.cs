using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using AutoMirror.Testing;

namespace AutoMirror.Lab.Tests;

/// <summary>
/// One run of the local lab (lab/run_lab.py, what scripts/lab.sh runs after building) with <c>--json</c> to a temporary
/// file; every test reads the same report. The lab needs root (network namespaces), Suricata or tshark, tcpreplay,
/// Node 22 tools from scripts/prereqs.sh, and the LocalLambda and Sensor builds this project depends on.
/// </summary>
public class LabRun : IAsyncLifetime
{
    public LabRun()
        : this("nlb")
    {
    }

    /// <summary>A run of the lab with the template's TargetKind (issue #17 item 1).</summary>
    protected LabRun(string targetKind) => TargetKind = targetKind;

    public string TargetKind { get; }

    /// <summary>The budget for the whole lab, build excluded.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromMinutes(3);

    private readonly string _work = Directory.CreateTempSubdirectory("automirror-lab-test-").FullName;

    public JsonObject Report { get; private set; } = [];

    public int ExitCode { get; private set; }

    public string Output { get; private set; } = "";

    public string Progress { get; private set; } = "";

    public TimeSpan Elapsed { get; private set; }

    public static string? Missing()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "the local lab needs root on Linux (network namespaces)";
        }

        return File.Exists(Path.Combine(RepositoryRoot.Path, ".tools", "node", "node_modules", ".bin", "node"))
            ? null
            : "Node 22 tools are missing: run scripts/prereqs.sh";
    }

    public async Task InitializeAsync()
    {
        if (Missing() is not null)
        {
            return;
        }

        var configuration = typeof(LabRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "BuildConfiguration").Value!;
        var json = Path.Combine(_work, "report.json");
        var start = new ProcessStartInfo("python3")
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "lab/run_lab.py", "--json", json, "--build-configuration", configuration, "--target-kind", TargetKind })
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(Budget + TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM first: the lab's own cleanup removes its namespaces and processes.
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.Dispose();
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            throw new TimeoutException("the local lab did not finish in " + limit + ":\n" + await stderr);
        }

        Elapsed = clock.Elapsed;
        ExitCode = process.ExitCode;
        Output = await stdout;
        Progress = await stderr;
        if (File.Exists(json))
        {
            Report = JsonNode.Parse(await File.ReadAllTextAsync(json))!.AsObject();
        }
    }

    public virtual Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    public string Describe() => new StringBuilder().AppendLine("exit " + ExitCode).AppendLine(Progress).AppendLine(Output).ToString();

    public JsonObject Instance(string name) =>
        Report["instances"]!.AsArray().Single(i => (string?)i!["name"] == name)!.AsObject();

    public IEnumerable<JsonObject> Instances => Report["instances"]!.AsArray().Select(i => i!.AsObject());

    public IEnumerable<JsonObject> Vnis => Report["vnis"]!.AsArray().Select(v => v!.AsObject());

    public IEnumerable<JsonObject> Sessions => Instances.SelectMany(i => i["sessions"]!.AsArray().Select(s => s!.AsObject()));
}

public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute()
    {
        Skip = LabRun.Missing();
    }
}
