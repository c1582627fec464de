#!/usr/bin/env bash
# AutoMirror's whole test suite: unit and integration tests (local cloud, real ASL interpreter, cfn-lint, real packets
# in network namespaces), on a fresh Debian machine with the .NET SDK. Installs what it needs first.
#   scripts/test.sh                 everything
#   scripts/test.sh --unit          only tests without the Integration trait
#   scripts/test.sh --integration   only tests with it
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

filter=""
case "${1:-}" in
  --unit) filter="Category!=Integration" ;;
  --integration) filter="Category=Integration" ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--unit|--integration]" >&2; exit 2 ;;
esac

bash scripts/prereqs.sh || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
echo "== build"
dotnet build AutoMirror.sln -c Release -warnaserror -nologo -v quiet -clp:NoSummary \
  || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# What `sam build` makes, by the same Makefile targets; the template tests check it in .aws-sam/build.
if [ "$filter" != "Category!=Integration" ]; then
  echo "== sam build (scripts/sam-build.py)"
  start=$SECONDS
  python3 scripts/sam-build.py 2>"$results/sam-build.log" \
    || { tail -n 40 "$results/sam-build.log"; echo "sam build failed"; echo "0 passed, 1 failed"; exit 1; }
  echo "sam build step: $((SECONDS - start)) s"
fi

passed=0 failed=0 skipped=0

if [ -z "$filter" ] || [ "$filter" = "Category=Integration" ]; then
  # `sam deploy` and `sam delete` of what the build made, into a throwaway local cloud (its lines show the stack).
  echo "== local sam deploy and sam delete (scripts/local-deploy.sh)"
  if bash scripts/local-deploy.sh; then passed=$((passed + 1)); else echo "local deploy failed"; failed=$((failed + 1)); fi

  if [ -d localcloud/tests ]; then
    echo "== local cloud (python unittest, boto3 and the AWS CLI against the server)"
    PYTHONPATH=localcloud python3 -m unittest discover -s localcloud/tests -t localcloud 2>&1 | tee "$results/py.log" | tail -n 25
    ran=$(grep -Eo '^Ran [0-9]+ tests?' "$results/py.log" | grep -Eo '[0-9]+' || echo 0)
    bad=$(grep -E '^FAILED \(' "$results/py.log" | grep -Eo '(failures|errors)=[0-9]+' | awk -F= '{n+=$2} END {print n+0}')
    skip=$(grep -Eo 'skipped=[0-9]+' "$results/py.log" | awk -F= '{n+=$2} END {print n+0}')
    if ! grep -q '^OK' "$results/py.log" && [ "$bad" = 0 ]; then bad=1; fi
    passed=$((passed + ran - bad - skip)); failed=$((failed + bad)); skipped=$((skipped + skip))
  fi
fi

for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  args=(test "$proj" -c Release --no-build --nologo -v quiet --logger "console;verbosity=minimal")
  [ -n "$filter" ] && args+=(--filter "$filter")
  dotnet "${args[@]}" > "$results/$name.log" 2>&1
  # Failures with their messages, then the assembly's summary line.
  grep -E -A 12 '^\s+Failed [A-Za-z]' "$results/$name.log" | head -n 200
  grep -E 'Passed!|Failed!|No test|error' "$results/$name.log" | tail -n 5
  line=$(grep -E '(Passed|Failed)! +- ' "$results/$name.log" | tail -n 1)
  if [ -z "$line" ]; then
    if grep -q 'No test matches the given testcase filter' "$results/$name.log"; then continue; fi
    echo "$name: no result line (crash?)"; failed=$((failed + 1)); continue
  fi
  f=$(sed -E 's/.*Failed: *([0-9]+).*/\1/' <<<"$line")
  p=$(sed -E 's/.*Passed: *([0-9]+).*/\1/' <<<"$line")
  s=$(sed -E 's/.*Skipped: *([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
