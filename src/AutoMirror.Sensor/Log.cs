using Microsoft.Extensions.Logging;

namespace AutoMirror.Sensor;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Receiving {Encapsulation} on {Address}:{Port}/udp with {Workers} workers")]
    public static partial void Receiving(ILogger logger, string encapsulation, string address, int port, int workers);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Output {Output} ready: {Detail}")]
    public static partial void OutputReady(ILogger logger, string output, string detail);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Source networks: {Networks}")]
    public static partial void SourceNetworks(ILogger logger, string networks);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "Stats: datagrams={Datagrams} forwarded={Forwarded} rejected={Rejected} decapErrors={DecapErrors} outputErrors={OutputErrors} queueDrops={QueueDrops}")]
    public static partial void Stats(ILogger logger, long datagrams, long forwarded, long rejected, long decapErrors, long outputErrors, long queueDrops);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Unhealthy: {Reasons}")]
    public static partial void Unhealthy(ILogger logger, string reasons);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Healthy again")]
    public static partial void Healthy(ILogger logger);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Stopped: pcap flushed, outputs closed")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning,
        Message = "Could not disable IPv6 on {Tap}: the host may send its own neighbour/router solicitations out of it, and Zeek would log them")]
    public static partial void TapIpv6NotDisabled(ILogger logger, string tap);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Writing to {Tap}: {Mode}")]
    public static partial void TapWrites(ILogger logger, string tap, string mode);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "Batched writes to {Tap} are not available ({Reason}): one write() per frame, which costs more CPU per frame")]
    public static partial void TapBatchingUnavailable(ILogger logger, string tap, string reason);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "AF_XDP on {Interface}: {Queues} receive queues, {Attach} XDP, {Copy} sockets; datagrams the XDP program passes still reach the UDP sockets")]
    public static partial void XdpReceiving(ILogger logger, string @interface, int queues, string attach, string copy);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "{Path} on {Interface} is not available ({Reason}): falling back to {Next}")]
    public static partial void ReceivePathUnavailable(ILogger logger, string path, string @interface, string reason, string next);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "Packet ring on {Interface}: {Workers} rings of {Blocks} blocks of {BlockKilobytes} KiB, tcx ingress drop; datagrams the rings do not take still reach the UDP sockets")]
    public static partial void PacketRingReceiving(ILogger logger, string @interface, int workers, int blocks, int blockKilobytes);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "Receive path: {Path} (Sensor:Receive={Mode}, interface {Interface}; refused before it: {Refused})")]
    public static partial void ReceivePathChosen(ILogger logger, string path, string mode, string @interface, string refused);
}
