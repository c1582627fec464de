using System.Text;

namespace AutoMirror.Cli.Output;

/// <summary>
/// A plain-text table for terminals: left-aligned columns two spaces apart, each capped at a width so a row fits
/// in 100 columns; a longer cell ends in "…" (the JSON output carries the full value).
/// </summary>
public sealed class Table(params (string Header, int MaxWidth)[] columns)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != columns.Length)
        {
            throw new ArgumentException($"expected {columns.Length} cells, got {cells.Length}", nameof(cells));
        }

        _rows.Add([.. cells.Select((c, k) => Fit(c, columns[k].MaxWidth))]);
    }

    public int Count => _rows.Count;

    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var widths = columns.Select((c, k) => Math.Max(Fit(c.Header, c.MaxWidth).Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[k].Length))).ToArray();
        writer.WriteLine(Line([.. columns.Select(c => Fit(c.Header, c.MaxWidth))], widths));
        foreach (var row in _rows)
        {
            writer.WriteLine(Line(row, widths));
        }
    }

    private static string Line(string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var k = 0; k < cells.Length; k++)
        {
            line.Append(k == cells.Length - 1 ? cells[k] : cells[k].PadRight(widths[k] + 2));
        }

        return line.ToString().TrimEnd();
    }

    private static string Fit(string text, int width) =>
        text.Length <= width ? text : string.Concat(text.AsSpan(0, Math.Max(0, width - 1)), "…");
}
