using System.Buffers.Binary;
using System.Runtime.InteropServices;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Forwarding;
using AutoMirror.Sensor.Interop;

namespace AutoMirror.Sensor.Receive;

/// <summary>
/// A receive worker that takes whole Ethernet frames off the interface (AF_XDP, the packet ring)
/// rather than UDP payloads from a socket: it does what the kernel's IP and UDP layers would have
/// done before a socket got the datagram (<see cref="OuterFrame"/>, the size limit, the sender's
/// address for the source filter), tells the forwarder which port it was, and forwards it.
/// </summary>
public abstract unsafe class FrameReceiveWorker : ReceiveWorker
{
    private readonly int _genevePort;
    private readonly int _maxDatagramBytes;
    private readonly byte* _sockaddr;

    /// <param name="genevePort">Datagrams to this UDP port are GENEVE, the rest VXLAN (the kernel-side filter passes no other port); null: GENEVE off.</param>
    /// <param name="maxDatagramBytes">Sensor:MaxDatagramBytes: a larger UDP payload is counted oversized, as the socket path's receive buffer would.</param>
    protected FrameReceiveWorker(string label, FrameForwarder forwarder, int batchSize, int coalesceMicroseconds, int? genevePort, int maxDatagramBytes)
        : base(label, forwarder, batchSize, coalesceMicroseconds)
    {
        _genevePort = genevePort ?? -1;
        _maxDatagramBytes = maxDatagramBytes;
        // The source filter takes a sockaddr, as recvmmsg fills it: one sockaddr_in, rewritten per datagram.
        _sockaddr = (byte*)NativeMemory.AllocZeroed(16);
        *(ushort*)_sockaddr = LibC.AF_INET;
    }

    /// <summary>Checks the outer headers of one frame and forwards (or counts) its datagram.</summary>
    /// <param name="udpChecksumSettled">The kernel said the UDP checksum needs no check (see <see cref="OuterFrame.Parse"/>).</param>
    protected void ForwardFrame(Span<byte> frame, long unixTimeNanoseconds, bool udpChecksumSettled = false)
    {
        var error = OuterFrame.Parse(frame, out var payload, out uint sourceAddress, udpChecksumSettled);
        if (error != DecapError.None)
        {
            Forwarder.CountRejected(error, frame.Length);
            return;
        }

        if (payload.End.Value - payload.Start.Value > _maxDatagramBytes)
        {
            Forwarder.CountRejected(DecapError.Oversized, frame.Length);
            return;
        }

        *(uint*)(_sockaddr + 4) = BinaryPrimitives.ReverseEndianness(sourceAddress);
        var encapsulation = BinaryPrimitives.ReadUInt16BigEndian(frame[36..]) == _genevePort ? Encapsulation.Geneve : Encapsulation.Vxlan;
        Forwarder.Process(frame[payload], new ReadOnlySpan<byte>(_sockaddr, 16), truncated: false, unixTimeNanoseconds, encapsulation);
    }

    protected override void FreeNative() => NativeMemory.Free(_sockaddr);
}
