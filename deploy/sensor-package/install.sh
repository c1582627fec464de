#!/usr/bin/env bash
# Installs the AutoMirror sensor and its analysers (Zeek, Suricata, or both) on a sensor instance (Ubuntu 24.04). The
# sensor's user data (template.yaml) unzips the package built by deploy/sensor-package/Makefile and runs this script
# from it as root.
#
#   install.sh --health-port PORT [--analyzers zeek|suricata|zeek,suricata] [--zeek-repository URL]
#              [--source-networks CIDRS] [--tap NAME] [--receive auto|sockets|af-xdp|packet-ring]
#              [--mirror-interface NAME] [--geneve] [--root DIR] [--dry-run]
# --geneve: also receive GENEVE on UDP 6081 (TargetKind=gwlbe: a Gateway Load Balancer delivers it).
#
# --analyzers (default zeek): the analysers that sniff the sensor's TAP, each of which sees every frame (Traffic
# Mirroring copies a packet to one target only, so the sensor is the one place where several can). Each is installed,
# configured on the TAP and enabled, and the sensor's health names each one's process: healthy only while all run.
# --zeek-repository is needed when Zeek is one of them.
#
# --receive auto (the default): the sensor picks at each start the fastest path the kernel, driver and its
# capabilities allow (packet ring, AF_XDP, sockets; /health says which) on the mirror interface (default: the
# one the default route leaves by, i.e. the ENI the NLB sends to, found by the sensor itself at start); its unit
# gets both drop-ins below, so either fast path can be tried.
# --receive af-xdp: the sensor receives through AF_XDP on the mirror interface (default: the default route's,
# found here); its unit gets the drop-in af-xdp.conf with the capabilities.
# --receive packet-ring: the same for the sensor's TPACKET_V3 ring (drop-in packet-ring.conf).
# --receive sockets: the UDP sockets only, no drop-in. Each run leaves only its own mode's settings and
# drop-ins: switching modes removes the others'.
#
# The package carries the sensor's own deploy folder (src/AutoMirror.Sensor/deploy, as sensor-deploy/): its systemd
# unit, the sensor.env it reads, and Zeek's node.cfg and local.zeek additions. This script follows them:
#   1. the sensor build goes where the unit's ExecStart expects it; this stack's settings go to the unit's
#      EnvironmentFile (/etc/automirror/sensor.env), which overrides the unit's defaults;
#   2. Zeek comes from Zeek's package repository (apt, verified with the repository's Release.key, which is fetched
#      over https even when apt reads the repository over http); the sensor's
#      node.cfg, pointed at this deployment's TAP, and its local.zeek additions are installed;
#      Suricata comes from Ubuntu's own archive; the sensor's drop-in for its unit (suricata/automirror.conf) points
#      its af-packet capture at this deployment's TAP; eve.json stays where Ubuntu's suricata.yaml puts it;
#   3. the sensor starts first (it creates the TAP), then each analyser; `zeekctl cron` keeps Zeek running, systemd
#      (Restart=on-failure) Suricata.
# --root writes every file under DIR and --dry-run prints the commands instead of running them, so the installer
# can be checked off the instance.
set -euo pipefail

health_port=""
analyzers="zeek"
zeek_repository=""
source_networks=""
tap="automirror0"
receive="auto"
mirror_interface=""
geneve=0
root=""
dry_run=0

die() { echo "install.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --health-port) health_port="${2:-}"; shift 2 ;;
    --analyzers) analyzers="${2:-}"; shift 2 ;;
    --zeek-repository) zeek_repository="${2:-}"; shift 2 ;;
    --source-networks) source_networks="${2:-}"; shift 2 ;;
    --tap) tap="${2:-}"; shift 2 ;;
    --receive) receive="${2:-}"; shift 2 ;;
    --mirror-interface) mirror_interface="${2:-}"; shift 2 ;;
    --geneve) geneve=1; shift ;;
    --root) root="${2:-}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    *) die "unknown argument '$1'" ;;
  esac
