using System.Diagnostics;
using System.Globalization;
using System.Text;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Integration;

/// <summary>
/// The AF_XDP path's effect on the machine outside the sensor, with the real executable in a network
/// namespace of its own: a misspelt interface stops start-up before anything is created, and however
/// the sensor ends (stopped or killed) the mirror interface is left without the program, never
/// redirecting mirrored traffic to sockets nobody reads.
/// </summary>
[Trait("Category", "Integration")]
[Collection(EndToEndTests.Serial)]
public sealed class AfXdpLifecycleTests : IDisposable
{
    private readonly string _namespace = "amxl" + Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);
    private readonly string _tap;
    private Process? _sensor;

    public AfXdpLifecycleTests()
    {
        _tap = "amtap" + _namespace[4..];
        if (Prerequisites.MissingNetns() is null && Prerequisites.MissingTools("ip", "dotnet") is null)
        {
            Ip("netns", "add", _namespace);
            Ip("-n", _namespace, "link", "set", "lo", "up");
            // x0 receives what its peer sends; jumbo MTU as on a mirror target (the program must accept multi-buffer packets).
            Ip("-n", _namespace, "link", "add", "x0", "mtu", "9000", "type", "veth", "peer", "name", "y0", "mtu", "9000");
            Ip("-n", _namespace, "link", "set", "x0", "up");
            Ip("-n", _namespace, "link", "set", "y0", "up");
        }
    }

    [NetnsFact("ip", "dotnet")]
    public async Task MissingInterface_StopsWithExitCode2NamingTheSetting_AndLeavesNoTap()
    {
        // Tap:Persist is left at the deploy's default (true): a TAP created before the check would outlive the process.
        var (code, stdout, stderr) = await RunSensor("--af-xdp", "nosuch0");

        Assert.True(code == 2, "exit code " + code + "\n" + stderr + stdout);
        Assert.Contains("Sensor:AfXdp:Interface", stderr, StringComparison.Ordinal);
        Assert.Contains("nosuch0", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        var (tapShown, _) = Ip("-n", _namespace, "link", "show", _tap);
        Assert.True(tapShown != 0, "TAP " + _tap + " is still there after a start-up that failed on configuration");
    }

    [NetnsFact("ip", "dotnet")]
    public Task StoppedSensor_LeavesNoProgramOnTheInterface() => EndSensorAndCheckTheInterface("TERM");

    [NetnsFact("ip", "dotnet")]
    public Task KilledSensor_LeavesNoProgramOnTheInterface() => EndSensorAndCheckTheInterface("KILL");

    private async Task EndSensorAndCheckTheInterface(string signal)
    {
        var stdout = new StringBuilder();
        _sensor = StartSensor(stdout, "--af-xdp", "x0", "--Sensor:Tap:Persist=false");
        await WaitFor(() => Contains(stdout, "AF_XDP on x0:") || _sensor.HasExited, TimeSpan.FromSeconds(60));
        Assert.True(Contains(stdout, "AF_XDP on x0:"), "the sensor did not report AF_XDP on x0:\n" + Text(stdout));
        Assert.Contains("prog/xdp", LinkShow("x0"), StringComparison.Ordinal);

        using (Process.Start("kill", ["-" + signal, _sensor.Id.ToString(CultureInfo.InvariantCulture)])) { }
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _sensor.WaitForExitAsync(timeout.Token);
        }

        Assert.Equal(signal == "TERM" ? 0 : 128 + 9, _sensor.ExitCode);
        // The kernel releases the bpf_link when its last descriptor closes; allow it a moment after the exit.
        await WaitFor(() => !LinkShow("x0").Contains("xdp", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("xdp", LinkShow("x0"), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (_sensor is { HasExited: false })
        {
            _sensor.Kill();
            _sensor.WaitForExit(10_000);
        }

        _sensor?.Dispose();
        if (Prerequisites.MissingNetns() is null && Prerequisites.MissingTools("ip") is null)
        {
            Ip("netns", "del", _namespace);
        }
    }

    /// <summary>The sensor in the test's namespace; ip netns exec execs it, so the process started is the sensor itself and signals reach it.</summary>
    private ProcessStartInfo SensorCommand(string[] flags)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = ["netns", "exec", _namespace, "dotnet", Path.Combine(AppContext.BaseDirectory, "AutoMirror.Sensor.dll"),
            "--tap", _tap, "--health-port", "18090", .. flags];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private Process StartSensor(StringBuilder stdout, params string[] flags)
    {
        var process = Process.Start(SensorCommand(flags))!;
        process.OutputDataReceived += (_, e) => { lock (stdout) { stdout.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (stdout) { stdout.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunSensor(params string[] flags)
    {
        _sensor = Process.Start(SensorCommand(flags))!;
        var stdout = _sensor.StandardOutput.ReadToEndAsync();
        var stderr = _sensor.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _sensor.WaitForExitAsync(timeout.Token);
        return (_sensor.ExitCode, await stdout, await stderr);
    }

    private string LinkShow(string device)
    {
        var (code, text) = Ip("-d", "-n", _namespace, "link", "show", device);
        Assert.True(code == 0, "ip link show " + device + ": " + text);
        return text;
    }

    private static (int ExitCode, string Output) Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        // ip says little: reading one stream after the other cannot fill the other's pipe.
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr);
    }

    private static bool Contains(StringBuilder text, string value) => Text(text).Contains(value, StringComparison.Ordinal);

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private static async Task WaitFor(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }
}
