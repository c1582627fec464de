#!/usr/bin/env bash
# Sensor vs. the Linux kernel's own VXLAN device, same machine, same generator, same offered loads.
#
#   gen ns ──veth (mtu 9000)──▶ sink ns:  (a) automirror sensor: UDP 4789 → decap → TAP
#                                         (b) kernel:  ip link add vx0 type vxlan id VNI dstport 4789
#
# The generator is tcpreplay replaying a scapy-made pcap of AWS-shaped VXLAN datagrams (64 host pairs,
# hashed outer source ports, UDP checksum 0 as the kernel VXLAN device sends by default) at each offered load (--pps, then --topspeed = "max"), for 64- and
# 1400-byte inner frames. Delivered = frames that came out of the decapsulation: rx_packets of the
# TAP for the sensor, of vx0 for the kernel. Loss = 1 - delivered/sent. The sensor's managed
# allocation per packet is read from its own /metrics (receive threads' allocated bytes over
# forwarded frames, after warm-up). Last line:
#   sensor_over_kernel_pps=<ratio at max load, worst frame size> loss_at_max=<sensor %, worst> alloc_bytes_per_packet=<n>
#
# The machine is shared (builds of other projects run beside it), so the generator and the sensor run
# at nice -10 in both configurations (the kernel's decapsulation runs in the generator's softirq
# context and gets the same priority), and the max load is measured BENCH_REPEATS times per target,
# keeping the best run of each: noise only ever lowers a rate.
#
# Env: BENCH_SECONDS (per load, default 2), BENCH_LOADS (default "50000 200000 max"),
#      BENCH_WORKERS (sensor receive workers, default 1: the generator needs the other core of a 2-core box),
#      BENCH_REPEATS (default 3).
# Needs root, iproute2, tcpreplay, curl, dotnet, Debian python3 with scapy. Bounded: well under 2 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${BENCH_SECONDS:-2}
loads=${BENCH_LOADS:-"50000 200000 max"}
workers=${BENCH_WORKERS:-1}
repeats=${BENCH_REPEATS:-3}
vni=4242
id=$(printf '%04x' $(( ($$ + RANDOM) % 65536 )))
G="ambg$id"; K="ambk$id"; tap="ambtap$id"
tmp=$(mktemp -d)
sensor_pid=
log() { echo "bench: $*" >&2; }
cleanup() {
    local rc=$?
    if [ -n "$sensor_pid" ]; then kill "$sensor_pid" 2>/dev/null || true; wait "$sensor_pid" 2>/dev/null || true; fi
    ip netns del "$G" 2>/dev/null || true
    ip netns del "$K" 2>/dev/null || true
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT INT TERM

for tool in ip tcpreplay curl dotnet /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool" >&2; exit 1; }
done

log "building the sensor (Release)"
dotnet build "$root/src/AutoMirror.Sensor" -c Release -o "$tmp/sensor" --nologo -v q -clp:NoSummary >/dev/null

ip netns add "$G"; ip netns add "$K"
ip link add g0 netns "$G" type veth peer name k0 netns "$K"
ip -n "$G" addr add 10.88.0.1/24 dev g0; ip -n "$K" addr add 10.88.0.2/24 dev k0
for ns in "$G" "$K"; do ip -n "$ns" link set lo up; done
ip -n "$G" link set g0 mtu 9000 up; ip -n "$K" link set k0 mtu 9000 up
src_mac=$(ip -n "$G" -br link show g0 | awk '{print $3}')
dst_mac=$(ip -n "$K" -br link show k0 | awk '{print $3}')

for size in 64 1400; do
    /usr/bin/python3 "$here/make_traffic.py" "$tmp/vxlan-$size.pcap" "$size" 512 "$src_mac" "$dst_mac" 10.88.0.1 10.88.0.2 "$vni"
done

rx() { ip netns exec "$K" cat "/sys/class/net/$1/statistics/rx_packets"; }
metric() { ip netns exec "$K" curl -s http://127.0.0.1:18081/metrics | awk -v k="$1" '$1 == k { print $2 }'; }

# Replays at a load for $seconds; prints "sent elapsed".
replay() { # pcap load
    local rate=(--topspeed)
    [ "$2" != max ] && rate=(--pps="$2")
    ip netns exec "$G" nice -n -10 tcpreplay -q -K -i g0 --loop=100000 --duration="$seconds" "${rate[@]}" "$1" 2>&1 |
        awk '/^Actual:/ { sent=$2; for (i = 1; i <= NF; i++) if ($i == "in") t=$(i+1) } END { print sent, t }'
}

start_kernel() {
    ip -n "$K" link add vx0 type vxlan id "$vni" dstport 4789 local 10.88.0.2 nolearning
    ip -n "$K" link set vx0 mtu 9000 up
}
stop_kernel() { ip -n "$K" link del vx0; }
start_sensor() {
    ip netns exec "$K" nice -n -10 "$tmp/sensor/AutoMirror.Sensor" --tap "$tap" --health-port 18081 --source-networks 10.88.0.0/16 \
        --workers "$workers" --Sensor:Tap:Persist=false --Sensor:StatsLogSeconds=3600 > "$tmp/sensor.log" 2>&1 &
    sensor_pid=$!
    for _ in $(seq 100); do
        [ "$(ip netns exec "$K" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18081/health)" = 200 ] && return 0
        sleep 0.1
    done
    cat "$tmp/sensor.log" >&2; return 1
}
stop_sensor() { kill -TERM "$sensor_pid"; wait "$sensor_pid" || true; sensor_pid=; }

declare -A pps loss
alloc_bytes=0; alloc_frames=0
printf '%-6s %-8s %-9s %12s %12s %12s %8s\n' size target offered sent delivered delivered_pps loss_% | tee "$tmp/table" >&2
for size in 64 1400; do
    pcap="$tmp/vxlan-$size.pcap"
    for target in kernel sensor; do
        if [ "$target" = kernel ]; then start_kernel; dev=vx0; else start_sensor; dev=$tap; fi
        # Warm-up (JIT tiering for the sensor, caches for both); not measured.
        replay "$pcap" 100000 > /dev/null
        sleep 0.3
        if [ "$target" = sensor ]; then
            a0=$(metric automirror_sensor_receive_allocated_bytes_total); f0=$(metric automirror_sensor_frames_forwarded_total)
            rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$sensor_pid/status")
        fi
        for load in $loads; do
            runs=1
            [ "$load" = max ] && runs=$repeats
            best=-1
            for _ in $(seq "$runs"); do
                before=$(rx "$dev")
                read -r sent elapsed < <(replay "$pcap" "$load")
                sleep 0.5 # let queues drain: what is delivered late still counts
                delivered=$(( $(rx "$dev") - before ))
                rate=$(awk -v d="$delivered" -v t="$elapsed" 'BEGIN { printf "%.0f", d / t }')
                lost=$(awk -v d="$delivered" -v s="$sent" 'BEGIN { l = (s - d) * 100 / s; if (l < 0) l = 0; printf "%.2f", l }')
                if [ "$rate" -gt "$best" ]; then
                    best=$rate
                    pps[$size,$target,$load]=$rate; loss[$size,$target,$load]=$lost
                    row=$(printf '%-6s %-8s %-9s %12s %12s %12s %8s' "$size" "$target" "$load" "$sent" "$delivered" "$rate" "$lost")
                fi
            done
            echo "$row" | tee -a "$tmp/table" >&2
        done
        if [ "$target" = sensor ]; then
            alloc_bytes=$(( alloc_bytes + $(metric automirror_sensor_receive_allocated_bytes_total) - a0 ))
            alloc_frames=$(( alloc_frames + $(metric automirror_sensor_frames_forwarded_total) - f0 ))
            drops=$(metric 'automirror_sensor_drops_total{reason="receive_queue_full"}')
            rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$sensor_pid/status")
            log "sensor ${size}B: receive_queue_full drops ${drops}; resident memory ${rss0} kB before the loads, ${rss1} kB after (overload must not grow it)"
            stop_sensor
        else
            stop_kernel
        fi
    done
done

max=${loads##* }
ratio=$(for size in 64 1400; do awk -v s="${pps[$size,sensor,$max]}" -v k="${pps[$size,kernel,$max]}" 'BEGIN { printf "%.3f\n", (k > 0 ? s / k : 0) }'; done | sort -g | head -1)
worst_loss=$(for size in 64 1400; do echo "${loss[$size,sensor,$max]}"; done | sort -g | tail -1)
per_packet=$(awk -v b="$alloc_bytes" -v f="$alloc_frames" 'BEGIN { printf "%.2f", (f > 0 ? b / f : 0) }')
for size in 64 1400; do
    echo "ratio ${size}B at $max: sensor ${pps[$size,sensor,$max]} pps / kernel ${pps[$size,kernel,$max]} pps" >&2
done
echo "sensor allocation: $alloc_bytes bytes over $alloc_frames forwarded frames" >&2
cat "$tmp/table"
echo "sensor_over_kernel_pps=$ratio loss_at_max=$worst_loss alloc_bytes_per_packet=$per_packet"
