using AutoMirror.Sensor.Decap;

namespace AutoMirror.Sensor.Metrics;

/// <summary>Why a datagram did not become a forwarded frame; each value is a metrics label.</summary>
public enum DropReason
{
    /// <summary>Outer source address outside the configured source networks.</summary>
    SourceRejected = 0,
    /// <summary>Bigger than the receive buffer (MSG_TRUNC).</summary>
    Oversized,
    /// <summary>Not a valid VXLAN/GENEVE datagram; the detail is in decap_errors_total.</summary>
    DecapError,
    /// <summary>An output refused the frame (TAP down, write error, pcap I/O error).</summary>
    OutputError,
    /// <summary>The kernel dropped datagrams because a receive socket's queue was full (from /proc/net/udp).</summary>
    ReceiveQueueFull,
}

public static class DropReasonNames
{
    public const int Count = (int)DropReason.ReceiveQueueFull + 1;

    private static readonly string[] Labels = ["source_rejected", "oversized", "decap_error", "output_error", "receive_queue_full"];

    public static string Label(DropReason reason) => Labels[(int)reason];
}
