using System.Text.Json.Nodes;

namespace AutoMirror.Lab.Tests;

/// <summary>The lab with TargetKind=eni: no load balancer; VXLAN straight from each source to the sensor's interface.</summary>
public sealed class InterfaceTargetLabRun() : LabRun("eni");

/// <summary>The lab with TargetKind=gwlbe: each mirrored VXLAN datagram reaches the sensor inside GENEVE (UDP 6081).</summary>
public sealed class GatewayEndpointLabRun() : LabRun("gwlbe");

/// <summary>
/// The whole system for the two other target kinds (issue #17 item 1), each deployed from template.yaml with its
/// TargetKind: the same instances are mirrored with the same outcomes as with the NLB (LocalLabTests), every frame
/// sent on a session reaches the sensor's TAP through that kind's delivery, and teardown leaves no session.
/// </summary>
public abstract class TargetKindLabTests(LabRun lab)
{
    [LabFact]
    public void Lab_Succeeds_WithThisKindsTarget()
    {
        Assert.True(lab.ExitCode == 0, lab.Describe());
        Assert.Equal(lab.TargetKind, (string?)lab.Report["targetKind"]);
        Assert.Equal(lab.TargetKind, (string?)lab.Report["stackOutputs"]!["TargetKind"]);
        Assert.True(lab.Elapsed < LabRun.Budget, $"the lab took {lab.Elapsed}, budget {LabRun.Budget}");
    }

    [LabFact]
    public void Attach_MirrorsExactlyTheEligibleInterfaces_AsWithTheNlb()
    {
        var mirrored = lab.Instances.Where(i => i["sessions"]!.AsArray().Count > 0).Select(i => (string)i["name"]!).Order();
        Assert.Equal(["blue-web", "red-db", "red-web"], mirrored);
        Assert.Equal("session-limit", (string?)lab.Instance("crowded")["reason"]);
        Assert.StartsWith("unsupported-instance-type", (string?)lab.Instance("old-xen")["reason"], StringComparison.Ordinal);
    }

    [LabFact]
    public void EveryFrameSent_ReachesTheSensor_ThroughThisKindsDelivery()
    {
        var sessions = lab.Sessions.ToList();
        Assert.Equal(4, sessions.Count);
        Assert.All(sessions, s => Assert.Equal((long)s["packetsSent"]!, (long)s["packetsSeen"]!));
        Assert.All(sessions, s => Assert.True((long)s["packetsSent"]! > 0));
    }
}

[Trait("Category", "Integration")]
public sealed class InterfaceTargetLabTests(InterfaceTargetLabRun lab) : TargetKindLabTests(lab), IClassFixture<InterfaceTargetLabRun>
{
    [LabFact]
    public void Stack_HasNoLoadBalancer_AndTheTargetIsTheSensorsInterface()
    {
        var outputs = lab.Report["stackOutputs"]!.AsObject();
        Assert.False(outputs.ContainsKey("SensorLoadBalancerArn"));
        Assert.StartsWith("eni-", (string?)outputs["SensorInterfaceId"], StringComparison.Ordinal);
    }
}

[Trait("Category", "Integration")]
public sealed class GatewayEndpointLabTests(GatewayEndpointLabRun lab) : TargetKindLabTests(lab), IClassFixture<GatewayEndpointLabRun>
{
    [LabFact]
    public void Stack_TargetIsTheGatewayLoadBalancerEndpoint()
    {
        var outputs = lab.Report["stackOutputs"]!.AsObject();
        Assert.StartsWith("vpce-", (string?)outputs["SensorEndpointId"], StringComparison.Ordinal);
        Assert.Contains(":loadbalancer/gwy/", (string?)outputs["SensorGatewayLoadBalancerArn"], StringComparison.Ordinal);
    }
}
