using AutoMirror.Sensor.Health;

namespace AutoMirror.Sensor.Tests.Health;

public sealed class DownstreamProbeTests : IDisposable
{
    private readonly string _proc = Path.Combine(Path.GetTempPath(), "am-proc-" + Guid.NewGuid().ToString("N"));

    public DownstreamProbeTests() => Directory.CreateDirectory(_proc);

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    private void Process(int pid, string comm, char state = 'S')
    {
        var dir = Directory.CreateDirectory(Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
        File.WriteAllText(Path.Combine(dir, "comm"), comm + "\n");
        File.WriteAllText(Path.Combine(dir, "stat"), pid + " (" + comm + ") " + state + " 1 1 1");
    }

    [Fact]
    public void Problem_NothingConfigured_IsHealthy()
        => Assert.Null(new DownstreamProbe("", "", _proc).Problem());

    [Fact]
    public void Problem_ProcessRunning_IsHealthy()
    {
        Process(42, "zeek");
        Assert.Null(new DownstreamProbe("zeek", "", _proc).Problem());
    }

    [Fact]
    public void Problem_ProcessAbsentOrZombie_NamesIt()
    {
        Process(42, "zeek", 'Z');
        Process(43, "bash");
        Assert.Contains("'zeek' is not running", new DownstreamProbe("zeek", "", _proc).Problem(), StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_LongNameMatchesTheKernelsTruncatedComm()
    {
        Process(7, "Suricata-Main12"[..15]);
        Assert.Null(new DownstreamProbe("Suricata-Main1234", "", _proc).Problem());
    }

    [Fact]
    public void Problem_PidFile_ChecksThatPid()
    {
        var pidFile = Path.Combine(_proc, "zeek.pid");
        File.WriteAllText(pidFile, "99\n");
        var probe = new DownstreamProbe("", pidFile, _proc);

        Assert.Contains("pid 99", probe.Problem(), StringComparison.Ordinal);
        Process(99, "zeek");
        Assert.Null(probe.Problem());
        File.Delete(pidFile);
        Assert.Contains("missing", probe.Problem(), StringComparison.Ordinal);
    }
}
