#!/usr/bin/env python3
"""Cold start of EventFunction on AWSSDK.EC2 against the same handler on the hand-written EC2 client.

    python3 bench/coldstart/run.py [--runs 9] [--publish-flags "-p:TieredPGO=false"] [--keep]

Builds, from this tree and in this run:
  * the function package: `make build-EventFunction` of src/AutoMirror.Functions/Makefile, the target `sam build`
    (and scripts/sam-build.py) runs, into a scratch ARTIFACTS_DIR (so .aws-sam/build is left as it is);
  * the baseline package: the same Makefile's publish recipe and flags over bench/coldstart/Baseline (src/ as it is,
    with the hand-written EC2 client of before in place of the SDK adapter);
  * the host (bench/coldstart/Host): what the managed dotnet10 runtime's bootstrap starts, reduced to loading the
    handler by name from LAMBDA_TASK_ROOT and invoking it once.
Starts the local cloud (moto + extension), deploys template.yaml into it as `sam deploy` does, launches one qualifying
instance with boto3, then starts each package as a
fresh process the way the runtime does (`dotnet exec --depsfile <task>/X.deps.json --runtimeconfig
<task>/X.runtimeconfig.json <host> <handler>`, working directory and LAMBDA_TASK_ROOT the package, the environment
the stack gave EventFunction) and times spawn → the handler's first answer (and the process's CPU time), alternating
baseline and candidate so both see the same machine load. Prints medians per scenario and, last,
`coldstart_over_baseline=<r> package_bytes=<n>` for the `running` event, r being the median of the back-to-back
pairs' wall-time ratios.

Scenarios: `running` is events/ec2-state-running.json for the instance (the handler starts the Attach workflow:
one Step Functions call, no EC2 call — by design, see EventRouter); `ec2-call` is the same instance's `stopped`
event (EC2 still says running, so the handler reads it from EC2, finds it qualifies and answers stale-detach-event):
the first EC2 call on the cold path.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "AutoMirror.Functions::AutoMirror.Functions.Handlers.EventHandler::HandleAsync"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
SENSOR_LAYER_ASSUMED = 110 * 1000 * 1000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}")


def build(scratch: Path, publish_flags: str | None, vs_flags: str | None) -> tuple[Path, Path, Path]:
    makefile = ROOT / "src/AutoMirror.Functions/Makefile"
    extra = [f"PUBLISH_FLAGS={publish_flags}"] if publish_flags is not None else []
    candidate = scratch / "EventFunction"
    candidate.mkdir()
    log("build: function package (make build-EventFunction)")
    run(["make", "--no-print-directory", "-f", str(makefile), "build-EventFunction", f"STAGE={scratch / 'stage-candidate'}", *extra],
        env={**os.environ, "ARTIFACTS_DIR": str(candidate)})
    (scratch / "stage-baseline").mkdir()
    if vs_flags is not None:
        # The same code under other publish settings: what one setting changes, paired like the baseline.
        log(f"build: the function package again with PUBLISH_FLAGS={vs_flags!r} as the baseline")
        run(["make", "--no-print-directory", "-f", str(makefile), "publish", f"STAGE={scratch / 'stage-baseline'}", f"PUBLISH_FLAGS={vs_flags}"])
    else:
        log("build: baseline package (same recipe, hand-written EC2 client)")
        baseline_project = ROOT / "bench/coldstart/Baseline/Functions/AutoMirror.Functions.Baseline.csproj"
        run(["make", "--no-print-directory", "-f", str(makefile), "publish", f"STAGE={scratch / 'stage-baseline'}", f"PROJECT={baseline_project}", *extra])
    log("build: host")
    host = scratch / "host"
    run(["dotnet", "build", str(ROOT / "bench/coldstart/Host/ColdStart.Host.csproj"), "-c", "Release", "-o", str(host), "-nologo", "-v", "quiet"])
    return candidate, scratch / "stage-baseline/publish", host / "ColdStart.Host.dll"


def start_local_cloud() -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "localcloud")}
    process = subprocess.Popen([sys.executable, "-m", "automirror_localcloud", "--host", "127.0.0.1", "--port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("automirror-localcloud ready "):
            return process, line.split()[-1]
        if not line and process.poll() is not None:
            break
    process.kill()
    sys.exit("the local cloud did not become ready within 60 s")


def deploy_stack(endpoint: str, task_root: Path, scratch: Path) -> tuple[dict, subprocess.Popen]:
    """template.yaml deployed into the local cloud as `sam deploy` does (automirror_localcloud.deploy), with the local
    Lambda host serving its custom resource from the package under test. The function then runs with exactly the
    environment the stack gives EventFunction."""
    if not (ROOT / ".aws-sam/build/template.yaml").exists():
        run([sys.executable, "scripts/sam-build.py"])
    run(["dotnet", "build", str(ROOT / "src/AutoMirror.LocalLambda"), "-c", "Release", "-nologo", "-v", "quiet"])
    host_env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"}
    host = subprocess.Popen(["dotnet", str(ROOT / "src/AutoMirror.LocalLambda/bin/Release/net10.0/AutoMirror.LocalLambda.dll"),
                             "--port", "0", "--deployed-in", endpoint, "--assembly-dir", str(task_root)],
                            cwd=ROOT, env=host_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = host.stdout.readline()
    if not line.startswith("automirror-locallambda ready "):
        host.kill()
        sys.exit(f"the local Lambda host did not start: {line!r}")
    import urllib.request

    lambda_url = line.split()[2]
    request = urllib.request.Request(f"{endpoint}/_automirror/lambda-endpoint", data=json.dumps({"url": lambda_url}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    sys.path.insert(0, str(ROOT / "localcloud"))
    from automirror_localcloud import deploy as local_deploy
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    network = local_deploy.create_network(ec2)
    stack = local_deploy.deploy(endpoint, ROOT / ".aws-sam/build/template.yaml", "automirror",
                                local_deploy.network_parameters(network), timeout=240, answer_signals=True,
                                package_cache=ROOT / ".aws-sam/package-cache")
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=network["workloadSubnetIds"][0],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "automirror", "Value": "true"}, {"Key": "lab", "Value": "bench"}]}],
    )["Instances"][0]["InstanceId"]
    event_function = next(f for f in stack["functions"].values() if f["logicalId"] == "EventFunction")
    return {"instance": instance, "environment": event_function["environment"], "name": event_function["arn"].split(":")[-1]}, host


def function_environment(endpoint: str, deployed: dict, task_root: Path) -> dict[str, str]:
    # What Lambda sets for a dotnet10 function, plus exactly the environment the stack gave EventFunction.
    env = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "DOTNET_ROOT", "TMPDIR")}
    env.update({
        "LAMBDA_TASK_ROOT": str(task_root), "AWS_EXECUTION_ENV": "AWS_Lambda_dotnet10", "AWS_LAMBDA_FUNCTION_NAME": deployed["name"],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1",
    })
    env.update(deployed["environment"])
    return env


def event_file(folder: Path, instance: str, state: str) -> Path:
    event = json.loads((ROOT / "events/ec2-state-running.json").read_text())
    # A new id per start: the execution name derives from it, and a repeated one takes the duplicate-event path.
    event["id"] = str(uuid.uuid4())
    event["detail"] = {"instance-id": instance, "state": state}
    event["resources"] = [f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}"]
    path = folder / f"event-{event['id']}.json"
    path.write_text(json.dumps(event))
    return path


def cold_start(package: Path, host: Path, env: dict[str, str], event: Path, expect: str, report: list[str] | None = None) -> tuple[float, float]:
    """Wall time from spawn to the answer line, and the process's CPU time (user + system) to its exit."""
    command = ["dotnet", "exec", "--depsfile", str(package / "AutoMirror.Functions.deps.json"),
               "--runtimeconfig", str(package / "AutoMirror.Functions.runtimeconfig.json"), str(host), HANDLER, str(event)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=package, env={**env, "LAMBDA_TASK_ROOT": str(package)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answer = ""
    for line in process.stdout:
        if line.startswith("answer: "):
            answer = line
            break
    elapsed = time.perf_counter() - started
    process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or expect not in answer:
        sys.exit(f"{package.name}: expected an answer with '{expect}', got {answer!r} (exit {process.returncode}):\n{errors[-3000:]}")
    if report is not None:
        report.extend(line[len("loaded: "):] for line in errors.splitlines() if line.startswith("loaded: "))
    return elapsed, usage.ru_utime + usage.ru_stime


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="cold starts per package and scenario (alternated)")
    parser.add_argument("--publish-flags", default=None, help="PUBLISH_FLAGS for both packages (default: the Makefile's own); "
                        "write --publish-flags=... when the value starts with a dash")
    parser.add_argument("--vs-flags", default=None, help="baseline = the SDK package published with these PUBLISH_FLAGS instead "
                        "of the hand-written client (measures one publish setting)")
    parser.add_argument("--scenarios", default="running,ec2-call")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--list-assemblies", action="store_true", help="print the assemblies each package loads per scenario")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="automirror-coldstart-"))
    cloud = None
    lambda_host = None
    try:
        candidate, baseline, host = build(scratch, args.publish_flags, args.vs_flags)
        cloud, endpoint = start_local_cloud()
        ids, lambda_host = deploy_stack(endpoint, candidate, scratch)
        env = function_environment(endpoint, ids, candidate)
        expectations = {"running": ("running", "attach-started"), "ec2-call": ("stopped", "stale-detach-event")}
        packages = {"baseline": baseline, "sdk": candidate}
        ratios = {}
        for scenario in args.scenarios.split(","):
            state, expect = expectations[scenario]
            # One untimed start of each: both packages' files are then in the page cache, as a deployed package is
            # on the worker's disk; what is timed is the process's own cold start.
            for name, package in packages.items():
                loaded: list[str] = []
                listing = {**env, "COLDSTART_LIST_ASSEMBLIES": "1"} if args.list_assemblies else env
                cold_start(package, host, listing, event_file(scratch, ids["instance"], state), expect, loaded)
                if args.list_assemblies:
                    print(f"{scenario} {name}: {len(loaded)} assemblies loaded: {' '.join(loaded)}")
            wall: dict[str, list[float]] = {name: [] for name in packages}
            cpu: dict[str, list[float]] = {name: [] for name in packages}
            for i in range(args.runs):
                order = list(packages) if i % 2 == 0 else list(reversed(packages))
                for name in order:
                    elapsed, used = cold_start(packages[name], host, env, event_file(scratch, ids["instance"], state), expect)
                    wall[name].append(elapsed)
                    cpu[name].append(used)
            # Each pair ran back to back, so its ratio shares one moment's machine load; the median of those ratios
            # is what other builds on the same cores disturb least.
            paired = statistics.median(s / b for s, b in zip(wall["sdk"], wall["baseline"]))
            ratios[scenario] = paired
            for name in packages:
                print(f"{scenario} {name}: wall median {statistics.median(wall[name]) * 1000:.0f} ms "
                      f"(min {min(wall[name]) * 1000:.0f}, max {max(wall[name]) * 1000:.0f}), "
                      f"cpu median {statistics.median(cpu[name]) * 1000:.0f} ms, {len(wall[name])} starts")
            print(f"{scenario}: sdk/baseline wall: paired median {paired:.2f}, medians {statistics.median(wall['sdk']) / statistics.median(wall['baseline']):.2f}; "
                  f"cpu medians {statistics.median(cpu['sdk']) / statistics.median(cpu['baseline']):.2f}")

        package_bytes = folder_bytes(candidate)
        layer = ROOT / ".aws-sam/build/SensorPackage"
        layer_bytes = folder_bytes(layer) if layer.is_dir() else SENSOR_LAYER_ASSUMED
        total = package_bytes + layer_bytes
        print(f"package: sdk {package_bytes} bytes, baseline {folder_bytes(baseline)} bytes; with the sensor layer "
              f"({layer_bytes} bytes, {'measured in .aws-sam/build' if layer.is_dir() else 'assumed'}) {total} of "
              f"Lambda's {LAMBDA_UNZIPPED_LIMIT} unzipped bytes ({100 * total / LAMBDA_UNZIPPED_LIMIT:.0f}%)")
        if total > 0.8 * LAMBDA_UNZIPPED_LIMIT:
            sys.exit("the function with its layer uses more than 80% of Lambda's unzipped limit")
        headline = ratios.get("running", next(iter(ratios.values())))
        print(f"coldstart_over_baseline={headline:.2f} package_bytes={package_bytes}")
    finally:
        for process in (lambda_host, cloud):
            if process is not None:
                process.kill()
                process.wait()
        if args.keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