done

[[ "$health_port" =~ ^[0-9]+$ ]] && (( health_port >= 1 && health_port <= 65535 )) \
  || die "--health-port must be a TCP port (1-65535), got '$health_port'"
# Per analyser: its apt package and the name of its process as /proc/PID/comm shows it, which the sensor's health
# checks (Suricata renames its main thread). How to add another: the sensor README's "How to add another analyser".
declare -A analyser_package=([zeek]=zeek [suricata]=suricata)
declare -A analyser_process=([zeek]=zeek [suricata]=Suricata-Main)
chosen=()
IFS=, read -r -a requested <<< "$analyzers"
for analyser in "${requested[@]}"; do
  [[ -n "$analyser" && -n "${analyser_package[$analyser]:-}" ]] \
    || die "--analyzers must be zeek, suricata or zeek,suricata, got '$analyzers'"
  [[ " ${chosen[*]} " != *" $analyser "* ]] || die "--analyzers names $analyser twice in '$analyzers'"
  chosen+=("$analyser")
done
(( ${#chosen[@]} > 0 )) || die "--analyzers must be zeek, suricata or zeek,suricata, got '$analyzers'"
wants() { [[ " ${chosen[*]} " == *" $1 "* ]]; }
if wants zeek; then
  # http is allowed because apt refuses an https URL that redirects to http (download.opensuse.org does) and checks
  # every package against the key named by signed-by anyway.
  [[ "$zeek_repository" =~ ^https?:/{2}[^[:space:]]+/$ ]] \
    || die "--zeek-repository must be the http(s) URL of Zeek's apt repository folder, ending in /, got '$zeek_repository'"
fi
[[ "$tap" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "--tap must be an interface name (at most 15 characters), got '$tap'"
[[ -z "$source_networks" || "$source_networks" =~ ^[0-9A-Fa-f:./,]+$ ]] \
  || die "--source-networks must be comma-separated CIDRs, got '$source_networks'"
# Per receive mode: the sensor's setting naming the mirror interface, and the unit's drop-ins (the capabilities of
# the paths the mode may run). auto tries both fast paths, so it needs both drop-ins; its interface, when not
# given, the sensor finds itself at each start (the default route's), so none is written.
case "$receive" in
  auto) receive_setting="Sensor__ReceiveInterface"; mode_dropins=(af-xdp.conf packet-ring.conf) ;;
  sockets) receive_setting=""; mode_dropins=() ;;
  af-xdp) receive_setting="Sensor__AfXdp__Interface"; mode_dropins=(af-xdp.conf) ;;
  packet-ring) receive_setting="Sensor__PacketRing__Interface"; mode_dropins=(packet-ring.conf) ;;
  *) die "--receive must be auto, sockets, af-xdp or packet-ring, got '$receive'" ;;
esac
receive_dropins=(af-xdp.conf packet-ring.conf)
if [[ "$receive" != auto && -n "$receive_setting" && -z "$mirror_interface" ]]; then
  # The ENI the NLB sends to is the one the default route leaves by.
  mirror_interface="$(ip -o -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')"
  [[ -n "$mirror_interface" ]] || die "--receive $receive: no default route to find the mirror interface by; give --mirror-interface"
fi
[[ -z "$mirror_interface" || "$mirror_interface" =~ ^[A-Za-z0-9_.@-]{1,15}$ ]] \
  || die "--mirror-interface must be an interface name (at most 15 characters), got '$mirror_interface'"

