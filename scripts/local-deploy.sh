#!/usr/bin/env bash
# `sam deploy` and `sam delete` of what `sam build` made, into a throwaway local cloud: the stack template.yaml
# describes, created and deleted by the local cloud's CloudFormation, with the local Lambda host serving the stack's
# functions (its custom resource runs on create and delete). Prints the stack's status, resource count and outputs,
# then the deletion's status. Exits non-zero when either fails. Needs .aws-sam/build (python3 scripts/sam-build.py)
# and the Release build of src/AutoMirror.LocalLambda.
#   scripts/local-deploy.sh [--keep-logs]
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

work=$(mktemp -d /tmp/automirror-deploy-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  [ "${1:-}" = "--keep-logs" ] || rm -rf "$work"
}
trap 'cleanup "${1:-}"' EXIT
fail() { echo "local-deploy: $*" >&2; tail -n 20 "$work"/*.log >&2 2>/dev/null; exit 1; }

ready_line() {  # FILE PREFIX: waits up to 60 s for a line starting with PREFIX, prints the word after it
  for _ in $(seq 1 300); do
    line=$(grep -m1 "^$2 " "$1" 2>/dev/null) && { rest=${line#"$2 "}; echo "${rest%% *}"; return 0; }
    sleep 0.2
  done
  return 1
}

[ -f .aws-sam/build/template.yaml ] || fail ".aws-sam/build has no template: run python3 scripts/sam-build.py first"
host_dll=src/AutoMirror.LocalLambda/bin/Release/net10.0/AutoMirror.LocalLambda.dll
[ -f "$host_dll" ] || fail "$host_dll is missing: build AutoMirror.sln in Release first"

PYTHONPATH=localcloud python3 -m automirror_localcloud --host 127.0.0.1 --port 0 >"$work/cloud.out" 2>"$work/cloud.log" &
pids+=($!)
cloud=$(ready_line "$work/cloud.out" "automirror-localcloud ready") || fail "the local cloud did not start"

AWS_ENDPOINT_URL=$cloud AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
  dotnet "$host_dll" --port 0 --deployed-in "$cloud" --assembly-dir .aws-sam/build/EventFunction >"$work/host.out" 2>"$work/host.log" &
pids+=($!)
host=$(ready_line "$work/host.out" "automirror-locallambda ready") || fail "the local Lambda host did not start"
curl -sf -X POST "$cloud/_automirror/lambda-endpoint" -d "{\"url\":\"${host%/}\"}" >/dev/null || fail "the local cloud refused the Lambda endpoint"

started=$(date +%s)
PYTHONPATH=localcloud python3 -m automirror_localcloud.deploy --endpoint "$cloud" --network new --signal-sensors \
  --package-cache .aws-sam/package-cache >"$work/deploy.json" 2>"$work/deploy.log" || fail "the deploy failed: $(cat "$work/deploy.log")"
python3 - "$work/deploy.json" "$(( $(date +%s) - started ))" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
print(f"local-deploy: stack {d['stackName']} {d['status']} with {len(d['resources'])} resources in {sys.argv[2]} s")
for key, value in d["outputs"].items():
    print(f"local-deploy:   {key:<24} {value}")
PY

python3 - "$cloud" <<'PY' || fail "the stack's deletion failed"
import sys, time, boto3
cfn = boto3.client("cloudformation", region_name="us-east-1", endpoint_url=sys.argv[1],
                   aws_access_key_id="local", aws_secret_access_key="local")
stack_id = cfn.describe_stacks(StackName="automirror")["Stacks"][0]["StackId"]
cfn.delete_stack(StackName="automirror")
deadline = time.monotonic() + 120
while (status := cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]) == "DELETE_IN_PROGRESS":
    if time.monotonic() > deadline:
        sys.exit("local-deploy: the deletion did not finish in 120 s")
    time.sleep(0.2)
print(f"local-deploy: stack automirror {status} (sam delete)")
sys.exit(0 if status == "DELETE_COMPLETE" else 1)
PY
