"""Starts a real local cloud process for a test module and builds the AWS clients that talk to it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the localcloud/ folder
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
# Supported mirror sources must be Nitro types outside AWS's exclusion list, or listed Xen types.
SUPPORTED_TYPE = "m5.large"
AMI = "ami-12c6146b"


class LocalCloudProcess:
    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.extra_args = extra_args
        self.env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.startup_seconds = 0.0

    def start(self) -> "LocalCloudProcess":
        started = time.monotonic()
        environment = {**os.environ, **self.env, "PYTHONPATH": str(PACKAGE_ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "automirror_localcloud", "--host", "127.0.0.1", "--port", "0", *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        line = self.process.stdout.readline()  # the readiness line, or EOF if it died
        if not line.startswith("automirror-localcloud ready "):
            self.process.kill()
            _, stderr = self.process.communicate(timeout=5)
            self.process = None
            raise RuntimeError(f"the local cloud did not start: {line!r} {stderr.strip()}")
        self.url = line.split()[-1]
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            self.process = None

    def client(self, service: str, retries: int = 1):
        # One attempt by default: the tests want to see each error, not botocore's retries.
        config = Config(retries={"total_max_attempts": retries, "mode": "standard"})
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def control(self, method: str, route: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_automirror{route}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def post(self, route: str, body: dict | None = None) -> dict:
        status, payload = self.control("POST", route, body or {})
        if status != 200:
            raise AssertionError(f"POST {route} answered {status}: {payload}")
        return payload

    def get(self, route: str) -> dict:
        status, payload = self.control("GET", route)
        if status != 200:
            raise AssertionError(f"GET {route} answered {status}: {payload}")
        return payload


def module_cloud(*extra_args: str, env: dict[str, str] | None = None):
    """One local cloud shared by a test module's classes, started before its first test and stopped after its last:

        cloud, setUpModule, tearDownModule = module_cloud()

    unittest calls a module's setUpModule/tearDownModule by name, so the module binds them at its top level.
    """
    cloud = LocalCloudProcess(*extra_args, env=env)

    def set_up_module() -> None:
        cloud.start()

    def tear_down_module() -> None:
        cloud.stop()

    return cloud, set_up_module, tear_down_module


class World:
    """A VPC with a subnet, a mirror filter and an ENI target: what every session test needs."""

    def __init__(self, ec2) -> None:
        self.ec2 = ec2
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.vpc = vpc
        self.filter = ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
        sensor_eni = ec2.create_network_interface(SubnetId=self.subnet)["NetworkInterface"]["NetworkInterfaceId"]
        self.sensor_eni = sensor_eni
        self.target = ec2.create_traffic_mirror_target(NetworkInterfaceId=sensor_eni)["TrafficMirrorTarget"][
            "TrafficMirrorTargetId"
        ]

    def nlb_target(self, elbv2, name: str = "sensors") -> str:
        """An internal Network Load Balancer and a mirror target on it (no per-target source limit)."""
        nlb = elbv2.create_load_balancer(Name=name, Type="network", Scheme="internal", Subnets=[self.subnet])[
            "LoadBalancers"][0]["LoadBalancerArn"]
        return self.ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=nlb)["TrafficMirrorTarget"]["TrafficMirrorTargetId"]

    def instance(self, instance_type: str = SUPPORTED_TYPE) -> tuple[str, str]:
        """Launches one instance; returns (instance id, primary ENI id)."""
        instance = self.ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=instance_type, SubnetId=self.subnet
        )["Instances"][0]
        return instance["InstanceId"], instance["NetworkInterfaces"][0]["NetworkInterfaceId"]

    def session(self, eni: str, number: int = 1, **extra) -> dict:
        return self.ec2.create_traffic_mirror_session(
            NetworkInterfaceId=eni,
            TrafficMirrorTargetId=extra.pop("target", self.target),
            TrafficMirrorFilterId=extra.pop("filter", self.filter),
            SessionNumber=number,
            **extra,
        )["TrafficMirrorSession"]


class TwoZoneStackTestCase(unittest.TestCase):
    """A local cloud with a VPC and a subnet in each of two zones, for tests that each create a small stack in it."""

    STACK_PREFIX = "stack"

    @classmethod
    def setUpClass(cls):
        cls.cloud = LocalCloudProcess().start()
        cls.cfn = cls.cloud.client("cloudformation")
        cls.ec2 = cls.cloud.client("ec2")
        cls.elb = cls.cloud.client("elbv2")
        cls.vpc = cls.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        cls.subnet_a = cls.ec2.create_subnet(VpcId=cls.vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        cls.subnet_b = cls.ec2.create_subnet(VpcId=cls.vpc, CidrBlock="10.9.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()

    def create_stack(self, body, parameters=None):
        """Creates a stack of this body under a fresh name; returns the name and the status it settled in."""
        type(self).count += 1
        name = f"{self.STACK_PREFIX}{self.count}"
        self.cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                              Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()])
        return name, self.wait(name)

    def wait(self, name, limit=30):
        deadline = time.monotonic() + limit
        while True:
            status = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                return status
            self.assertLess(time.monotonic(), deadline, f"{name} still {status}")
            time.sleep(0.1)

    def physical(self, stack, logical):
        return self.cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"]["PhysicalResourceId"]
