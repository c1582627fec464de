namespace AutoMirror.Testing;

/// <summary>
/// The last lines a fixture's child process wrote, for failure messages. Only the tail is ever reported, so a
/// long-lived fixture keeps a bounded number of lines instead of growing without limit.
/// </summary>
public sealed class OutputTail(int capacity = 50)
{
    private readonly Queue<string> _lines = new();

    /// <summary>Takes one line as Process.ErrorDataReceived gives it (null at the end of the stream).</summary>
    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            if (_lines.Count == capacity)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue(line);
        }
    }

    public override string ToString()
    {
        lock (_lines)
        {
            return string.Join('\n', _lines);
        }
    }
}
