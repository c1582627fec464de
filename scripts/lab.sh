#!/usr/bin/env bash
# The local lab: AutoMirror end to end on this machine, no AWS account (the README's "run" command).
#   sudo scripts/lab.sh [--json FILE] [--keep]
# Installs what is missing (scripts/prereqs.sh), builds the local Lambda host and the sensor in Release, then runs
# lab/run_lab.py: local cloud + stack, a small lab, the real handlers and workflows, the sensor in network namespaces
# with Suricata on its TAP, real mirrored traffic, changes and teardown, and a report (stdout; --json also to FILE).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

fail() { echo "lab: $*" >&2; exit 1; }

case "${1:-}" in -h|--help) exec python3 lab/run_lab.py --help ;; esac

[ "$(id -u)" = 0 ] || fail "the lab creates network namespaces and needs root: run 'sudo $0 $*'"
command -v ip >/dev/null || command -v apt-get >/dev/null || fail "iproute2 (ip) is missing and there is no apt-get to install it"

bash scripts/prereqs.sh >&2 || fail "prerequisites could not be installed (see above)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
build_start=$(date +%s)
echo "lab: building the local Lambda host (with the functions) and the sensor, Release" >&2
for project in src/AutoMirror.LocalLambda src/AutoMirror.Sensor; do
  dotnet build "$project" -c Release -nologo -v quiet -clp:NoSummary -warnaserror >&2 \
    || fail "building $project failed (see above)"
done
# The stack the lab deploys is what `sam build` makes: the same Makefile targets, into .aws-sam/build.
python3 scripts/sam-build.py >&2 || fail "the sam build (scripts/sam-build.py) failed (see above)"
echo "lab: built in $(( $(date +%s) - build_start )) s" >&2

exec python3 lab/run_lab.py --build-configuration Release "$@"
