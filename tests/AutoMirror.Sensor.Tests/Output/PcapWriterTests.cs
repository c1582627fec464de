using AutoMirror.Sensor.Output;
using AutoMirror.Sensor.Tests.Support;

namespace AutoMirror.Sensor.Tests.Output;

public sealed class PcapWriterTests : IDisposable
{
    private const long Second = 1_000_000_000;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "am-pcap-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private PcapWriter Writer(long maxBytes = 1 << 20, int maxAgeSeconds = 300, int maxFiles = 10, int snap = 65535)
        => new(_dir, "t", maxBytes, TimeSpan.FromSeconds(maxAgeSeconds), maxFiles, snap, TimeProvider.System);

    private string[] Files() => Directory.GetFiles(_dir, "t-*.pcap").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Write_ThenDispose_FileHoldsTheFramesWithTimestamps()
    {
        var a = Packets.SampleFrame(46, 1);
        var b = Packets.SampleFrame(1000, 2);
        using (var writer = Writer())
        {
            Assert.True(writer.Write(a, (1_700_000_000 * Second) + 123_456_000));
            Assert.True(writer.Write(b, (1_700_000_001 * Second) + 5_000));
        }

        var (linkType, records) = PcapFile.Read(Assert.Single(Files()));
        Assert.Equal(1, linkType);
        Assert.Equal([a, b], records.Select(r => r.Data));
        Assert.Equal((1_700_000_000L, 123_456L), (records[0].Seconds, records[0].Fraction));
        Assert.Equal((1_700_000_001L, 5L), (records[1].Seconds, records[1].Fraction));
    }

    [Fact]
    public void Write_BeyondMaxSize_RotatesWithoutSplittingARecord()
    {
        var frame = Packets.SampleFrame(986); // 1000-byte frame, 1016 bytes per record
        using (var writer = Writer(maxBytes: 24 + (3 * 1016)))
        {
            for (int i = 0; i < 7; i++)
            {
                Assert.True(writer.Write(frame, (1_700_000_000 + i) * Second));
            }
        }

        var counts = Files().Select(f => PcapFile.Read(f).Records.Count).ToArray();
        Assert.Equal([3, 3, 1], counts);
        Assert.All(Files(), f => Assert.True(new FileInfo(f).Length <= 24 + (3 * 1016)));
    }

    [Fact]
    public void Write_AfterMaxAge_StartsANewFile()
    {
        using (var writer = Writer(maxAgeSeconds: 60))
        {
            writer.Write(Packets.SampleFrame(), 1_700_000_000 * Second);
            writer.Write(Packets.SampleFrame(), 1_700_000_059 * Second);
            writer.Write(Packets.SampleFrame(), 1_700_000_060 * Second);
        }

        Assert.Equal([2, 1], Files().Select(f => PcapFile.Read(f).Records.Count));
    }

    [Fact]
    public void Write_BeyondMaxFiles_DeletesTheOldest()
    {
        using (var writer = Writer(maxAgeSeconds: 1, maxFiles: 3))
        {
            for (int i = 0; i < 6; i++)
            {
                writer.Write(Packets.SampleFrame(46, (byte)i), (1_700_000_000 + (i * 10)) * Second);
            }
        }

        var files = Files();
        Assert.Equal(3, files.Length);
        Assert.Equal([3, 4, 5], files.Select(f => PcapFile.Read(f).Records.Single().Data[20]));
    }

    [Fact]
    public void Write_FrameLongerThanSnapLength_KeepsOriginalLength()
    {
        using (var writer = Writer(snap: 100))
        {
            writer.Write(Packets.SampleFrame(500), Second);
        }

        var record = PcapFile.Read(Files().Single()).Records.Single();
        Assert.Equal(100, record.Data.Length);
        Assert.Equal(514, record.OriginalLength);
    }

    [Fact]
    public void Flush_MakesFramesReadableWhileOpen()
    {
        using var writer = Writer();
        writer.Write(Packets.SampleFrame(), Second);
        writer.Flush();

        using var stream = new FileStream(writer.CurrentPath!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Assert.Equal(24 + 16 + 60, stream.Length);
    }

    [Fact]
    public void Write_AfterDispose_IsRefusedAndReported()
    {
        var writer = Writer();
        writer.Dispose();

        Assert.False(writer.Write(Packets.SampleFrame(), Second));
        Assert.NotNull(writer.Problem());
    }

    [Fact]
    public void Write_DirectoryRemoved_ReportsAProblemInsteadOfThrowing()
    {
        using var writer = Writer();
        Directory.Delete(_dir, recursive: true);
        File.WriteAllText(_dir, "not a directory"); // the path now cannot hold files

        Assert.False(writer.Write(Packets.SampleFrame(), Second));
        Assert.Contains("pcap write failed", writer.Problem(), StringComparison.Ordinal);
        File.Delete(_dir);
        Directory.CreateDirectory(_dir);
    }
}
