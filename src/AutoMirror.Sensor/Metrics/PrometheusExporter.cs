using System.Globalization;
using System.Text;
using AutoMirror.Sensor.Decap;
using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Metrics;

/// <summary>Prometheus text exposition (version 0.0.4) of the workers' counters, summed at scrape time.</summary>
public sealed class PrometheusExporter(SensorEngine engine, int maxVnis)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public string Render()
    {
        var workers = engine.Workers;
        var outputs = engine.Outputs;
        long datagrams = 0, datagramBytes = 0, frames = 0, frameBytes = 0, allocated = 0, batches = 0, otherFrames = 0, otherBytes = 0;
        var drops = new long[DropReasonNames.Count];
        var decap = new long[DecapErrorNames.Count];
        var written = new long[outputs.Count];
        var failed = new long[outputs.Count];
        var vnis = new Dictionary<uint, (long Frames, long Bytes)>();
        foreach (var worker in workers)
        {
            var c = worker.Counters;
            datagrams += Volatile.Read(ref c.Datagrams);
            datagramBytes += Volatile.Read(ref c.DatagramBytes);
            frames += Volatile.Read(ref c.FramesForwarded);
            frameBytes += Volatile.Read(ref c.FrameBytes);
            allocated += Volatile.Read(ref c.ReceiveAllocatedBytes);
            batches += Volatile.Read(ref c.Batches);
            otherFrames += Volatile.Read(ref c.VniOverflowFrames);
            otherBytes += Volatile.Read(ref c.VniOverflowBytes);
            Add(drops, c.Drops);
            Add(decap, c.DecapErrors);
            Add(written, c.OutputWritten);
            Add(failed, c.OutputFailed);
            c.CopyVnis(vnis);
        }

        var (queuedBytes, queueDrops) = SocketQueues.Read(workers);
        drops[(int)DropReason.ReceiveQueueFull] = queueDrops;
        var sb = new StringBuilder(4096);
        Counter(sb, "automirror_sensor_datagrams_total", "UDP datagrams received.", datagrams);
        Counter(sb, "automirror_sensor_received_bytes_total", "UDP payload bytes received.", datagramBytes);
        Counter(sb, "automirror_sensor_frames_forwarded_total", "Decapsulated frames accepted by every output.", frames);
        Counter(sb, "automirror_sensor_forwarded_bytes_total", "Bytes of forwarded frames.", frameBytes);
        Counter(sb, "automirror_sensor_receive_batches_total", "recvmmsg calls that returned datagrams.", batches);
        Header(sb, "automirror_sensor_drops_total", "counter", "Datagrams not forwarded, by reason.");
        for (int i = 0; i < drops.Length; i++)
        {
            Sample(sb, "automirror_sensor_drops_total", "reason", DropReasonNames.Label((DropReason)i), drops[i]);
        }

        Header(sb, "automirror_sensor_decap_errors_total", "counter", "Datagrams that failed validation, by reason.");
        for (int i = 1; i < decap.Length; i++)
        {
            Sample(sb, "automirror_sensor_decap_errors_total", "reason", DecapErrorNames.Label((DecapError)i), decap[i]);
        }

        Header(sb, "automirror_sensor_output_frames_total", "counter", "Frames written per output.");
        for (int i = 0; i < outputs.Count; i++)
        {
            Sample(sb, "automirror_sensor_output_frames_total", "output", outputs[i].Name, written[i]);
        }

        Header(sb, "automirror_sensor_output_errors_total", "counter", "Frames an output refused.");
        for (int i = 0; i < outputs.Count; i++)
        {
            Sample(sb, "automirror_sensor_output_errors_total", "output", outputs[i].Name, failed[i]);
        }

        // Bounded cardinality: each worker tracks at most maxVnis VNIs, and only the busiest maxVnis are exported.
        var ranked = vnis.OrderByDescending(kv => kv.Value.Frames).ToList();
        foreach (var extra in ranked.Skip(maxVnis))
        {
            otherFrames += extra.Value.Frames;
            otherBytes += extra.Value.Bytes;
        }

        Header(sb, "automirror_sensor_vni_frames_total", "counter", "Forwarded frames per VNI (busiest VNIs; the rest under vni=\"other\").");
        foreach (var kv in ranked.Take(maxVnis))
        {
            Sample(sb, "automirror_sensor_vni_frames_total", "vni", kv.Key.ToString(CultureInfo.InvariantCulture), kv.Value.Frames);
        }

        Sample(sb, "automirror_sensor_vni_frames_total", "vni", "other", otherFrames);
        Header(sb, "automirror_sensor_vni_bytes_total", "counter", "Forwarded bytes per VNI.");
        foreach (var kv in ranked.Take(maxVnis))
        {
            Sample(sb, "automirror_sensor_vni_bytes_total", "vni", kv.Key.ToString(CultureInfo.InvariantCulture), kv.Value.Bytes);
        }

        Sample(sb, "automirror_sensor_vni_bytes_total", "vni", "other", otherBytes);

        // Per worker: shows how the SO_REUSEPORT steering spreads the load (bounded by the worker count).
        Header(sb, "automirror_sensor_worker_frames_forwarded_total", "counter", "Forwarded frames per receive worker.");
        foreach (var worker in workers)
        {
            Sample(sb, "automirror_sensor_worker_frames_forwarded_total", "worker", worker.Label, Volatile.Read(ref worker.Counters.FramesForwarded));
        }

        // An info-style gauge: the label carries the path, so a dashboard can group sensors by it and alert on a fallback.
        Header(sb, "automirror_sensor_receive_path", "gauge", "The receive path the sensor chose at start (packet-ring, af-xdp or sockets): 1 on its label.");
        if (engine.ReceivePath is { } path)
        {
            Sample(sb, "automirror_sensor_receive_path", "path", path, 1);
        }

        Header(sb, "automirror_sensor_af_xdp_queues", "gauge", "Receive queues served by AF_XDP sockets (0: AF_XDP off or unavailable, the UDP sockets receive everything).");
        Sample(sb, "automirror_sensor_af_xdp_queues", null, null, engine.XdpQueues);
        if (engine.XdpQueues > 0)
        {
            ulong dropped = 0, ringFull = 0, fillEmpty = 0;
            foreach (var worker in workers)
            {
                if (worker is XdpReceiveWorker xdp)
                {
                    var s = xdp.Statistics;
                    dropped += s.RxDropped;
                    ringFull += s.RxRingFull;
                    fillEmpty += s.RxFillRingEmpty;
                }
            }

            // The detail behind receive_queue_full on the AF_XDP path (the kernel's XDP_STATISTICS).
            Header(sb, "automirror_sensor_af_xdp_kernel_total", "counter", "AF_XDP sockets' kernel counters: rx_ring_full and dropped are lost datagrams; fill_ring_empty counts times no free frame was there.");
            Sample(sb, "automirror_sensor_af_xdp_kernel_total", "counter", "rx_ring_full", (long)ringFull);
            Sample(sb, "automirror_sensor_af_xdp_kernel_total", "counter", "dropped", (long)dropped);
            Sample(sb, "automirror_sensor_af_xdp_kernel_total", "counter", "fill_ring_empty", (long)fillEmpty);
        }

        Header(sb, "automirror_sensor_packet_ring_workers", "gauge", "Receive threads on the packet ring (0: the packet ring off or unavailable, the UDP sockets receive everything).");
        Sample(sb, "automirror_sensor_packet_ring_workers", null, null, engine.PacketRingWorkers);
        if (engine.PacketRingWorkers > 0)
        {
            long dropped = 0, frozen = 0;
            foreach (var worker in workers)
            {
                if (worker is PacketRingReceiveWorker ring)
                {
                    var s = ring.Statistics;
                    dropped += s.Dropped;
                    frozen += s.Frozen;
                }
            }

            // The detail behind receive_queue_full on the packet-ring path (the kernel's PACKET_STATISTICS).
            Header(sb, "automirror_sensor_packet_ring_kernel_total", "counter", "Packet ring's kernel counters: dropped are lost datagrams (no room in the ring); frozen counts times the ring was full.");
            Sample(sb, "automirror_sensor_packet_ring_kernel_total", "counter", "dropped", dropped);
            Sample(sb, "automirror_sensor_packet_ring_kernel_total", "counter", "frozen", frozen);
        }

        Header(sb, "automirror_sensor_receive_queue_bytes", "gauge", "Bytes waiting in the receive sockets' queues (the sensor's only queue).");
        Sample(sb, "automirror_sensor_receive_queue_bytes", null, null, queuedBytes);
        Counter(sb, "automirror_sensor_receive_allocated_bytes_total", "Managed bytes allocated by the receive threads since start (hot path; should stay flat).", allocated);
        Counter(sb, "automirror_sensor_allocated_bytes_total", "Managed bytes allocated by the whole process.", GC.GetTotalAllocatedBytes(false));
        return sb.ToString();
    }

    private static void Add(long[] into, long[] from)
    {
        for (int i = 0; i < into.Length; i++)
        {
            into[i] += Volatile.Read(ref from[i]);
        }
    }

    private static void Counter(StringBuilder sb, string name, string help, long value)
    {
        Header(sb, name, "counter", help);
        Sample(sb, name, null, null, value);
    }

    private static void Header(StringBuilder sb, string name, string type, string help)
        => sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
             .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder sb, string name, string? label, string? value, long number)
    {
        sb.Append(name);
        if (label is not null)
        {
            sb.Append('{').Append(label).Append("=\"").Append(value).Append("\"}");
        }

        sb.Append(' ').Append(number.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
