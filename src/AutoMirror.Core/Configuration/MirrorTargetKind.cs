namespace AutoMirror.Core.Configuration;

/// <summary>
/// What the mirror sessions point at (template parameter TargetKind, issue #17 item 1). AWS limits only the interface
/// target: 10 sources, or 100 when the target's instance is one of a few large types; the load balancer and endpoint
/// targets take any number.
/// </summary>
public enum MirrorTargetKind
{
    /// <summary>An internal Network Load Balancer (UDP 4789) in front of the sensors.</summary>
    Nlb,

    /// <summary>One sensor's network interface; no load balancer.</summary>
    Eni,

    /// <summary>A Gateway Load Balancer endpoint; the sensors receive GENEVE (UDP 6081).</summary>
    Gwlbe,
}
