#!/usr/bin/env bash
# End-to-end run of the sensor in network namespaces; the assertions live in the C# test
# (tests/AutoMirror.Sensor.Tests/Integration/EndToEndTests.cs), which reads what this leaves in WORKDIR.
#
#   client ns (10.77.1.1) ──veth── server ns (10.77.1.2)      HTTP + DNS, captured on the client: original.pcap
#   client ns (10.77.2.1) ──veth── sensor ns (10.77.2.2)      original frames wrapped in VXLAN as AWS does
#                                  sensor → TAP → tcpdump (tap.pcap) + Suricata (eve-live/)
#   Suricata -r original.pcap → eve-offline/ ; health transitions → health.tsv ; metrics → metrics.txt
#
# usage: e2e.sh SENSOR_DLL WORKDIR [SENSOR_FLAG...]   (root; iproute2, tcpdump, tcpreplay, curl, suricata, Debian python3+scapy)
#   extra flags go to the sensor, e.g. --Sensor:Tap:IoUring=false for the write()-per-frame TAP path.
set -euo pipefail
sensor_dll=$1
work=$2
shift 2
extra_flags=("$@")
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
id=$(printf '%04x' $(( ($$ + RANDOM) % 65536 )))
C="amc$id"; S="ams$id"; X="amx$id"; tap="amtap$id"
vni=4242
health_port=18080
pids=()

log() { echo "e2e: $*" >&2; }
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "$C" "$S" "$X"; do ip netns del "$ns" 2>/dev/null || true; done
    exit $rc
}
trap cleanup EXIT INT TERM

