using System.Globalization;
using AutoMirror.Cli.Output;

namespace AutoMirror.Cli.Status;

/// <summary>The status's estimate section for people: one line of totals and the billed items.</summary>
public static class EstimateTable
{
    public static void Write(StatusEstimate estimate, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        ArgumentNullException.ThrowIfNull(output);

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Estimate ({estimate.TargetKind} target, {(estimate.ZoneLocal ? "zone-local" : "cross-zone")}, {estimate.Zones} zone(s); us-east-1 list prices as of {estimate.PricesAsOf}):"));
        var lines = new Table(("ITEM", 32), ("QTY", 5), ("$/UNIT-HOUR", 11), ("$/HOUR", 8));
        foreach (var line in estimate.Lines)
        {
            lines.Add(line.Item, line.Quantity.ToString("0.##", CultureInfo.InvariantCulture), line.UnitPrice.ToString("0.0000", CultureInfo.InvariantCulture), StatusTable.Money(line.Hourly));
        }

        lines.WriteTo(output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Estimated: {StatusTable.Money(estimate.HourlyTotal)}/hour plus ${estimate.PerMirroredGb:0.0000} per mirrored GB."));
        foreach (var note in estimate.Notes)
        {
            output.WriteLine("Note: " + note);
        }
    }
}
