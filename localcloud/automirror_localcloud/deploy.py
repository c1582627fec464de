"""`sam deploy` against the local cloud: the stack that template.yaml describes, built by `sam build`.

    python3 -m automirror_localcloud.deploy --endpoint http://127.0.0.1:PORT [--network new] [--parameter K=V]...

What it does is what `sam deploy` does, with real clients:
1. `aws cloudformation package` (the AWS CLI) zips each artifact of .aws-sam/build (the functions, the sensor layer)
   and the state machine definitions into the local S3 and writes the packaged template;
2. CreateChangeSet (CREATE, with CAPABILITY_IAM and CAPABILITY_AUTO_EXPAND) and ExecuteChangeSet, then waits on
   DescribeStacks until the stack is CREATE_COMPLETE; the local cloud runs the SAM transform, checks parameters and
   Rules, and creates every resource as CloudFormation would (automirror_localcloud.cloudformation).

`--network new` first makes the network a user brings (a VPC with workload and sensor subnets in two zones) and
fills the template's network parameters from it. `--signal-sensors` answers the sensor group's resource signals
as each sensor's bootstrap does on AWS, for runs that have no sensor whose health decides it.

Prints one JSON document: stack name and id, status, outputs, resources (logical id → physical id and type),
parameters and the network. A stack that fails prints its failed events and exits 1.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ARTIFACT_BUCKET = "automirror-artifacts"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployFailed(Exception):
    pass


def clients(endpoint: str) -> dict[str, Any]:
    settings = dict(region_name=REGION, endpoint_url=endpoint, aws_access_key_id="automirror-local",
                    aws_secret_access_key="automirror-local")
    return {name: boto3.client(name, **settings) for name in ("cloudformation", "ec2", "s3", "autoscaling", "lambda")}


def create_network(ec2: Any) -> dict[str, Any]:
    """A VPC as a user would bring it: workload subnets and sensor subnets in two zones; the sensor and load
    balancer subnets are covered by one /23 (SensorCidr)."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]

    def subnet(cidr: str, zone: str, name: str) -> str:
        subnet_id = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Name", "Value": name}])
        return subnet_id

    workload = [subnet("10.20.1.0/24", "a", "workload-a"), subnet("10.20.2.0/24", "b", "workload-b")]
    sensors = [subnet("10.20.100.0/24", "a", "sensors-a"), subnet("10.20.101.0/24", "b", "sensors-b")]
    return {"vpcId": vpc, "vpcCidr": "10.20.0.0/16", "workloadSubnetIds": workload, "sensorSubnetIds": sensors,
            "sensorCidr": "10.20.100.0/23"}


def network_parameters(network: dict[str, Any]) -> dict[str, str]:
    return {"VpcId": network["vpcId"], "VpcCidr": network["vpcCidr"],
            "SensorSubnetIds": ",".join(network["sensorSubnetIds"]), "NlbSubnetIds": ",".join(network["sensorSubnetIds"]),
            "SensorCidr": network["sensorCidr"]}


def build_fingerprint(template: Path) -> str:
    """What the packaged artifacts depend on: the built template and every file `sam build` made beside it."""
    digest = hashlib.sha256(template.read_bytes())
    for path in sorted(p for p in template.parent.rglob("*") if p.is_file() and p != template):
        stat = path.stat()
        digest.update(f"{path.relative_to(template.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def package(endpoint: str, s3: Any, template: Path, work: Path, cache: Path | None = None) -> Path:
    """The AWS CLI's own `cloudformation package`: what `sam package` (and `sam deploy`) upload. With a cache, the
    zips it made for this very build are uploaded again instead of being made again (tests deploy many stacks)."""
    if not template.exists():
        raise DeployFailed(f"{template} does not exist: build first with `python3 scripts/sam-build.py` "
                           "(what `sam build` runs)")
    try:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    if cache is None:
        return _package_with_cli(endpoint, template, work)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test processes deploying at once package once
        fingerprint = build_fingerprint(template)
        if (cache / "fingerprint").exists() and (cache / "fingerprint").read_text() == fingerprint:
            existing = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARTIFACT_BUCKET)
                        for o in page.get("Contents", [])}
            for path in sorted((cache / "objects").iterdir()):
                key = path.name.replace("__", "/")
                if key not in existing:
                    s3.upload_file(str(path), ARTIFACT_BUCKET, key)
            return cache / "packaged.yaml"
        packaged = _package_with_cli(endpoint, template, work)
        shutil.rmtree(cache / "objects", ignore_errors=True)
        (cache / "objects").mkdir()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARTIFACT_BUCKET, Prefix="automirror/"):
            for item in page.get("Contents", []):
                s3.download_file(ARTIFACT_BUCKET, item["Key"], str(cache / "objects" / item["Key"].replace("/", "__")))
        shutil.copyfile(packaged, cache / "packaged.yaml")
        (cache / "fingerprint").write_text(fingerprint)
        return cache / "packaged.yaml"


