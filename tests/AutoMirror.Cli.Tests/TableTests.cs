using AutoMirror.Cli.Output;

namespace AutoMirror.Cli.Tests;

public sealed class TableTests
{
    [Fact]
    public void WriteTo_AlignsColumnsAndCutsLongCellsWithAnEllipsis()
    {
        var table = new Table(("NAME", 6), ("VALUE", 20));
        table.Add("short", "1");
        table.Add("much-too-long", "2");
        var output = new StringWriter();

        table.WriteTo(output);

        Assert.Equal(["NAME    VALUE", "short   1", "much-…  2"], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Add_WithTheWrongNumberOfCells_Throws()
    {
        Assert.Throws<ArgumentException>(() => new Table(("A", 3), ("B", 3)).Add("only-one"));
    }
}
