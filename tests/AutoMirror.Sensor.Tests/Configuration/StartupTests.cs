using System.Diagnostics;

namespace AutoMirror.Sensor.Tests.Configuration;

/// <summary>The real executable refuses a wrong setting from each configuration source, naming it, before touching the network.</summary>
public class StartupTests
{
    private static async Task<(int ExitCode, string Stderr)> Start(Dictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AutoMirror.Sensor.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stderr);
    }

    [Fact]
    public async Task EnvironmentVariable_WrongValue_StopsWithExitCode2NamingIt()
    {
        var (code, stderr) = await Start(new() { ["Sensor__Tap__Mtu"] = "10" });
        Assert.Equal(2, code);
        Assert.Contains("Sensor:Tap:Mtu", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShortFlag_WrongValue_StopsNamingTheSetting()
    {
        var (code, stderr) = await Start([], "--source-networks", "the-vpc");
        Assert.Equal(2, code);
        Assert.Contains("Sensor:SourceNetworks", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandLine_OverridesEnvironment()
    {
        // The environment's value is valid, the flag's is not: the flag wins, so start-up fails on it.
        var (code, stderr) = await Start(new() { ["Sensor__VxlanPort"] = "4789" }, "--vxlan-port", "0");
        Assert.Equal(2, code);
        Assert.Contains("Sensor:VxlanPort", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MisspelledKey_StopsNamingIt()
    {
        var (code, stderr) = await Start([], "--Sensor:Tap:Nmae=zeek0");
        Assert.Equal(2, code);
        Assert.Contains("Nmae", stderr, StringComparison.Ordinal);
    }
}