def _package_with_cli(endpoint: str, template: Path, work: Path) -> Path:
    packaged = work / "packaged.yaml"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="automirror-local", AWS_SECRET_ACCESS_KEY="automirror-local",
               AWS_DEFAULT_REGION=REGION, AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "cloudformation", "package",
         "--template-file", str(template), "--s3-bucket", ARTIFACT_BUCKET, "--s3-prefix", "automirror",
         "--output-template-file", str(packaged)],
        capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise DeployFailed(f"aws cloudformation package failed: {(result.stderr or result.stdout).strip()[-1500:]}")
    return packaged


def take_target_interface(ec2: Any, resources: list[dict[str, Any]], instance_id: str) -> None:
    """TargetKind=eni (issue #17 item 1): what the healthy sensor's user data does before it signals, with the same
    EC2 calls: it detaches the stack's target interface from the sensor it replaces and attaches it as its own second
    interface. Stacks of the other kinds have no AWS::EC2::NetworkInterface."""
    if ec2 is None:
        return
    for resource in resources:
        if resource["ResourceType"] != "AWS::EC2::NetworkInterface" or not resource.get("PhysicalResourceId"):
            continue
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[resource["PhysicalResourceId"]])["NetworkInterfaces"][0]
        attachment = eni.get("Attachment")
        if attachment and attachment.get("InstanceId") == instance_id:
            continue
        if attachment:
            ec2.detach_network_interface(AttachmentId=attachment["AttachmentId"], Force=True)
        ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance_id, DeviceIndex=1)


def signal_sensors(cfn: Any, autoscaling: Any, stack_name: str, stop: threading.Event,
                   ready: Callable[[], bool] | None = None, ec2: Any = None) -> None:
    """What each sensor's bootstrap does once its health check passes (`ready`): signal SUCCESS for its group."""
    signalled: set[str] = set()
    while not stop.is_set():
        if ready is not None and not ready():
            stop.wait(0.2)
            continue
        try:
            resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        except Exception:  # the stack may not exist yet
            resources = []
        for resource in resources:
            if resource["ResourceType"] != "AWS::AutoScaling::AutoScalingGroup":
                continue
            groups = autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[resource["PhysicalResourceId"]])["AutoScalingGroups"]
            for instance in (groups[0]["Instances"] if groups else []):
                key = f"{resource['LogicalResourceId']}/{instance['InstanceId']}"
                if key in signalled:
                    continue
                take_target_interface(ec2, resources, instance["InstanceId"])
                try:
                    cfn.signal_resource(StackName=stack_name, LogicalResourceId=resource["LogicalResourceId"],
                                        UniqueId=instance["InstanceId"], Status="SUCCESS")
                    signalled.add(key)
                except cfn.exceptions.ClientError:
                    pass  # not waiting for signals (yet, or at all)
        stop.wait(0.2)


