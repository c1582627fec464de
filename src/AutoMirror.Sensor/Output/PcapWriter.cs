using System.Buffers.Binary;
using System.Globalization;

namespace AutoMirror.Sensor.Output;

/// <summary>
/// Classic libpcap files (microsecond timestamps, LINKTYPE_ETHERNET) rotated by size and age, the
/// oldest deleted beyond a file count so the disk use is bounded. Receive workers share it under a lock.
/// </summary>
public sealed class PcapWriter : IFrameOutput
{
    public const uint Magic = 0xA1B2C3D4;
    public const int GlobalHeaderLength = 24;
    public const int RecordHeaderLength = 16;
    private const int LinkTypeEthernet = 1;

    private readonly object _gate = new();
    private readonly string _directory;
    private readonly string _prefix;
    private readonly long _maxFileBytes;
    private readonly long _maxFileAgeNanoseconds;
    private readonly int _maxFiles;
    private readonly int _snapLength;
    private readonly TimeProvider _time;
    private readonly byte[] _recordHeader = new byte[RecordHeaderLength];
    private FileStream? _file;
    private long _fileBytes;
    private long _fileStartNanoseconds;
    private long _retryAfterTicks;
    private string? _problem;
    private bool _disposed;
    private int _sequence;

    public PcapWriter(string directory, string prefix, long maxFileBytes, TimeSpan maxFileAge, int maxFiles, int snapLength, TimeProvider time)
    {
        _directory = directory;
        _prefix = prefix;
        _maxFileBytes = maxFileBytes;
        _maxFileAgeNanoseconds = (long)maxFileAge.TotalMilliseconds * 1_000_000;
        _maxFiles = maxFiles;
        _snapLength = snapLength;
        _time = time;
        Directory.CreateDirectory(directory);
    }

    public string Name => "pcap";

    public string? CurrentPath { get; private set; }

    public bool Write(ReadOnlySpan<byte> frame, long unixTimeNanoseconds)
    {
        int captured = Math.Min(frame.Length, _snapLength);
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            try
            {
                if (_file is not null &&
                    (_fileBytes + RecordHeaderLength + captured > _maxFileBytes ||
                     unixTimeNanoseconds - _fileStartNanoseconds >= _maxFileAgeNanoseconds))
                {
                    CloseFile();
                }

                if (_file is null && !OpenFile(unixTimeNanoseconds))
                {
                    return false;
                }

                long micros = unixTimeNanoseconds / 1000;
                BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader, (uint)(micros / 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(4), (uint)(micros % 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(8), (uint)captured);
                BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(12), (uint)frame.Length);
                _file!.Write(_recordHeader);
                _file.Write(frame[..captured]);
                _fileBytes += RecordHeaderLength + captured;
                return true;
            }
            catch (IOException e)
            {
                Fail(e);
                return false;
            }
            catch (UnauthorizedAccessException e)
            {
                Fail(e);
                return false;
            }
        }
    }

    public string? Problem()
    {
        lock (_gate)
        {
            return _disposed ? "pcap writer is closed" : _problem;
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            try
            {
                _file?.Flush();
            }
            catch (IOException e)
            {
                Fail(e);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                CloseFile();
            }
            catch (IOException e)
            {
                _problem = e.Message;
            }
        }
    }

    private bool OpenFile(long unixTimeNanoseconds)
    {
        // After a failure, try again at most once a second instead of once per frame.
        long now = _time.GetTimestamp();
        if (now < _retryAfterTicks)
        {
            return false;
        }

        var started = DateTimeOffset.FromUnixTimeMilliseconds(unixTimeNanoseconds / 1_000_000);
        string name = string.Create(CultureInfo.InvariantCulture, $"{_prefix}-{started:yyyyMMdd'T'HHmmss'Z'}-{_sequence++:D6}.pcap");
        string path = Path.Combine(_directory, name);
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 1 << 20);
        Span<byte> header = stackalloc byte[GlobalHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)_snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        file.Write(header);
        _file = file;
        _fileBytes = GlobalHeaderLength;
        _fileStartNanoseconds = unixTimeNanoseconds;
        CurrentPath = path;
        _problem = null;
        DeleteOldFiles();
        return true;
    }

    private void CloseFile()
    {
        var file = _file;
        _file = null;
        CurrentPath = null;
        file?.Dispose();
    }

    private void DeleteOldFiles()
    {
        var files = Directory.GetFiles(_directory, _prefix + "-*.pcap");
        if (files.Length <= _maxFiles)
        {
            return;
        }

        // Names sort by start time then sequence, so the first ones are the oldest.
        Array.Sort(files, StringComparer.Ordinal);
        for (int i = 0; i < files.Length - _maxFiles; i++)
        {
            File.Delete(files[i]);
        }
    }

    private void Fail(Exception e)
    {
        _problem = "pcap write failed: " + e.Message;
        _retryAfterTicks = _time.GetTimestamp() + _time.TimestampFrequency;
        try
        {
            CloseFile();
        }
        catch (IOException)
        {
            // The file is already failing; the original error is the one reported.
        }
    }
}