wait_for() { # seconds description command...
    local limit=$1 what=$2; shift 2
    local deadline=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out waiting for $what"; return 1; fi
        sleep 0.2
    done
}
health() { ip netns exec "$X" curl -s -o "$work/health.body" -w '%{http_code}' "127.0.0.1:$health_port/health" || true; }
health_is() { [ "$(health)" = "$1" ]; }
record_health() { # phase
    local code; code=$(health)
    printf '%s\t%s\t%s\n' "$1" "$code" "$(tr '\n\t' '  ' < "$work/health.body" 2>/dev/null)" >> "$work/health.tsv"
}
metric() { ip netns exec "$X" curl -s "127.0.0.1:$health_port/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
start_suricata() { # logdir
    mkdir -p "$1"
    ip netns exec "$X" suricata -k none -S /dev/null --set unix-command.enabled=no --af-packet="$tap" -l "$1" > "$1/stdout.log" 2>&1 &
    suricata_pid=$!
    pids+=("$suricata_pid")
    wait_for 90 "suricata engine start" grep -q "Engine started" "$1/suricata.log"
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

: > "$work/health.tsv"
log "namespaces $C $S $X, tap $tap"
for ns in "$C" "$S" "$X"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns "$C" type veth peer name s0 netns "$S"
ip link add c1 netns "$C" type veth peer name x0 netns "$X"
ip -n "$C" addr add 10.77.1.1/24 dev c0; ip -n "$S" addr add 10.77.1.2/24 dev s0
ip -n "$C" addr add 10.77.2.1/24 dev c1; ip -n "$X" addr add 10.77.2.2/24 dev x0
# Jumbo mirror link, as on AWS (NLB carries up to 8500-byte mirrored packets): the captured originals
# include GSO frames larger than 1500 bytes.
ip -n "$C" link set c1 mtu 9000; ip -n "$X" link set x0 mtu 9000
for pair in "$C c0" "$S s0" "$C c1" "$X x0"; do set -- $pair; ip -n "$1" link set "$2" up; done
# IPv6 on the client-server link too, so the capture holds every layer the dissector tests check
# (DissectorAgreementTests): IPv4/IPv6, TCP/UDP/ICMP/ICMPv6, IP fragments, and 802.1Q (below).
ip -n "$C" addr add fd77:1::1/64 dev c0 nodad; ip -n "$S" addr add fd77:1::2/64 dev s0 nodad
# The outer source is the mirrored interface's address (10.77.1.1), reached through the mirror link.
ip -n "$X" route add 10.77.1.0/24 via 10.77.2.1

log "starting sensor"
ip netns exec "$X" dotnet "$sensor_dll" --tap "$tap" --health-port "$health_port" \
    --source-networks 10.77.1.0/24 --downstream-process Suricata-Main \
    --Sensor:Tap:Persist=false --Sensor:Pcap:Enabled=true --Sensor:Pcap:Directory="$work/sensor-pcap" \
    --workers 2 --Sensor:GeneveEnabled=true --Sensor:StatsLogSeconds=5 "${extra_flags[@]}" > "$work/sensor.log" 2>&1 &
sensor_pid=$!
pids+=("$sensor_pid")
wait_for 60 "sensor health endpoint" sh -c "[ \"\$(ip netns exec $X curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$health_port/health)\" != 000 ]"
record_health "before-downstream"

ip netns exec "$X" tcpdump -i "$tap" -U -s 0 -w "$work/tap.pcap" 2> "$work/tcpdump-tap.log" &
tcpdump_tap=$!
pids+=("$tcpdump_tap")
wait_for 10 "tcpdump on tap" grep -q "listening on" "$work/tcpdump-tap.log"

log "starting suricata on $tap"
start_suricata "$work/eve-live"
wait_for 10 "health 200" health_is 200
record_health "downstream-up"

log "generating HTTP and DNS between $C and $S"
ip netns exec "$C" tcpdump -i c0 -U -s 0 -w "$work/original.pcap" 2> "$work/tcpdump-orig.log" &
tcpdump_orig=$!
pids+=("$tcpdump_orig")
wait_for 10 "tcpdump on c0" grep -q "listening on" "$work/tcpdump-orig.log"
ip netns exec "$S" /usr/bin/python3 -m http.server 8080 --bind 10.77.1.2 --directory "$here" > /dev/null 2>&1 &
pids+=($!)
ip netns exec "$S" /usr/bin/python3 "$here/traffic.py" dns-server 10.77.1.2 &
pids+=($!)
wait_for 10 "http server" ip netns exec "$C" curl -s -o /dev/null 10.77.1.2:8080/traffic.py
ip netns exec "$C" curl -s -o /dev/null 10.77.1.2:8080/e2e.sh
ip netns exec "$C" curl -s -o /dev/null -A "automirror-e2e" 10.77.1.2:8080/missing
ip netns exec "$C" /usr/bin/python3 "$here/traffic.py" dns-client 10.77.1.2 lab1.automirror.test zeek.automirror.test www.example.test
ip netns exec "$S" /usr/bin/python3 -m http.server 8080 --bind fd77:1::2 --directory "$here" > /dev/null 2>&1 &
pids+=($!)
ip netns exec "$S" /usr/bin/python3 "$here/traffic.py" dns-server fd77:1::2 &
pids+=($!)
wait_for 10 "http server (IPv6)" ip netns exec "$C" curl -g -s -o /dev/null "http://[fd77:1::2]:8080/vxlan_wrap.py"
ip netns exec "$C" /usr/bin/python3 "$here/traffic.py" dns-client fd77:1::2 v6.automirror.test
# Echo requests of 3000 bytes over a 1500-byte link: request and reply travel as fragments.
for target in 10.77.1.2 fd77:1::2; do
    for size in 56 3000; do ip netns exec "$C" /usr/bin/python3 "$here/traffic.py" ping "$target" "$size"; done
done
# This kernel may have no 8021q module (no VLAN devices): the client's packet socket sends the tagged frames.
ip netns exec "$C" /usr/bin/python3 "$here/traffic.py" vlan c0 "$(ip -n "$S" -br link show s0 | awk '{print $3}')" 100
sleep 1
stop_pid "$tcpdump_orig"

log "wrapping in VXLAN and sending to the sensor"
src_mac=$(ip -n "$C" -br link show c1 | awk '{print $3}')
dst_mac=$(ip -n "$X" -br link show x0 | awk '{print $3}')
read -r originals foreign garbage < <(/usr/bin/python3 "$here/vxlan_wrap.py" "$work/original.pcap" "$work/wrapped.pcap" \
    --vni "$vni" --src 10.77.1.1 --dst 10.77.2.2 --src-mac "$src_mac" --dst-mac "$dst_mac" \
    --foreign-src 10.77.2.1 --foreign 5 --garbage 7)
printf 'originals=%s\nforeign=%s\ngarbage=%s\nvni=%s\n' "$originals" "$foreign" "$garbage" "$vni" > "$work/sent.txt"
ip netns exec "$C" tcpreplay -q -i c1 --pps 500 "$work/wrapped.pcap" > "$work/tcpreplay.log" 2>&1
total=$((originals + foreign + garbage))
wait_for 20 "sensor to count $total datagrams" sh -c "[ \"\$(ip netns exec $X curl -s 127.0.0.1:$health_port/metrics | awk '\$1==\"automirror_sensor_datagrams_total\"{print \$2}')\" = $total ]"
sleep 2   # let Suricata and tcpdump take the last frames off the TAP
ip netns exec "$X" curl -s "127.0.0.1:$health_port/metrics" > "$work/metrics.txt"

log "stopping suricata: health must turn 503, then 200 when it is back"
stop_pid "$suricata_pid"
wait_for 10 "health 503" health_is 503
record_health "downstream-stopped"
start_suricata "$work/eve-live2"
wait_for 10 "health 200 again" health_is 200
record_health "downstream-restarted"

log "taking the TAP down: health must turn 503, then 200 when it is up"
ip -n "$X" link set "$tap" down
wait_for 10 "health 503 (tap down)" health_is 503
record_health "tap-down"
ip -n "$X" link set "$tap" up
wait_for 10 "health 200 (tap up)" health_is 200
record_health "tap-up"
stop_pid "$suricata_pid"
stop_pid "$tcpdump_tap"

log "the same frames through GENEVE (as a GWLB endpoint target receives them)"
ip netns exec "$X" tcpdump -i "$tap" -U -s 0 -w "$work/tap-geneve.pcap" 2> "$work/tcpdump-tap-geneve.log" &
tcpdump_tap=$!
pids+=("$tcpdump_tap")
wait_for 10 "tcpdump on tap (geneve)" grep -q "listening on" "$work/tcpdump-tap-geneve.log"
/usr/bin/python3 "$here/vxlan_wrap.py" "$work/original.pcap" "$work/wrapped-geneve.pcap" \
    --vni "$vni" --src 10.77.1.1 --dst 10.77.2.2 --src-mac "$src_mac" --dst-mac "$dst_mac" --geneve-from 10.77.1.254 > /dev/null
ip netns exec "$C" tcpreplay -q -i c1 --pps 500 "$work/wrapped-geneve.pcap" > "$work/tcpreplay-geneve.log" 2>&1
total=$((total + originals))
wait_for 20 "sensor to count $total datagrams" sh -c "[ \"\$(ip netns exec $X curl -s 127.0.0.1:$health_port/metrics | awk '\$1==\"automirror_sensor_datagrams_total\"{print \$2}')\" = $total ]"
sleep 1
ip netns exec "$X" curl -s "127.0.0.1:$health_port/metrics" > "$work/metrics-geneve.txt"
stop_pid "$tcpdump_tap"
# The mirror interface's XDP attachment while the sensor runs and after it stopped (AF_XDP runs attach one).
ip -d -n "$X" link show x0 > "$work/x0-running.txt"
log "stopping sensor"
kill -TERM "$sensor_pid"
sensor_exit=0
wait "$sensor_pid" || sensor_exit=$?
echo "$sensor_exit" > "$work/sensor-exit.txt"
ip -d -n "$X" link show x0 > "$work/x0-after-stop.txt"
if ip -n "$X" link show "$tap" > /dev/null 2>&1; then echo "present" > "$work/tap-after-stop.txt"; else echo "absent" > "$work/tap-after-stop.txt"; fi

log "suricata reading the original capture"
mkdir -p "$work/eve-offline"
suricata -k none -S /dev/null --set unix-command.enabled=no -r "$work/original.pcap" -l "$work/eve-offline" > "$work/eve-offline/stdout.log" 2>&1
log "done"