def deploy(endpoint: str, template: Path, stack_name: str, parameters: dict[str, str], timeout: float,
           answer_signals: bool = False, sensors_ready: Callable[[], bool] | None = None,
           package_cache: Path | None = None) -> dict[str, Any]:
    aws = clients(endpoint)
    cfn = aws["cloudformation"]
    with tempfile.TemporaryDirectory(prefix="automirror-deploy-") as work:
        packaged = package(endpoint, aws["s3"], template, Path(work), package_cache)
        # As `sam deploy` does with its bucket: the template goes by S3 URL, since CloudFormation takes at most
        # 51,200 bytes in TemplateBody.
        key = f"automirror/{hashlib.sha256(packaged.read_bytes()).hexdigest()}.template"
        aws["s3"].upload_file(str(packaged), ARTIFACT_BUCKET, key)
    change_set = cfn.create_change_set(
        StackName=stack_name, ChangeSetName=f"samcli-deploy{int(time.time())}", ChangeSetType="CREATE",
        TemplateURL=f"https://s3.{REGION}.amazonaws.com/{ARTIFACT_BUCKET}/{key}", Capabilities=CAPABILITIES,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Description="Created by the local `sam deploy`")
    cfn.execute_change_set(ChangeSetName=change_set["Id"], StackName=stack_name)
    stop = threading.Event()
    if answer_signals:
        threading.Thread(target=signal_sensors, args=(cfn, aws["autoscaling"], stack_name, stop, sensors_ready, aws["ec2"]),
                         daemon=True).start()
    try:
        stack = wait_for_stack(cfn, stack_name, timeout)
    finally:
        stop.set()
    return describe(cfn, stack, aws["lambda"], aws["autoscaling"])


def wait_for_stack(cfn: Any, stack_name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                      if e["ResourceStatus"] == "CREATE_FAILED"]
            raise DeployFailed(f"stack {stack_name} is {status}: " + ("; ".join(failed) or "no resource failed"))
        if time.monotonic() > deadline:
            raise DeployFailed(f"stack {stack_name} still {status} after {timeout:.0f} s")
        time.sleep(0.2)


def describe(cfn: Any, stack: dict[str, Any], lambda_client: Any = None, autoscaling: Any = None) -> dict[str, Any]:
    resources = cfn.describe_stack_resources(StackName=stack["StackName"])["StackResources"]
    sensors = []
    if autoscaling is not None:
        groups = [r.get("PhysicalResourceId") for r in resources if r["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup"]
        for group in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=groups)["AutoScalingGroups"] if groups else []:
            sensors += [i["InstanceId"] for i in group["Instances"]]
    functions = {}
    if lambda_client is not None:
        logical_of = {r.get("PhysicalResourceId"): r["LogicalResourceId"] for r in resources
                      if r["ResourceType"] == "AWS::Lambda::Function"}
        for page in lambda_client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                if function["FunctionName"] in logical_of:
                    functions[function["FunctionName"]] = {
                        "logicalId": logical_of[function["FunctionName"]], "arn": function["FunctionArn"],
                        "handler": function["Handler"], "runtime": function.get("Runtime"),
                        "environment": (function.get("Environment") or {}).get("Variables") or {}}
    return {
        "stackName": stack["StackName"], "stackId": stack["StackId"], "status": stack["StackStatus"],
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []},
        "parameters": {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters") or []},
        "resources": {r["LogicalResourceId"]: {"physicalId": r.get("PhysicalResourceId"), "type": r["ResourceType"]}
                      for r in resources},
        "functions": functions,
        "sensorInstanceIds": sensors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="automirror_localcloud.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the local cloud, e.g. http://127.0.0.1:4566")
    parser.add_argument("--template", default=str(ROOT / ".aws-sam" / "build" / "template.yaml"),
                        help="the template `sam build` wrote (default .aws-sam/build/template.yaml)")
    parser.add_argument("--stack-name", default="automirror")
    parser.add_argument("--network", help="'new' to create the user's network first, or a JSON file describing one")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--signal-sensors", action="store_true",
                        help="send the sensor group's SUCCESS signals, as the sensors' bootstrap does on AWS")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--package-cache", help="a folder keeping the packaged artifacts of this build between deploys")
    args = parser.parse_args(argv)
    try:
        aws = clients(args.endpoint)
        network = None
        if args.network == "new":
            network = create_network(aws["ec2"])
        elif args.network:
            network = json.loads(Path(args.network).read_text())
        parameters = network_parameters(network) if network else {}
        for pair in args.parameter:
            key, sep, value = pair.partition("=")
            if not sep:
                raise DeployFailed(f"--parameter {pair!r} is not KEY=VALUE")
            parameters[key] = value
        result = deploy(args.endpoint, Path(args.template), args.stack_name, parameters, args.timeout,
                        answer_signals=args.signal_sensors,
                        package_cache=Path(args.package_cache) if args.package_cache else None)
        result["network"] = network
    except DeployFailed as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # botocore's ClientError and friends: the AWS answer is the message
        print(f"deploy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
