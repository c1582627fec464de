using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Tests.Receive;

public class ReceivePlanTests
{
    private static string NoRoute() => throw new InvalidOperationException("the default route must not be looked up");

    [Fact]
    public void Resolve_Defaults_TryThePacketRingThenAfXdpThenTheSocketsOnTheDefaultRouteInterface()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions(), () => "ens5");

        Assert.Equal("auto", plan.Mode);
        Assert.Equal(["packet-ring", "af-xdp", "sockets"], plan.Paths);
        Assert.Equal("ens5", plan.Interface);
        // Found, not configured: nothing to blame a missing interface on, so no start-up stop for it.
        Assert.Null(plan.InterfaceSetting);
        Assert.Null(plan.NoInterfaceReason);
    }

    [Fact]
    public void Resolve_AutoWithoutADefaultRoute_KeepsTheOrderAndSaysWhyThereIsNoInterface()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions(), () => null);

        Assert.Equal(["packet-ring", "af-xdp", "sockets"], plan.Paths);
        Assert.Null(plan.Interface);
        Assert.Contains("Sensor:ReceiveInterface", plan.NoInterfaceReason, StringComparison.Ordinal);
        Assert.Contains("default route", plan.NoInterfaceReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ReceiveInterface_IsUsedInsteadOfTheDefaultRoute()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions { ReceiveInterface = "ens6" }, NoRoute);

        Assert.Equal("ens6", plan.Interface);
        Assert.Equal("Sensor:ReceiveInterface", plan.InterfaceSetting);
    }

    [Theory]
    [InlineData("af-xdp", new[] { "af-xdp", "sockets" })]
    [InlineData("packet-ring", new[] { "packet-ring", "sockets" })]
    public void Resolve_AnExplicitFastPath_FallsBackToTheSocketsOnly(string mode, string[] paths)
    {
        var plan = ReceivePlan.Resolve(new SensorOptions { Receive = mode }, () => "ens5");

        Assert.Equal(mode, plan.Mode);
        Assert.Equal(paths, plan.Paths);
        Assert.Equal("ens5", plan.Interface);
    }

    [Fact]
    public void Resolve_Sockets_NeedsNoInterface()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions { Receive = "sockets" }, NoRoute);

        Assert.Equal(["sockets"], plan.Paths);
        Assert.Null(plan.Interface);
    }

    [Fact]
    public void Resolve_AfXdpInterface_ChoosesAfXdpOnIt_AsBeforeAuto()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions { AfXdp = { Interface = "x0" } }, NoRoute);

        Assert.Equal("af-xdp", plan.Mode);
        Assert.Equal(["af-xdp", "sockets"], plan.Paths);
        Assert.Equal("x0", plan.Interface);
        Assert.Equal("Sensor:AfXdp:Interface", plan.InterfaceSetting);
    }

    [Fact]
    public void Resolve_PacketRingInterface_ChoosesThePacketRingOnIt_AsBeforeAuto()
    {
        var plan = ReceivePlan.Resolve(new SensorOptions { PacketRing = { Interface = "x0" } }, NoRoute);

        Assert.Equal(["packet-ring", "sockets"], plan.Paths);
        Assert.Equal("Sensor:PacketRing:Interface", plan.InterfaceSetting);
    }

    [Fact]
    public void DefaultRouteInterface_IsTheUpDefaultRouteWithTheLowestMetric()
    {
        // /proc/net/route as the kernel writes it: a down default route, a host route, two default routes.
        string table = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(table,
            [
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
                "ens9\t00000000\t0101000A\t0002\t0\t0\t0\t00000000\t0\t0\t0",
                "ens7\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0",
                "ens6\t00000000\t0101000A\t0003\t0\t0\t200\t00000000\t0\t0\t0",
                "ens5\t00000000\t0101000A\t0003\t0\t0\t100\t00000000\t0\t0\t0",
            ]);

            Assert.Equal("ens5", ReceivePlan.DefaultRouteInterface(table));
        }
        finally
        {
            File.Delete(table);
        }
    }

    [Fact]
    public void DefaultRouteInterface_WithoutADefaultRoute_IsNull()
    {
        string table = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(table,
            [
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
                "ens7\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0",
            ]);

            Assert.Null(ReceivePlan.DefaultRouteInterface(table));
        }
        finally
        {
            File.Delete(table);
        }
    }
}
