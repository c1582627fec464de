#!/usr/bin/env bash
# Installs what the sensor's end-to-end tests and bench need beyond the base image: Suricata 7 from
# Debian's bookworm-backports suite (bookworm itself ships 6.x). The backports source is derived from
# the machine's own debian.sources stanza for bookworm (same URIs and keyring), so no mirror host is
# written here and the machine's configured mirror/snapshot is honoured.
# Idempotent: re-running changes nothing once Suricata 7 is present.
set -euo pipefail

SOURCES=/etc/apt/sources.list.d/debian.sources
BACKPORTS=/etc/apt/sources.list.d/automirror-bookworm-backports.sources

have_suricata7() {
    command -v suricata >/dev/null 2>&1 && suricata -V 2>/dev/null | grep -Eq 'version [7-9]\.'
}

need_tools=()
for tool in tcpdump tshark tcpreplay ip curl; do
    command -v "$tool" >/dev/null 2>&1 || need_tools+=("$tool")
done
# The e2e test and the bench craft VXLAN/GENEVE with scapy on Debian's python3.
need_scapy=0
/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || need_scapy=1

if have_suricata7 && [ ${#need_tools[@]} -eq 0 ] && [ $need_scapy -eq 0 ]; then
    echo "prereqs: suricata $(suricata -V 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -1) already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "prereqs: must run as root (apt-get)" >&2
    exit 1
fi

if [ ! -f "$BACKPORTS" ]; then
    if [ ! -f "$SOURCES" ]; then
        echo "prereqs: $SOURCES not found; cannot derive the bookworm-backports source" >&2
        exit 1
    fi
    # Take the URIs and Signed-By of the deb822 stanza whose Suites list contains plain "bookworm".
    derived=$(awk '
        BEGIN { RS=""; FS="\n" }
        {
            uris=""; signed=""; suites=""
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/)      { uris=$i;   sub(/^URIs:[ \t]*/, "", uris) }
                if ($i ~ /^Signed-By:/) { signed=$i; sub(/^Signed-By:[ \t]*/, "", signed) }
                if ($i ~ /^Suites:/)    { suites=" " $i " " }
            }
            if (suites ~ /[ \t]bookworm[ \t]/ && uris != "") { print uris "\t" signed; exit }
        }' "$SOURCES")
    if [ -z "$derived" ]; then
        echo "prereqs: no stanza with suite bookworm in $SOURCES" >&2
        exit 1
    fi
    uris=${derived%%$'\t'*}
    signed=${derived#*$'\t'}
    {
        echo "Types: deb"
        echo "URIs: $uris"
        echo "Suites: bookworm-backports"
        echo "Components: main"
        if [ -n "$signed" ]; then echo "Signed-By: $signed"; fi
    } > "$BACKPORTS"
    echo "prereqs: wrote $BACKPORTS (derived from $SOURCES)"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
pkgs=()
[ ${#need_tools[@]} -gt 0 ] && pkgs+=(tcpdump tshark tcpreplay iproute2 curl)
[ $need_scapy -eq 1 ] && pkgs+=(python3-scapy)
if ! have_suricata7; then
    apt-get install -y -qq -t bookworm-backports suricata
fi
if [ ${#pkgs[@]} -gt 0 ]; then
    apt-get install -y -qq "${pkgs[@]}"
fi
# The package enables a system-wide suricata service; the tests run their own instances in namespaces.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now suricata >/dev/null 2>&1 || true
fi
have_suricata7 || { echo "prereqs: suricata 7 not available after install" >&2; exit 1; }
echo "prereqs: suricata $(suricata -V 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -1) ready"
