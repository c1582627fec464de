using AutoMirror.Sensor.Health;

namespace AutoMirror.Sensor.Tests.Health;

/// <summary>
/// Sensor:Health:DownstreamProcess naming several analysers (the installer writes "zeek,Suricata-Main" for
/// Analyzers=zeek,suricata): the sensor is healthy only while every one of them runs.
/// </summary>
public sealed class SeveralAnalysersProbeTests : IDisposable
{
    private readonly string _proc = Path.Combine(Path.GetTempPath(), "am-proc-" + Guid.NewGuid().ToString("N"));

    public SeveralAnalysersProbeTests() => Directory.CreateDirectory(_proc);

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    private void Process(int pid, string comm, char state = 'S')
    {
        var dir = Directory.CreateDirectory(Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
        File.WriteAllText(Path.Combine(dir, "comm"), comm + "\n");
        File.WriteAllText(Path.Combine(dir, "stat"), pid + " (" + comm + ") " + state + " 1 1 1");
    }

    [Fact]
    public void Problems_EveryAnalyserRunning_IsHealthy()
    {
        Process(10, "zeek");
        Process(11, "Suricata-Main");

        var probe = new DownstreamProbe("zeek,Suricata-Main", "", _proc);

        Assert.Empty(probe.Problems());
        Assert.Null(probe.Problem());
    }

    [Fact]
    public void Problems_OneAnalyserStopped_IsUnhealthyNamingOnlyThatOne()
    {
        Process(10, "zeek");
        Process(11, "Suricata-Main", 'Z');

        var problems = new DownstreamProbe("zeek,Suricata-Main", "", _proc).Problems();

        Assert.Equal(["downstream process 'Suricata-Main' is not running"], problems);
    }

    [Fact]
    public void Problems_NoAnalyserRunning_NamesEachInTheConfiguredOrder()
    {
        Process(12, "bash");

        var problems = new DownstreamProbe("Suricata-Main,zeek", "", _proc).Problems();

        Assert.Equal(["downstream process 'Suricata-Main' is not running", "downstream process 'zeek' is not running"], problems);
    }

    [Fact]
    public void Problems_ProcessAppearingLater_TurnsHealthy()
    {
        Process(10, "zeek");
        var probe = new DownstreamProbe("zeek,Suricata-Main", "", _proc);
        Assert.Single(probe.Problems());

        Process(11, "Suricata-Main");

        Assert.Empty(probe.Problems());
    }

    [Fact]
    public void Problems_SpacesAndEmptyEntries_AreIgnored_AndLongNamesMatchTheTruncatedComm()
    {
        Process(10, "zeek");
        Process(11, "Suricata-Main12"[..15]);

        var probe = new DownstreamProbe(" zeek , ,Suricata-Main1234,", "", _proc);

        Assert.True(probe.IsConfigured);
        Assert.Empty(probe.Problems());
        Assert.Equal(["zeek", "Suricata-Main1234"], DownstreamProbe.Names(" zeek , ,Suricata-Main1234,"));
    }

    [Fact]
    public void Problems_PidFileAndProcesses_AreAllChecked()
    {
        var pidFile = Path.Combine(_proc, "analyser.pid");
        File.WriteAllText(pidFile, "99\n");
        Process(10, "zeek");

        var problems = new DownstreamProbe("zeek,Suricata-Main", pidFile, _proc).Problems();

        Assert.Equal(2, problems.Count);
        Assert.Contains("pid 99", problems[0], StringComparison.Ordinal);
        Assert.Contains("'Suricata-Main'", problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public void IsConfigured_OnlyCommasAndBlanks_IsNotConfigured()
        => Assert.False(new DownstreamProbe(" , ", "", _proc).IsConfigured);
}