package="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shipped="$package/sensor-deploy"
[[ -x "$package/sensor/AutoMirror.Sensor" ]] || die "the sensor build is missing from $package/sensor"
shopt -s nullglob
units=("$shipped"/*.service)
shopt -u nullglob
[[ ${#units[@]} -ge 1 ]] || die "the sensor's systemd unit is missing from $shipped"
if wants zeek; then
  [[ -f "$shipped/zeek/node.cfg" ]] || die "the Zeek node.cfg is missing from $shipped/zeek"
fi
if wants suricata; then
  [[ -f "$shipped/suricata/automirror.conf" ]] || die "Suricata's unit drop-in automirror.conf is missing from $shipped/suricata"
fi
for dropin in "${mode_dropins[@]}"; do
  [[ -f "$shipped/$dropin" ]] || die "--receive $receive: the unit's drop-in $dropin is missing from $shipped"
done

run() {
  if (( dry_run )); then
    printf 'would run:'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# The sensor unit is the one whose ExecStart runs the sensor binary; where it runs it from is where it goes.
sensor_unit=""
exec_start=""
for unit in "${units[@]}"; do
  line="$(grep -E '^ExecStart=.*/AutoMirror\.Sensor([[:space:]]|$)' "$unit" || true)"
  if [[ -n "$line" ]]; then
    sensor_unit="$(basename "$unit")"
    exec_start="${line#ExecStart=}"
    exec_start="${exec_start%% *}"
  fi
done
[[ -n "$sensor_unit" ]] || die "no unit in $shipped starts AutoMirror.Sensor"
install_dir="$(dirname "$exec_start")"
[[ "$install_dir" == /* && "$install_dir" != "/" ]] || die "$sensor_unit runs the sensor from '$install_dir', not an absolute folder"
environment_file="$(sed -nE 's/^EnvironmentFile=-?//p' "$shipped/$sensor_unit" | head -n 1)"
[[ "$environment_file" == /* ]] || die "$sensor_unit names no EnvironmentFile for this deployment's settings"

# 1. The sensor.
mkdir -p "$root$(dirname "$install_dir")"
rm -rf "$root$install_dir"
cp -R "$package/sensor" "$root$install_dir"
mkdir -p "$root/etc/systemd/system" "$root$(dirname "$environment_file")"
for unit in "${units[@]}"; do
  install -m 0644 "$unit" "$root/etc/systemd/system/$(basename "$unit")"
done
{
  echo "# Written by AutoMirror's installer from the stack's parameters; overrides the unit's defaults."
  echo "Sensor__Health__Port=$health_port"
  echo "Sensor__Tap__Name=$tap"
  # Healthy only while every analyser runs: the NLB then sends traffic only to sensors whose analysers all see it.
  processes=()
  for analyser in "${chosen[@]}"; do processes+=("${analyser_process[$analyser]}"); done
  echo "Sensor__Health__DownstreamProcess=$(IFS=,; echo "${processes[*]}")"
  if [[ -n "$source_networks" ]]; then echo "Sensor__SourceNetworks=$source_networks"; fi
  # The sensor's default is auto; the mode is written whatever it is, so the file says what runs.
  echo "Sensor__Receive=$receive"
  # TargetKind=gwlbe: a Gateway Load Balancer delivers GENEVE (UDP 6081).
  if (( geneve )); then echo "Sensor__GeneveEnabled=true"; fi
  if [[ -n "$receive_setting" && -n "$mirror_interface" ]]; then echo "$receive_setting=$mirror_interface"; fi
} > "$root$environment_file"
# AF_XDP and the packet ring need more than the unit's CAP_NET_ADMIN: the sensor's own drop-in for each path says
# what, and only the mode's are installed (the others' rights would be granted for nothing). systemd merges the
# lists of several drop-ins, so auto's service holds the rights of both paths.
dropin_dir="$root/etc/systemd/system/$sensor_unit.d"
for dropin in "${receive_dropins[@]}"; do
  if [[ " ${mode_dropins[*]} " == *" $dropin "* ]]; then
    mkdir -p "$dropin_dir"
    install -m 0644 "$shipped/$dropin" "$dropin_dir/$dropin"
  else
    rm -f "$dropin_dir/$dropin"
  fi
done

# 2. The analysers' packages, in one apt transaction. Zeek's repository is added first: its key is what apt trusts, so
# it is asked for over https (curl follows the server's redirects to a mirror); apt then reads the repository at the
# URL as given and checks it with the key. Suricata is in Ubuntu's own archive (universe).
if wants zeek; then
  mkdir -p "$root/usr/share/keyrings" "$root/etc/apt/sources.list.d"
  key_url="https://${zeek_repository#*://}Release.key"
  run curl -fsSL --retry 5 -o "$root/usr/share/keyrings/zeek.key" "$key_url"
  run gpg --batch --yes --dearmor -o "$root/usr/share/keyrings/zeek.gpg" "$root/usr/share/keyrings/zeek.key"
  echo "deb [signed-by=/usr/share/keyrings/zeek.gpg] $zeek_repository /" > "$root/etc/apt/sources.list.d/zeek.list"
fi
packages=()
for analyser in "${chosen[@]}"; do packages+=("${analyser_package[$analyser]}"); done
# At boot cloud-init and unattended-upgrades hold dpkg's lock: wait for it rather than fail.
run env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
run env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${packages[@]}"

if wants zeek; then
  mkdir -p "$root/opt/zeek/etc" "$root/opt/zeek/share/zeek/site"
  # Zeek sniffs the sensor's TAP: the shipped node.cfg's active interface= lines name this deployment's TAP.
  sed -E "s|^([[:space:]]*interface[[:space:]]*=[[:space:]]*)([a-z_]+::)?.*$|\1\2$tap|" "$shipped/zeek/node.cfg" > "$root/opt/zeek/etc/node.cfg"
  grep -qE "^[[:space:]]*interface[[:space:]]*=[[:space:]]*([a-z_]+::)?$tap\$" "$root/opt/zeek/etc/node.cfg" \
    || die "the shipped node.cfg has no active interface= line to point at $tap"
  if [[ -f "$shipped/zeek/local.zeek.example" ]]; then
    local_zeek="$root/opt/zeek/share/zeek/site/local.zeek"
    marker="# --- AutoMirror sensor additions ---"
    if ! grep -qF "$marker" "$local_zeek" 2>/dev/null; then
      { echo "$marker"; cat "$shipped/zeek/local.zeek.example"; } >> "$local_zeek"
    fi
  fi
  # Zeek's documented way of restarting crashed nodes and rotating logs.
  mkdir -p "$root/etc/cron.d"
  echo "*/5 * * * * root /opt/zeek/bin/zeekctl cron" > "$root/etc/cron.d/zeekctl"
fi
if wants suricata; then
  # Suricata's own unit, changed by the sensor's drop-in only in what it sniffs: this deployment's TAP.
  suricata_dropin="$root/etc/systemd/system/suricata.service.d/automirror.conf"
  mkdir -p "$(dirname "$suricata_dropin")"
  sed -E "s|--af-packet=[A-Za-z0-9_.-]+|--af-packet=$tap|" "$shipped/suricata/automirror.conf" > "$suricata_dropin"
  grep -qE "^ExecStart=.*--af-packet=$tap " "$suricata_dropin" \
    || die "the shipped suricata/automirror.conf has no ExecStart with --af-packet= to point at $tap"
fi

# 3. Start: the sensor creates the TAP, the analysers need it to exist.
run systemctl daemon-reload
run systemctl enable --now "$sensor_unit"
if (( ! dry_run )); then
  for _ in $(seq 1 60); do
    [[ -e "/sys/class/net/$tap" ]] && break
    sleep 1
  done
  [[ -e "/sys/class/net/$tap" ]] || die "the sensor did not create $tap within 60 s (journalctl -u $sensor_unit)"
fi
if wants zeek; then
  run /opt/zeek/bin/zeekctl deploy
fi
if wants suricata; then
  # The package's install may have started Suricata on suricata.yaml's interface: restart it on the TAP.
  run systemctl enable suricata.service
  run systemctl restart suricata.service
fi
echo "install.sh: sensor ($sensor_unit, $install_dir) and ${chosen[*]} on $tap installed"
