namespace AutoMirror.Sensor.Decap;

/// <summary>Why a datagram could not be decapsulated; each value is a metrics label.</summary>
public enum DecapError
{
    None = 0,
    /// <summary>Shorter than the 8-byte VXLAN (or GENEVE) header.</summary>
    HeaderTruncated,
    /// <summary>The VXLAN I flag (0x08) is clear: not a VXLAN datagram with a valid VNI.</summary>
    VxlanNoIFlag,
    /// <summary>Reserved VXLAN flag bits or reserved fields are not zero (AWS always sends them zero).</summary>
    VxlanReservedBits,
    /// <summary>The inner frame is shorter than an Ethernet header.</summary>
    FrameTooShort,
    /// <summary>The datagram did not fit the receive buffer.</summary>
    Oversized,
    GeneveVersion,
    /// <summary>GENEVE OAM (control) frame: carries no mirrored traffic.</summary>
    GeneveOam,
    /// <summary>GENEVE payload is neither IPv4 nor IPv6.</summary>
    GeneveProtocol,
    InnerIpInvalid,
    InnerIpFragment,
    InnerNotUdp,
    InnerUdpInvalid,
    /// <summary>The UDP datagram inside GENEVE is not addressed to the VXLAN port.</summary>
    InnerNotVxlanPort,
    /// <summary>AF_XDP path: the outer Ethernet/IPv4/UDP headers are not a well-formed unfragmented datagram (the kernel's IP and UDP layers would drop it).</summary>
    OuterHeaderInvalid,
    /// <summary>AF_XDP path: the outer IPv4 header checksum, or a non-zero UDP checksum, is wrong.</summary>
    OuterChecksum,
    /// <summary>GENEVE C flag: a critical option is present, and the sensor interprets no options (RFC 8926 section 3.4: MUST drop).</summary>
    GeneveCriticalOption,
}

public static class DecapErrorNames
{
    public const int Count = (int)DecapError.GeneveCriticalOption + 1;

    private static readonly string[] Labels =
    [
        "none", "header_truncated", "vxlan_no_i_flag", "vxlan_reserved_bits", "frame_too_short", "oversized",
        "geneve_version", "geneve_oam", "geneve_protocol", "inner_ip_invalid", "inner_ip_fragment",
        "inner_not_udp", "inner_udp_invalid", "inner_not_vxlan_port", "outer_header_invalid", "outer_checksum",
        "geneve_critical_option",
    ];

    public static string Label(DecapError error) => Labels[(int)error];
}
