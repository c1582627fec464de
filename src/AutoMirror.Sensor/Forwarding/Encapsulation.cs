namespace AutoMirror.Sensor.Forwarding;

/// <summary>What a receive socket expects: VXLAN from Traffic Mirroring (via NLB or an ENI target), or GENEVE from a GWLB.</summary>
public enum Encapsulation
{
    Vxlan,
    Geneve,
}
