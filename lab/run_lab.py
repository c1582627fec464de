"""The local lab: AutoMirror end to end on one machine, with no AWS account.

    python3 lab/run_lab.py [--json FILE] [--build-configuration Release]

Six steps, each announced on stderr ([n/6] ...):
  1. the local cloud (moto + AutoMirror's extension) and what template.yaml creates in it (lab/cloud_setup.py);
     the local Step Functions endpoint with both workflows, the local Lambda host with the real handlers, and the
     sensor in a network namespace with two analysers on its TAP: Suricata (or tshark when Suricata is absent) and
     tcpdump whose output the lab reads slowly on purpose; the sensor's health names both;
  2. the demo lab's instances (two labs, one untagged, one unsupported type, one interface already full);
  3. the EventBridge events AWS would emit for them, invoked on EventFunction, and the Attach executions they start;
  4. for every created session, real HTTP + DNS between two namespaces, wrapped in VXLAN as AWS does (outer source =
     the interface's address, the session's VNI) and sent to the sensor; per-VNI counts and analyser flows collected;
     each analyser's frames (Suricata's capture.kernel_packets and flows, tcpdump's pcap) against the sensor's per VNI;
  5. untag one instance, stop another, let lab "blue" expire, scheduled reconcile, idle-lab check and teardown;
  6. the report (stdout; --json writes the same data as a file).

Needs root (network namespaces), the built Release outputs of AutoMirror.LocalLambda and AutoMirror.Sensor, Node 22
with aws-local-stepfunctions in .tools/node (scripts/prereqs.sh), moto/boto3 in this python3 and scapy in Debian's.
Every process and namespace it starts is stopped and removed on every exit path.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "localcloud"))
import cloud_setup  # noqa: E402  (the lab's own module, next to this file)

ROOT = Path(__file__).resolve().parent.parent
STEPS = 7
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "automirror"
BUILD = ROOT / ".aws-sam" / "build"
SESSION_HOURLY_PRICE = 0.015
DEBIAN_PYTHON = "/usr/bin/python3"  # scapy lives in Debian's python, as in the sensor e2e
E2E = ROOT / "tests" / "sensor-e2e"
# The VPC's CIDR (cloud_setup.py): the sensor accepts outer sources only from here, as the deploy configures it.
VPC_CIDR = "10.20.0.0/16"
HEALTH_PORT = 8080
# TargetKind=gwlbe (issue #17 item 1): the Gateway Load Balancer's address in the sensor subnet, the outer source of
# the GENEVE it delivers (inside VPC_CIDR, which the sensor admits).
GATEWAY_ADDRESS = "10.20.100.9"
TARGET_KINDS = ("nlb", "eni", "gwlbe")

started = time.monotonic()


class StepFailed(Exception):
    pass


def progress(message):
    print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


class Step:
    """Names the step in progress so a failure says which one and why."""

    current = "start-up"

    def __init__(self, number, title):
        self.number, self.title = number, title

    def __enter__(self):
        Step.current = f"[{self.number}/{STEPS}] {self.title}"
        progress(Step.current)
        return self

    def __exit__(self, exc_type, *_):
        # A deliberate failure after a step, so the cleanup on failure can be tested with everything running.
        if exc_type is None and os.environ.get("AUTOMIRROR_LAB_FAIL_AFTER_STEP") == str(self.number):
            raise StepFailed("failing on purpose (AUTOMIRROR_LAB_FAIL_AFTER_STEP)")
        return False


def note(message):
    progress(f"      {message}")


# ---------------------------------------------------------------------------------------------------------------------
# Processes and namespaces, all released in cleanup()

class Resources:
    def __init__(self):
        self.processes = []  # (name, Popen)
        self.namespaces = []

    def start(self, name, args, log_path, env=None, stdout=None):
        log = open(log_path, "wb")
        process = subprocess.Popen(args, stdout=stdout or log, stderr=log, env=env, cwd=ROOT, start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop(self, process, timeout=15):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def cleanup(self):
        for _, process in reversed(self.processes):
            try:
                self.stop(process, timeout=10)
            except OSError:
                pass
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)


def run(args, what, timeout=60, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs)
    if result.returncode != 0:
        raise StepFailed(f"{what} failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}")
    return result.stdout


def wait_for(what, predicate, limit, interval=0.2):
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepFailed(f"timed out after {limit}s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(process, prefix, limit, what, log_path):
    """The first stdout line starting with prefix (services print a ready line)."""
    deadline = time.monotonic() + limit
    result = {}

    def reader():
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            # Keep reading after the ready line, so the child never blocks on a full pipe.
            if line.startswith(prefix) and "line" not in result:
                result["line"] = line
    threading.Thread(target=reader, daemon=True).start()
    while "line" not in result:
        if process.poll() is not None:
            raise StepFailed(f"{what} exited with {process.returncode}: {tail(log_path)}")
        if time.monotonic() > deadline:
            raise StepFailed(f"{what} not ready after {limit}s: {tail(log_path)}")
        time.sleep(0.05)
    return result["line"]


def tail(path, size=600):
    try:
        return Path(path).read_text(errors="replace")[-size:].strip()
    except OSError:
        return "(no log)"


def http_json(url, body=None, timeout=60, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read().decode()


# ---------------------------------------------------------------------------------------------------------------------
# The services

class Services:
    def __init__(self, resources, work, configuration):
        self.resources, self.work, self.configuration = resources, work, configuration
        self.node = ROOT / ".tools" / "node" / "node_modules" / ".bin" / "node"
        self.lambda_port, self.sfn_port = free_port(), free_port()
        self.lambda_url = f"http://127.0.0.1:{self.lambda_port}"
        self.sfn_url = f"http://127.0.0.1:{self.sfn_port}"
        self.cloud_url = None
        self.function_names = {}

    def aws_env(self):
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": self.cloud_url, "AWS_ENDPOINT_URL_SFN": self.sfn_url,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "automirror-lab", "AWS_SECRET_ACCESS_KEY": "automirror-lab",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        return env

    def start_cloud(self):
        log = self.work / "localcloud.log"
        # The stack's custom resource runs on the local Lambda host, as CloudFormation invokes it on AWS.
        env = dict(os.environ, PYTHONPATH=str(ROOT / "localcloud"), AUTOMIRROR_LAMBDA_ENDPOINT=self.lambda_url)
        process = self.resources.start("local cloud", [sys.executable, "-m", "automirror_localcloud", "--host", "127.0.0.1",
                                                       "--port", "0"], log, env=env, stdout=subprocess.PIPE)
        line = read_line(process, "automirror-localcloud ready ", 60, "the local cloud", log)
        self.cloud_url = line.split()[-1]
        return self.cloud_url

    def start_step_functions(self):
        if not self.node.exists():
            raise StepFailed(f"Node 22 is missing ({self.node.relative_to(ROOT)}): run scripts/prereqs.sh")
        args = [str(self.node), "localcloud/stepfunctions/sfn-server.mjs", "--port", str(self.sfn_port),
                "--retry-pause-ms", "50"]
        log = self.work / "stepfunctions.log"
        process = self.resources.start("step functions", args, log, env=self.aws_env(), stdout=subprocess.PIPE)
        read_line(process, "{", 30, "the local Step Functions endpoint", log)

    def copy_state_machines(self, stack):
        """The workflows run the definitions the stack holds (after DefinitionSubstitutions), under the stack's own
        state machine names, so the ARNs in the functions' environment are the ones that run."""
        cloud_sfn = boto3.client("stepfunctions", **self.client_settings(self.cloud_url))
        local_sfn = boto3.client("stepfunctions", **self.client_settings(self.sfn_url))
        for arn in (stack["attachStateMachineArn"], stack["teardownStateMachineArn"]):
            machine = cloud_sfn.describe_state_machine(stateMachineArn=arn)
            created = local_sfn.create_state_machine(name=machine["name"], definition=machine["definition"],
                                                     roleArn=machine["roleArn"] or f"arn:aws:iam::{ACCOUNT}:role/lab")
            if created["stateMachineArn"] != arn:
                raise StepFailed(f"the local Step Functions named {machine['name']} {created['stateMachineArn']}, not {arn}")

    @staticmethod
    def client_settings(endpoint):
        return dict(region_name=REGION, endpoint_url=endpoint, aws_access_key_id="automirror-lab",
                    aws_secret_access_key="automirror-lab")

    def start_lambda_host(self):
        """The functions as the stack deployed them: configuration (handler, environment) from the local cloud's
        Lambda API, code from the artifact `sam build` made."""
        dll = ROOT / "src" / "AutoMirror.LocalLambda" / "bin" / self.configuration / "net10.0" / "AutoMirror.LocalLambda.dll"
        if not dll.exists():
            raise StepFailed(f"{dll.relative_to(ROOT)} is missing: build it first (scripts/lab.sh does)")
        if not (BUILD / "EventFunction" / "AutoMirror.Functions.dll").exists():
            raise StepFailed(f"{BUILD.relative_to(ROOT)} has no function artifact: run python3 scripts/sam-build.py first")
        args = ["dotnet", str(dll), "--port", str(self.lambda_port), "--deployed-in", self.cloud_url,
                "--assembly-dir", str(BUILD / "EventFunction")]
        log = self.work / "locallambda.log"
        process = self.resources.start("lambda host", args, log, env=self.aws_env(), stdout=subprocess.PIPE)
        read_line(process, "automirror-locallambda ready ", 60, "the local Lambda host", log)

    def deploy(self, parameters, sensors_ready):
        """`sam deploy` of .aws-sam/build/template.yaml into the local cloud, the network made first as a user's."""
        from automirror_localcloud import deploy as local_deploy

        ec2 = boto3.client("ec2", **self.client_settings(self.cloud_url))
        network = local_deploy.create_network(ec2)
        values = {**local_deploy.network_parameters(network), **parameters}
        try:
            deployed = local_deploy.deploy(self.cloud_url, BUILD / "template.yaml", STACK_NAME, values, timeout=240,
                                           answer_signals=True, sensors_ready=sensors_ready)
        except local_deploy.DeployFailed as error:
            raise StepFailed(f"deploy: {error}") from error
        deployed["network"] = network
        return deployed

    def invoke(self, function, payload):
        """Invokes a function of the stack by its template logical id, under the name the stack gave it."""
        name = self.function_names.get(function, function)
        status, headers, body = http_json(f"{self.lambda_url}/2015-03-31/functions/{name}/invocations", payload, timeout=120)
        if any(k.lower() == "x-amz-function-error" for k in headers):
            raise StepFailed(f"{function} failed: {body[:800]}")
        return json.loads(body)

    def control(self, route, body):
        return json.loads(http_json(f"{self.cloud_url}/_automirror/{route}", body)[2])


# ---------------------------------------------------------------------------------------------------------------------
# The sensor side: namespaces, sensor, analyser, traffic

class Network:
    """client ns ──veth── server ns: the lab's real traffic (HTTP + DNS), captured on the client.
    client ns ──veth── sensor ns: the same frames, wrapped in VXLAN as AWS wraps mirrored packets, to the sensor.
    The NLB hop is left out: a UDP NLB keeps the outer source address, which is all the sensor checks."""

    def __init__(self, resources, work):
        self.resources, self.work = resources, work
        tag = f"{os.getpid() % 0xFFFF:04x}"
        self.client, self.server, self.sensor = f"amlc{tag}", f"amls{tag}", f"amlx{tag}"
        self.tap = f"amltap{tag}"

    def ns(self, name, *args):
        return ["ip", "netns", "exec", name, *args]

    def create(self):
        for ns in (self.client, self.server, self.sensor):
            run(["ip", "netns", "add", ns], f"ip netns add {ns}")
            self.resources.namespaces.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"], "loopback up")
            # IPv4 only, as the mirrored lab: no IPv6 neighbour chatter mixed into the captures.
            run(self.ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"), "disable IPv6")
        commands = [
            ["ip", "link", "add", "c0", "netns", self.client, "type", "veth", "peer", "name", "s0", "netns", self.server],
            ["ip", "link", "add", "c1", "netns", self.client, "type", "veth", "peer", "name", "x0", "netns", self.sensor],
            ["ip", "-n", self.client, "addr", "add", "10.77.1.1/24", "dev", "c0"],
            ["ip", "-n", self.server, "addr", "add", "10.77.1.2/24", "dev", "s0"],
            ["ip", "-n", self.client, "addr", "add", "10.99.0.1/24", "dev", "c1"],
            ["ip", "-n", self.sensor, "addr", "add", "10.99.0.2/24", "dev", "x0"],
            # Mirrored packets may be up to 8500 bytes on AWS; the captures hold GSO frames above 1500.
            ["ip", "-n", self.client, "link", "set", "c1", "mtu", "9000"],
            ["ip", "-n", self.sensor, "link", "set", "x0", "mtu", "9000"],
        ]
        for ns, dev in ((self.client, "c0"), (self.server, "s0"), (self.client, "c1"), (self.sensor, "x0")):
            commands.append(["ip", "-n", ns, "link", "set", dev, "up"])
        # The outer sources are the VPC's interface addresses, reached through the mirror link, which is the sensor's
        # default route as on an EC2 sensor (its subnet's router): the sensor's receive=auto takes that interface.
        commands.append(["ip", "-n", self.sensor, "route", "add", "default", "via", "10.99.0.1"])
        for command in commands:
            run(command, " ".join(command))

    def mac(self, ns, dev):
        return run(["ip", "-n", ns, "-br", "link", "show", dev], "ip link show").split()[2]

    def curl(self, url, timeout=5):
        return subprocess.run(self.ns(self.sensor, "curl", "-s", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", url),
                              capture_output=True, text=True, check=False).stdout


class Sensor:
    def __init__(self, resources, network, work, configuration, geneve=False):
        self.resources, self.network, self.work = resources, network, work
        self.configuration = configuration
        self.geneve = geneve
        self.process = None

    def restart(self, downstream, vlan_by_vni):
        self.resources.stop(self.process)
        self.start(downstream, vlan_by_vni)

    def start(self, downstream, vlan_by_vni):
        dll = ROOT / "src" / "AutoMirror.Sensor" / "bin" / self.configuration / "net10.0" / "AutoMirror.Sensor.dll"
        if not dll.exists():
            raise StepFailed(f"{dll.relative_to(ROOT)} is missing: build it first (scripts/lab.sh does)")
        args = self.network.ns(self.network.sensor, "dotnet", str(dll), "--tap", self.network.tap,
                               "--health-port", str(HEALTH_PORT), "--source-networks", VPC_CIDR,
                               "--downstream-process", downstream, "--workers", "2",
                               "--Sensor:StatsLogSeconds=5")
        if self.geneve:
            args.append("--Sensor:GeneveEnabled=true")  # what install.sh --geneve writes for TargetKind=gwlbe
        # One VLAN per lab's VNI: the analyser keys flows by VLAN too, so the labs' flows stay apart.
        for vni, vlan in vlan_by_vni.items():
            args.append(f"--Sensor:VlanByVni:{vni}={vlan}")
        self.log = self.work / f"sensor-{len(self.resources.processes)}.log"
        self.process = self.resources.start("sensor", args, self.log)
        wait_for("the sensor's health endpoint", lambda: self.health()[0] != "000" or self.exited(), 60)
        if self.process.poll() is not None:
            raise StepFailed(f"the sensor exited with {self.process.returncode}: {tail(self.log)}")

    def exited(self):
        if self.process.poll() is not None:
            raise StepFailed(f"the sensor exited with {self.process.returncode}: {tail(self.log)}")
        return False

    def health(self):
        out = self.network.curl(f"http://127.0.0.1:{HEALTH_PORT}/health", timeout=2)
        body, _, code = out.rpartition("\n")
        return (code.strip() or "000"), body.strip()

    def vni_frames(self):
        out = self.network.curl(f"http://127.0.0.1:{HEALTH_PORT}/metrics")
        counts = {}
        for match in re.finditer(r'^automirror_sensor_vni_frames_total\{vni="(\d+)"\} (\d+)', out, re.M):
            counts[int(match.group(1))] = int(match.group(2))
        return counts

    def metrics_text(self):
        return self.network.curl(f"http://127.0.0.1:{HEALTH_PORT}/metrics").rpartition("\n")[0]


class HealthFollower:
    """Makes the target group's health follow the real sensor's /health, as the NLB's HTTP check would."""

    def __init__(self, services, sensor, target_group):
        self.services, self.sensor, self.target_group = services, sensor, target_group
        self.state, self.transitions = None, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._poll()
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _poll(self):
        code, body = self.sensor.health()
        state = "healthy" if code == "200" else "unhealthy"
        if state != self.state:
            # TargetKind=eni has no target group: the health gate is the running sensor holding the interface.
            if self.target_group:
                self.services.control("target-health", {"targetGroupArn": self.target_group, "state": state})
            self.transitions.append({"at": round(time.monotonic() - started, 1), "state": state, "http": code,
                                     "detail": body[:200]})
            self.state = state

    def _loop(self):
        while not self._stop.wait(0.5):
            try:
                self._poll()
            except (OSError, urllib.error.URLError, StepFailed):
                pass  # the next poll tries again; the attach workflow's own health gate waits meanwhile


class Analyser:
    """Suricata sniffing the TAP (the real downstream analyser), or tshark when Suricata is absent."""

    def __init__(self, resources, network, work):
        self.resources, self.network, self.work = resources, network, work
        # AUTOMIRROR_LAB_ANALYSER=tshark takes the fallback even where Suricata is installed (to try it).
        wanted = os.environ.get("AUTOMIRROR_LAB_ANALYSER")
        self.kind = wanted or ("suricata" if shutil.which("suricata") else "tshark")
        self.process = None
        self.live_dir = work / "analyser-live"

    @property
    def downstream_process(self):
        # The sensor's health names the analyser's process (Suricata's main thread is "Suricata-Main").
        return "Suricata-Main" if self.kind == "suricata" else "tshark"

    def start(self):
        self.live_dir.mkdir(parents=True, exist_ok=True)
        if self.kind == "suricata":
            # Stats every second (eve.json "stats" events): the lab reads capture.kernel_packets while traffic flows.
            args = self.network.ns(self.network.sensor, "suricata", "-k", "none", "-S", "/dev/null",
                                   "--set", "unix-command.enabled=no", "--set", "stats.interval=1",
                                   f"--af-packet={self.network.tap}", "-l", str(self.live_dir))
            self.process = self.resources.start("suricata", args, self.live_dir / "stdout.log")
        else:
            args = self.network.ns(self.network.sensor, "tshark", "-q", "-i", self.network.tap, "-w", str(self.live_dir / "tap.pcapng"))
            self.process = self.resources.start("tshark", args, self.live_dir / "stdout.log")

    def wait_ready(self):
        if self.kind == "suricata":
            wait_for("Suricata's engine to start", lambda: self._alive() and "Engine started" in tail(self.live_dir / "suricata.log", 100000), 120)
        else:
            wait_for("tshark to capture", lambda: self._alive() and "Capturing on" in tail(self.live_dir / "stdout.log"), 60)

    def _alive(self):
        if self.process.poll() is not None:
            raise StepFailed(f"{self.kind} exited with {self.process.returncode}: {tail(self.live_dir / 'stdout.log')}")
        return True

    def frames_so_far(self):
        """Frames the analyser has taken off the TAP so far: Suricata's latest capture.kernel_packets (eve stats, each
        second); None for tshark, which reports nothing while it runs."""
        if self.kind != "suricata":
            return None
        return (suricata_capture(self.live_dir / "eve.json") or {}).get("kernel_packets")

    def finish(self):
        """Stops the live analyser (Suricata logs every open flow on shutdown) and returns its flows."""
        self.resources.stop(self.process, timeout=60)
        if self.kind == "suricata":
            return suricata_flows(self.live_dir / "eve.json")
        return tshark_flows(self.live_dir / "tap.pcapng")

    def captured(self):
        """After finish(): (frames taken off the TAP, frames the kernel dropped for it). Suricata's are its own
        counters: the shutdown line `device: <tap>: packets: N, drops: D`, else the last capture.kernel_packets."""
        if self.kind == "suricata":
            match = None
            for match in re.finditer(rf"device: {re.escape(self.network.tap)}: packets: (\d+), drops: (\d+)",
                                     tail(self.live_dir / "suricata.log", 1000000)):
                pass
            if match:
                return int(match.group(1)), int(match.group(2))
            last = suricata_capture(self.live_dir / "eve.json") or {}
            return last.get("kernel_packets"), last.get("kernel_drops")
        out = subprocess.run(["tshark", "-r", str(self.live_dir / "tap.pcapng"), "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, check=False).stdout
        return len(out.split()), None

    def offline(self, capture, out_dir):
        """The same analyser reading the original capture: what it should find in the mirrored copy."""
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.kind == "suricata":
            return subprocess.Popen(["suricata", "-k", "none", "-S", "/dev/null", "--set", "unix-command.enabled=no",
                                     "-r", str(capture), "-l", str(out_dir)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, cwd=ROOT)
        return None

    def offline_flows(self, capture, out_dir):
        if self.kind == "suricata":
            return suricata_flows(out_dir / "eve.json")
        return tshark_flows(capture)


def suricata_flows(eve):
    """Flows by (vlan, proto, src, sport, dst, dport) with packet counts, and application events by type."""
    flows, events = {}, {}
    if not eve.exists():
        raise StepFailed(f"Suricata wrote no {eve.name}")
    for line in eve.read_text().splitlines():
        event = json.loads(line)
        kind = event.get("event_type")
        vlan = (event.get("vlan") or [0])[0]
        if kind == "flow":
            key = (vlan, event.get("proto"), event.get("src_ip"), event.get("src_port"), event.get("dest_ip"), event.get("dest_port"))
            f = event["flow"]
            flows[key] = {"packets": f.get("pkts_toserver", 0) + f.get("pkts_toclient", 0), "app": event.get("app_proto")}
        elif kind in ("http", "dns"):
            events[(vlan, kind)] = events.get((vlan, kind), 0) + 1
    return flows, events


def suricata_capture(eve):
    """The capture counters of Suricata's latest stats event in eve.json (kernel_packets, kernel_drops), or None."""
    last = None
    if eve.exists():
        for line in eve.read_text().splitlines():
            if '"event_type":"stats"' in line:
                try:
                    last = json.loads(line)["stats"].get("capture")
                except (ValueError, KeyError):
                    pass  # a line Suricata is still writing
    return last


def pcap_frames(path):
    """Frames in a pcap file by 802.1Q VLAN id (0: untagged): what tcpdump wrote."""
    by_vlan = {}
    with open(path, "rb") as f:
        header = f.read(24)
        order = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            record = f.read(16)
            if len(record) < 16:
                break
            length = struct.unpack(order + "I", record[8:12])[0]
            frame = f.read(length)
            vlan = int.from_bytes(frame[14:16], "big") & 0x0FFF if frame[12:14] == b"\x81\x00" else 0
            by_vlan[vlan] = by_vlan.get(vlan, 0) + 1
    return by_vlan


class SlowTcpdump:
    """The second analyser on the TAP: tcpdump, its capture written through a pipe that the lab reads slowly, one frame
    per FRAME_DELAY, far slower than the traffic. tcpdump then queues frames in its own packet socket's buffer (-B), and
    would drop them there when it is full: the kernel gives each packet socket on the TAP its own copy, so the slow
    reader delays only itself, never the sensor's writes or Suricata. The lab counts how far behind it fell."""

    FRAME_DELAY = 0.05

    def __init__(self, resources, network, work):
        self.resources, self.network, self.work = resources, network, work
        self.process, self.frames, self.runs = None, 0, 0
        self.behind_max = 0

    def start(self):
        self.runs += 1
        self.pcap = self.work / f"tap-tcpdump-{self.runs}.pcap"
        self.log = self.work / f"tap-tcpdump-{self.runs}.log"
        self.frames = 0
        # -Q in: the frames the sensor writes into the TAP (what the kernel receives on it); -B 64 MiB of buffer.
        self.process = self.resources.start("tcpdump (TAP)", self.network.ns(
            self.network.sensor, "tcpdump", "-i", self.network.tap, "-Q", "in", "--immediate-mode", "-U", "-s", "0", "-B", "65536", "-w", "-"),
            self.log, stdout=subprocess.PIPE)
        self._pump_thread = threading.Thread(target=self._pump, args=(self.process.stdout, self.pcap), daemon=True)
        self._pump_thread.start()
        wait_for("tcpdump on the TAP", lambda: self._alive() and "listening on" in tail(self.log), 20, interval=0.05)

    def _alive(self):
        if self.process.poll() is not None:
            raise StepFailed(f"tcpdump on the TAP exited with {self.process.returncode}: {tail(self.log)}")
        return True

    def _pump(self, pipe, path):
        with open(path, "wb") as out:
            header = pipe.read(24)
            out.write(header)
            order = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            while True:
                record = pipe.read(16)
                if len(record) < 16:
                    break
                frame = pipe.read(struct.unpack(order + "I", record[8:12])[0])
                out.write(record + frame)
                out.flush()
                self.frames += 1
                time.sleep(self.FRAME_DELAY)

    def note_behind(self, forwarded):
        behind = forwarded - self.frames
        self.behind_max = max(self.behind_max, behind)
        return behind

    def finish(self, expected, limit=60):
        """Waits until the slow reader has every one of `expected` frames (or the limit), stops tcpdump, and returns
        (frames per VLAN in its pcap, frames the kernel dropped for it by its own count)."""
        try:
            wait_for(f"the slow tcpdump to write {expected} frames", lambda: self.frames >= expected, limit)
        except StepFailed:
            pass  # reported as a mismatch with the numbers
        self.resources.stop(self.process)
        self._pump_thread.join(timeout=limit)
        dropped = re.search(r"(\d+) packets? dropped by kernel", tail(self.log, 4000))
        return pcap_frames(self.pcap), (int(dropped.group(1)) if dropped else None)


def tshark_flows(capture):
    """tshark's view when Suricata is absent: conversations by the same key, counted packets; no app events."""
    out = subprocess.run(["tshark", "-r", str(capture), "-T", "fields", "-e", "vlan.id", "-e", "ip.proto", "-e", "ip.src",
                          "-e", "tcp.srcport", "-e", "udp.srcport", "-e", "ip.dst", "-e", "tcp.dstport", "-e", "udp.dstport",
                          "-Y", "ip"], capture_output=True, text=True, check=False).stdout
    flows = {}
    for line in out.splitlines():
        vlan, proto, src, tsp, usp, dst, tdp, udp_ = (line.split("\t") + [""] * 8)[:8]
        names = {"6": "TCP", "17": "UDP", "1": "ICMP"}
        sport, dport = int(tsp or usp or 0), int(tdp or udp_ or 0)
        a, b = (src, sport), (dst, dport)
        first, second = (a, b) if a <= b else (b, a)
        key = (int(vlan or 0), names.get(proto, proto), first[0], first[1], second[0], second[1])
        flows.setdefault(key, {"packets": 0, "app": None})["packets"] += 1
    return flows, {}


class Generator:
    """Real traffic per session (captured once per session, so every session's flows are its own) and its VXLAN copy."""

    def __init__(self, resources, network, work, target_kind="nlb"):
        self.resources, self.network, self.work = resources, network, work
        self.target_kind = target_kind

    def start_servers(self):
        ns = self.network.server
        self.resources.start("http server", self.network.ns(ns, DEBIAN_PYTHON, "-m", "http.server", "8080", "--bind", "10.77.1.2",
                                                            "--directory", str(E2E)), self.work / "http-server.log")
        self.resources.start("dns server", self.network.ns(ns, DEBIAN_PYTHON, str(E2E / "traffic.py"), "dns-server", "10.77.1.2"),
                             self.work / "dns-server.log")
        wait_for("the lab's HTTP server", lambda: subprocess.run(
            self.network.ns(self.network.client, "curl", "-s", "-o", "/dev/null", "-m", "2", "http://10.77.1.2:8080/traffic.py"),
            check=False).returncode == 0, 20)

    def capture(self, name):
        """The sensor e2e's application traffic (three HTTP requests, three DNS queries), captured on the client."""
        pcap = self.work / f"{name}.pcap"
        log = self.work / f"{name}-tcpdump.log"
        tcpdump = self.resources.start("tcpdump", self.network.ns(self.network.client, "tcpdump", "-i", "c0", "--immediate-mode", "-U", "-s", "0",
                                                                  "-w", str(pcap), "ip"), log)
        wait_for("tcpdump", lambda: "listening on" in tail(log), 10, interval=0.05)
        c = self.network.client
        for args in (["curl", "-s", "-o", "/dev/null", "http://10.77.1.2:8080/traffic.py"],
                     ["curl", "-s", "-o", "/dev/null", "http://10.77.1.2:8080/e2e.sh"],
                     ["curl", "-s", "-o", "/dev/null", "-A", "automirror-lab", "http://10.77.1.2:8080/missing"],
                     [DEBIAN_PYTHON, str(E2E / "traffic.py"), "dns-client", "10.77.1.2", f"{name}.lab.automirror.test",
                      "zeek.automirror.test", "www.example.test"]):
            run(self.network.ns(c, *args), f"traffic {args[0]}", timeout=20)
        time.sleep(0.5)  # the last FIN/ACKs and DNS answers reach tcpdump before it stops
        self.resources.stop(tcpdump)
        return pcap

    def wrap(self, original, wrapped, vni, source_ip):
        src_mac = self.network.mac(self.network.client, "c1")
        dst_mac = self.network.mac(self.network.sensor, "x0")
        # The mirror path per target kind: nlb and eni deliver the source's VXLAN as it is (a UDP NLB keeps the
        # outer source; an interface target is the sensor itself); gwlbe wraps it in GENEVE from the load balancer.
        gateway = ["--geneve-from", GATEWAY_ADDRESS] if self.target_kind == "gwlbe" else []
        return subprocess.Popen([DEBIAN_PYTHON, str(E2E / "vxlan_wrap.py"), str(original), str(wrapped), "--vni", str(vni),
                                 "--src", source_ip, "--dst", "10.99.0.2", "--src-mac", src_mac, "--dst-mac", dst_mac,
                                 *gateway],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def replay(self, wrapped):
        run(self.network.ns(self.network.client, "tcpreplay", "-q", "-i", "c1", "--pps", "1000", str(wrapped)), "tcpreplay", timeout=60)


# ---------------------------------------------------------------------------------------------------------------------
# Events, in the shapes EventBridge delivers (the fixtures in events/), with the lab's ids and the current time

def mirrored_bytes(pcap, instance_address="10.77.1.1"):
    """(in, out) bytes of a capture as the instance sees them: frames from its address are outbound. This is what
    EC2 publishes as NetworkMirrorIn/NetworkMirrorOut for a mirrored instance."""
    data = pcap.read_bytes()
    big = data[:4] == b"\xa1\xb2\xc3\xd4"
    order = ">" if big else "<"
    source = socket.inet_aton(instance_address)
    inbound = outbound = 0
    offset = 24
    while offset + 16 <= len(data):
        captured, original = struct.unpack(order + "II", data[offset + 8:offset + 16])
        frame = data[offset + 16:offset + 16 + captured]
        if len(frame) >= 30 and frame[26:30] == source:
            outbound += original
        else:
            inbound += original
        offset += 16 + captured
    return inbound, outbound


def event_from(fixture, instance_id, event_id, **detail):
    event = json.loads((ROOT / "events" / fixture).read_text())
    event["id"] = event_id
    event["time"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if instance_id:
        event["resources"] = [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"]
        if "instance-id" in event["detail"]:
            event["detail"]["instance-id"] = instance_id
    event["detail"].update(detail)
    return event


def wait_executions(sfn, arns, limit):
    results = {}

    def done():
        for arn in arns:
            if arn not in results:
                d = sfn.describe_execution(executionArn=arn)
                if d["status"] != "RUNNING":
                    results[arn] = d
        return len(results) == len(arns)
    wait_for(f"{len(arns)} executions to finish", done, limit, interval=0.3)
    return results


# ---------------------------------------------------------------------------------------------------------------------

def interrupted(signum, frame):
    raise KeyboardInterrupt()


def main():
    parser = argparse.ArgumentParser(description="AutoMirror's local lab: the whole system end to end, no AWS account.")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--build-configuration", default="Release", help="which build of the .NET projects to run")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs, captures, eve.json)")
    parser.add_argument("--target-kind", choices=TARGET_KINDS, default="nlb",
                        help="the template's TargetKind: nlb (default), eni (the sensor's interface) or gwlbe (a Gateway "
                             "Load Balancer endpoint, GENEVE to the sensor)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("lab: network namespaces need root; run it as root (sudo scripts/lab.sh)", file=sys.stderr)
        return 2

    missing = [tool for tool in ("ip", "tcpdump", "tcpreplay", "curl", "dotnet") if not shutil.which(tool)]
    if not Path(DEBIAN_PYTHON).exists() or subprocess.run([DEBIAN_PYTHON, "-c", "import scapy"], capture_output=True).returncode:
        missing.append(f"scapy for {DEBIAN_PYTHON} (Debian's python3-scapy)")
    if not shutil.which("suricata") and not shutil.which("tshark"):
        missing.append("an analyser (suricata, or tshark)")
    if missing:
        print(f"lab: missing {', '.join(missing)}: run scripts/prereqs.sh (scripts/lab.sh does)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="automirror-lab-"))
    resources = Resources()
    # SIGTERM (a CI timeout, a kill) takes the same exit path as a failure: cleanup in finally.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = run_lab(resources, work, args.build_configuration, args.target_kind)
    except (StepFailed, subprocess.TimeoutExpired, urllib.error.URLError, OSError, KeyError, ValueError,
            boto3.exceptions.Boto3Error, KeyboardInterrupt) as error:
        if isinstance(error, KeyboardInterrupt):
            error = "interrupted"
        print(f"lab: FAILED in {Step.current}: {error}", file=sys.stderr)
        print(f"lab: logs kept in {work}", file=sys.stderr)
        args.keep = True
        return 1
    except Exception as error:  # botocore's ClientError and the like: still name the step, still clean up
        print(f"lab: FAILED in {Step.current}: {type(error).__name__}: {error}", file=sys.stderr)
        print(f"lab: logs kept in {work}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        progress("cleanup: stopping processes, removing namespaces")
        resources.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["durationSeconds"] = round(time.monotonic() - started, 1)
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] else 1


def run_lab(resources, work, configuration, target_kind="nlb"):
    services = Services(resources, work, configuration)
    network = Network(resources, work)
    analyser = Analyser(resources, network, work)
    second = SlowTcpdump(resources, network, work)
    # The sensor's health names every analyser on the TAP (as the installer writes it for Analyzers=zeek,suricata).
    downstream = f"{analyser.downstream_process},tcpdump"
    report = {"analyser": analyser.kind, "targetKind": target_kind, "instances": [], "labs": [], "vnis": [], "changes": [],
              "checks": []}
    if analyser.kind != "suricata":
        progress("note: Suricata is not installed; tshark reads the TAP instead (flows only, no HTTP/DNS events)")

    with Step(1, "local cloud, `sam deploy` of template.yaml into it, workflows, Lambda host, sensor"):
        cloud = services.start_cloud()
        note(f"local cloud at {cloud}")
        ec2 = boto3.client("ec2", **Services.client_settings(cloud))
        cfn = boto3.client("cloudformation", **Services.client_settings(cloud))
        services.start_lambda_host()
        services.start_step_functions()
        network.create()
        note(f"namespaces {network.client} (lab client), {network.server} (lab server), {network.sensor} (sensor)")
        # The sensor and its analyser come up first: the stack waits for the sensor group's signal, which a sensor
        # sends once its health check passes, as the bootstrap does on AWS.
        sensor = Sensor(resources, network, work, configuration, geneve=target_kind == "gwlbe")
        sensor.start(downstream, {})
        analyser.start()
        second.start()
        deployed = services.deploy({
            # The template's parameters, set as a user would for a fast local run.
            "HealthPollSeconds": "1", "HealthMaxAttempts": "60", "TeardownAction": "detach", "TeardownConcurrency": "4",
            "TargetKind": target_kind,
        }, sensors_ready=lambda: sensor.health()[0] == "200")
        stack = cloud_setup.stack_view(deployed)
        services.function_names = stack["functions"]
        report["stack"] = {k: v for k, v in stack.items() if k != "functions"}
        report["stackOutputs"] = deployed["outputs"]
        note(f"stack {stack['stackName']} {deployed['status']} with {len(deployed['resources'])} resources: "
             f"target kind {target_kind} ({stack['targetName']}), mirror target {stack['mirrorTargetId']}, "
             f"filter {stack['mirrorFilterId']}, {len(stack['functions'])} functions")
        services.copy_state_machines(stack)
        note(f"Step Functions endpoint {services.sfn_url} runs the stack's workflows; Lambda host {services.lambda_url} "
             "runs the built functions with the stack's environment")
        follower = HealthFollower(services, sensor, stack["targetGroupArn"])
        follower.start()
        note(f"sensor in {network.sensor} (TAP {network.tap}); {analyser.kind} and tcpdump (read slowly) on the TAP; "
             f"target health follows the sensor's /health, which needs both ({downstream})")

    with Step(2, "launching the lab: labs red and blue, one untagged, one t2.micro, one interface already full"):
        instances, foreign = cloud_setup.create_lab(ec2, stack)
        for instance in instances:
            note(f"{instance['name']:<9} {instance['instanceId']} {instance['instanceType']:<9} expect: {instance['expect']}")
        report["foreignSessions"] = foreign["sessionIds"]

    sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=services.sfn_url,
                       aws_access_key_id="automirror-lab", aws_secret_access_key="automirror-lab")
    by_id = {i["instanceId"]: i for i in instances}

    with Step(3, "attach: EC2 'running' events to EventFunction, Attach workflow per instance"):
        executions = {}
        for instance in instances:
            event = event_from("ec2-state-running.json", instance["instanceId"], f"lab-running-{instance['instanceId']}",
                               state="running")
            answer = services.invoke("EventFunction", event)
            instance["event"] = {"type": "running", "action": answer.get("action"), "reason": answer.get("reason")}
            if answer.get("executionArn"):
                executions[answer["executionArn"]] = instance
        note(f"{len(executions)} executions started, {len(instances) - len(executions)} events answered without one")

        results = wait_executions(sfn, list(executions), 120)
        for arn, result in results.items():
            instance = executions[arn]
            output = json.loads(result.get("output") or "{}")
            plan = output.get("plan") or {}
            instance["execution"] = {"name": result["name"], "status": result["status"], "error": result.get("error"),
                                     "cause": (result.get("cause") or "")[:300] or None}
            instance["decision"] = plan.get("decision")
            # An attach's outcome is Verify's status (mirrored, session-limit); a skip's is the plan's reason.
            verified = output.get("verified") or {}
            instance["reason"] = verified.get("status") or plan.get("reason")
        for instance in instances:
            if "execution" not in instance:
                instance["decision"] = instance["event"]["action"]
                instance["reason"] = instance["event"]["reason"]
        statuses = [r["status"] for r in results.values()]
        note(f"executions: {statuses.count('SUCCEEDED')} succeeded, {statuses.count('FAILED')} failed; "
             f"target health transitions: {[t['state'] for t in follower.transitions]}")
        report["targetHealth"] = follower.transitions

        # Verify queues a create-first attach's automirror:status in its container's batch (StatusTagBatch), written
        # within 30 s: wait for the verdicts the executions reported before reading the tags.
        expected = {i["instanceId"]: i["reason"] for i in instances if i.get("execution") and i["reason"] in ("mirrored", "session-limit")}
        deadline = time.monotonic() + 40
        while expected and time.monotonic() < deadline:
            if all(instance_tags(ec2, iid).get("automirror:status") == status for iid, status in expected.items()):
                break
            time.sleep(1)

        sessions = managed_sessions(ec2, stack)
        enis = {e["NetworkInterfaceId"]: e for e in ec2.describe_network_interfaces()["NetworkInterfaces"]}
        for instance in instances:
            tags = instance_tags(ec2, instance["instanceId"])
            instance["lab"] = tags.get("lab")
            instance["statusTag"] = tags.get("automirror:status")
            mine = [s for s in sessions if session_tag(s, "automirror:instance-id") == instance["instanceId"]]
            instance["sessions"] = [{
                "sessionId": s["TrafficMirrorSessionId"], "networkInterfaceId": s["NetworkInterfaceId"],
                "privateIp": enis[s["NetworkInterfaceId"]]["PrivateIpAddress"], "sessionNumber": s["SessionNumber"],
                "vni": s["VirtualNetworkId"],
            } for s in sorted(mine, key=lambda s: s["NetworkInterfaceId"])]
        created = sum(len(i["sessions"]) for i in instances)
        note(f"{created} AutoMirror sessions exist")
        # One VLAN per VNI (per lab), so the analyser, which keys flows by VLAN, keeps the labs apart. The VNIs are
        # known once the sessions exist: the sensor is restarted with the map, as an operator would deploy it; its
        # TAP persists across the restart, so the analyser keeps sniffing it.
        vlan_by_vni = {vni: 100 + n for n, vni in enumerate(sorted({s["vni"] for i in instances for s in i["sessions"]}))}
        for instance in instances:
            for session in instance["sessions"]:
                session["vlan"] = vlan_by_vni[session["vni"]]
        sensor.restart(downstream, vlan_by_vni)
        note(f"sensor restarted with VLAN per VNI {vlan_by_vni}")
        analyser.wait_ready()
        wait_for("the sensor's health to be 200", lambda: sensor.health()[0] == "200", 30)
        # The sensor runs with its default receive setting (auto): say which path it chose and why it refused others.
        health = json.loads(sensor.health()[1] or "{}")
        report["receivePath"] = {"path": health.get("receive_path"), "refused": health.get("receive_fallbacks")}
        note(f"sensor receive path: {health.get('receive_path')} (refused before it: {health.get('receive_fallbacks') or 'none'})")
        note(f"{analyser.kind} and tcpdump reading {network.tap}; sensor healthy")

    with Step(4, f"traffic: real HTTP + DNS per session, wrapped in VXLAN as AWS does, to the sensor; {analyser.kind} on the TAP"):
        generator = Generator(resources, network, work, target_kind)
        generator.start_servers()
        all_sessions = [(instance, s) for instance in instances for s in instance["sessions"]]
        wrappers, offline = [], []
        for n, (instance, session) in enumerate(all_sessions):
            original = generator.capture(f"session{n}")
            session["capture"] = original
            wrapped = work / f"session{n}-vxlan.pcap"
            wrappers.append((session, original, wrapped, generator.wrap(original, wrapped, session["vni"], session["privateIp"])))
            offline.append((session, original, work / f"offline{n}", analyser.offline(original, work / f"offline{n}")))
        note(f"{len(all_sessions)} captures made (one per session, so each session's flows are its own)")
        expected_frames = {}
        for session, original, wrapped, process in wrappers:
            out, err = process.communicate(timeout=120)
            if process.returncode != 0:
                raise StepFailed(f"vxlan_wrap.py failed: {err.strip()[-400:]}")
            session["packetsSent"] = int(out.split()[0])
        for session, original, wrapped, _ in wrappers:
            before = sensor.vni_frames().get(session["vni"], 0)
            generator.replay(wrapped)
            target = before + session["packetsSent"]
            try:
                wait_for(f"the sensor to count {target} frames on VNI {session['vni']}",
                         lambda: sensor.vni_frames().get(session["vni"], 0) >= target, 20)
            except StepFailed:
                pass  # reported below as a mismatch, with the numbers, rather than a bare timeout
            session["packetsSeen"] = sensor.vni_frames().get(session["vni"], 0) - before
            expected_frames[session["vni"]] = expected_frames.get(session["vni"], 0) + session["packetsSent"]
            note(f"{session['sessionId']} VNI {session['vni']} from {session['privateIp']}: "
                 f"sent {session['packetsSent']}, sensor forwarded {session['packetsSeen']}; "
                 f"the slow tcpdump is {second.note_behind(sum(sensor.vni_frames().values()))} frames behind")
        # The moment the sensor has written its last frame: Suricata (full speed) must have every one while the
        # throttled tcpdump is still behind; its frames wait in its own socket buffer, not in front of Suricata's.
        forwarded = sum(sensor.vni_frames().values())
        shared = {"forwarded": forwarded, "tcpdumpFrameDelayMs": int(SlowTcpdump.FRAME_DELAY * 1000),
                  "tcpdumpBehindAtSensorDone": second.note_behind(forwarded)}
        if analyser.kind == "suricata":
            caught_up = time.monotonic()
            try:
                wait_for(f"Suricata's capture.kernel_packets to reach {forwarded}",
                         lambda: (analyser.frames_so_far() or 0) >= forwarded, 10, interval=0.1)
            except StepFailed:
                pass  # reported below as a mismatch
            shared["suricataHadAllAfterSeconds"] = round(time.monotonic() - caught_up, 1)
            shared["suricataFramesThen"] = analyser.frames_so_far()
        shared["tcpdumpBehindThen"] = second.note_behind(forwarded)
        shared["tcpdumpBehindMax"] = second.behind_max
        note(f"sensor done: {forwarded} frames forwarded; {analyser.kind} had "
             f"{shared.get('suricataFramesThen', 'n/a')} ({shared.get('suricataHadAllAfterSeconds', 'n/a')} s later, "
             f"its stats interval is 1 s), tcpdump (one frame per {shared['tcpdumpFrameDelayMs']} ms) was "
             f"{shared['tcpdumpBehindAtSensorDone']} behind, then still {shared['tcpdumpBehindThen']}")
        time.sleep(1.5)  # let the analyser take the last frames off the TAP
        final_counts = sensor.vni_frames()
        (work / "metrics.txt").write_text(sensor.metrics_text())
        live_flows, live_events = analyser.finish()
        tcpdump_by_vlan, tcpdump_dropped = second.finish(sum(final_counts.values()))
        report["twoAnalysers"] = two_analysers(analyser, live_flows, tcpdump_by_vlan, tcpdump_dropped, vlan_by_vni,
                                               final_counts, shared)
        for line in two_analysers_lines(report["twoAnalysers"]):
            note(line)
        for session, original, out_dir, process in offline:
            if process is not None and process.wait(timeout=120) != 0:
                raise StepFailed(f"Suricata could not read {original.name}: {tail(out_dir / 'suricata.log')}")
            flows, events = analyser.offline_flows(original, out_dir)
            session["expectedFlows"] = {(session["vlan"],) + k[1:]: v for k, v in flows.items()}
            session["expectedEvents"] = {kind: n for (_, kind), n in events.items()}
        compare_flows(all_sessions, live_flows, live_events, report, vlan_by_vni, expected_frames, final_counts)
        note(f"{analyser.kind}: {sum(v['flowsSeen'] for v in report['vnis'])} flows on the TAP, "
             f"{sum(v['flowsExpected'] for v in report['vnis'])} in the original traffic")

        # What EC2 publishes for a mirrored instance: its mirrored bytes, per direction, in AWS/EC2. The idle-lab check
        # reads these; instances without mirroring publish nothing, which the check treats as unknown, never idle.
        cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=cloud, aws_access_key_id="automirror-lab",
                                  aws_secret_access_key="automirror-lab")
        # A datapoint is stamped with the start of its period, in the past: a minute back, on the minute (a point
        # stamped "now" falls outside a query that ends within the same second).
        stamp = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).replace(second=0, microsecond=0)
        for instance in instances:
            if not instance["sessions"]:
                continue
            totals = [0, 0]
            for session in instance["sessions"]:
                inbound, outbound = mirrored_bytes(session["capture"])
                totals[0] += inbound
                totals[1] += outbound
            cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
                {"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": instance["instanceId"]}],
                 "Timestamp": stamp, "Value": value, "Unit": "Bytes"}
                for name, value in (("NetworkMirrorIn", totals[0]), ("NetworkMirrorOut", totals[1]))])
            instance["mirroredBytes"] = {"in": totals[0], "out": totals[1]}
        note("CloudWatch: NetworkMirrorIn/Out published for the mirrored instances, as EC2 does")

        labs = {}
        for instance in instances:
            if instance.get("lab"):
                labs.setdefault(instance["lab"], 0)
                labs[instance["lab"]] += len(instance["sessions"])
        report["labs"] = [{"lab": lab, "sessionsWhileMirrored": n, "costPerHourWhileMirrored": round(n * SESSION_HOURLY_PRICE, 3)}
                          for lab, n in sorted(labs.items())]

    with Step(5, "changes: untag red-db, stop red-web, lab blue expires; reconcile, idle-lab check, teardown"):
        names = {i["name"]: i for i in instances}
        red_db, red_web = names["red-db"], names["red-web"]
        ec2.delete_tags(Resources=[red_db["instanceId"]], Tags=[{"Key": "automirror"}])
        remaining = instance_tags(ec2, red_db["instanceId"])
        answer = services.invoke("EventFunction", event_from(
            "tag-change-v4-mirror-removed.json", red_db["instanceId"], "lab-untag-red-db", tags=remaining))
        record_change(report, red_db, "untagged (automirror removed)", answer)

        ec2.stop_instances(InstanceIds=[red_web["instanceId"]])
        for state in ("stopping", "stopped"):
            answer = services.invoke("EventFunction", event_from(
                f"ec2-state-{state}.json", red_web["instanceId"], f"lab-{state}-red-web", state=state))
            record_change(report, red_web, f"stopped (event '{state}')", answer)

        # Idleness the way the code reads it: the lab's expiry tag, in the past.
        past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        blue = [i["instanceId"] for i in instances if i.get("lab") == "blue"]
        ec2.create_tags(Resources=blue, Tags=[{"Key": "automirror:expires-at", "Value": past}])
        note(f"lab blue: automirror:expires-at={past} on {len(blue)} instances")

        reconcile = services.invoke("ReconcileFunction", event_from("scheduled-reconcile.json", None, "lab-reconcile"))
        report["reconcile"] = {k: reconcile.get(k) for k in ("instances", "mirrored", "sessionLimited", "detached", "skipped", "failed")}
        report["reconcile"]["changed"] = [o for o in reconcile.get("outcomes", [])
                                          if o.get("createdSessionIds") or o.get("deletedSessionIds")]
        note(f"reconcile: {report['reconcile']['instances']} instances, {report['reconcile']['mirrored']} mirrored, "
             f"{report['reconcile']['detached']} detached, {len(report['reconcile']['changed'])} changed anything")

        idle = services.invoke("IdleLabsFunction", event_from("scheduled-teardown.json", None, "lab-idle-check"))
        report["idleCheck"] = idle
        states = {lab["lab"]: lab for lab in idle.get("labs", []) if lab.get("lab")}
        for lab in report["labs"]:
            verdict = states.get(lab["lab"], {})
            lab["state"] = verdict.get("status")
            lab["idle"] = verdict.get("idle")
            lab["reasons"] = verdict.get("reasons")
        started_teardowns = [e for e in idle.get("executions", []) if e.get("executionArn")]
        verdicts = ", ".join(f"{k}={v.get('status')}" for k, v in states.items())
        note(f"idle-lab check: {verdicts}; "
             f"{len(started_teardowns)} teardown executions started")
        teardown_results = wait_executions(sfn, [e["executionArn"] for e in started_teardowns], 90)
        report["teardown"] = []
        for e in started_teardowns:
            result = teardown_results[e["executionArn"]]
            output = json.loads(result.get("output") or "{}")
            report["teardown"].append({
                "lab": e["lab"], "execution": result["name"], "status": result["status"], "error": result.get("error"),
                "action": output.get("action"), "deletedSessionIds": output.get("deletedSessionIds", []),
                "excludedInstanceIds": output.get("excludedInstanceIds", []), "hourlyCostSaved": output.get("hourlyCostSaved"),
            })
            note(f"teardown {e['lab']}: {result['status']}, deleted {len(output.get('deletedSessionIds', []))} sessions")

        left = managed_sessions(ec2, stack)
        report["remainingAutoMirrorSessions"] = [s["TrafficMirrorSessionId"] for s in left]
        foreign_left = ec2.describe_traffic_mirror_sessions(
            Filters=[{"Name": "traffic-mirror-target-id", "Values": [foreign["targetId"]]}])["TrafficMirrorSessions"]
        report["foreignSessionsLeft"] = len(foreign_left)
        for lab in report["labs"]:
            members = [i["instanceId"] for i in instances if i.get("lab") == lab["lab"]]
            count = sum(1 for s in left if session_tag(s, "automirror:instance-id") in members)
            lab["sessionsNow"] = count
            lab["costPerHourNow"] = round(count * SESSION_HOURLY_PRICE, 3)
        for instance in instances:
            instance["statusTagAfter"] = instance_tags(ec2, instance["instanceId"]).get("automirror:status")

    with Step(6, "red-web starts again, then `sam delete` while its sessions are live"):
        # The analysers were stopped to read their counts, which made the sensor unhealthy (its health names them):
        # the sensor serves again first, or the Attach workflow rightly waits at its health gate.
        analyser.start()
        second.start()
        analyser.wait_ready()
        wait_for("the sensor's health to be 200 again", lambda: sensor.health()[0] == "200", 30)
        red_web = next(i for i in instances if i["name"] == "red-web")
        ec2.start_instances(InstanceIds=[red_web["instanceId"]])
        answer = services.invoke("EventFunction", event_from("ec2-state-running.json", red_web["instanceId"],
                                                             "lab-running-again", state="running"))
        if answer.get("executionArn"):
            wait_executions(sfn, [answer["executionArn"]], 90)
        live = managed_sessions(ec2, stack)
        note(f"{len(live)} AutoMirror sessions live; deleting the stack")
        cfn.delete_stack(StackName=stack["stackName"])
        status = wait_for("the stack's deletion", lambda: _finished(cfn, deployed["stackId"], "DELETE_"), 120)
        events = cfn.describe_stack_events(StackName=deployed["stackId"])["StackEvents"]
        all_sessions = ec2.describe_traffic_mirror_sessions()["TrafficMirrorSessions"]
        report["stackDeletion"] = {
            "liveSessionsBefore": [s["TrafficMirrorSessionId"] for s in live], "status": status,
            "failed": [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                       if e["ResourceStatus"] == "DELETE_FAILED"],
            "sessionsLeft": [s["TrafficMirrorSessionId"] for s in all_sessions],
            "targetsLeft": [t["TrafficMirrorTargetId"] for t in ec2.describe_traffic_mirror_targets()["TrafficMirrorTargets"]],
        }
        note(f"stack {status}; sessions left in the account: {report['stackDeletion']['sessionsLeft']} "
             f"(someone else's: {foreign['sessionIds']})")

    with Step(7, "report"):
        for instance in instances:
            instance["packetsSent"] = sum(s.get("packetsSent", 0) for s in instance["sessions"])
            instance["packetsSeen"] = sum(s.get("packetsSeen", 0) for s in instance["sessions"])
            instance["flowsExpected"] = sum(s.get("flowsExpected", 0) for s in instance["sessions"])
            instance["flowsSeen"] = sum(s.get("flowsSeen", 0) for s in instance["sessions"])
            for s in instance["sessions"]:
                s.pop("capture", None)
                s.pop("expectedFlows", None)
                s.pop("expectedEvents", None)
            instance["afterwards"] = afterwards(report, instance)
        report["instances"] = instances
        check(report, "every eligible interface mirrored, nothing else",
              all(bool(i["sessions"]) == (i["name"] in ("red-web", "red-db", "blue-web")) for i in instances)
              and len(next(i for i in instances if i["name"] == "red-web")["sessions"]) == 2)
        check(report, "sensor per-VNI counts equal the generator's",
              all(v["packetsSeen"] == v["packetsSent"] for v in report["vnis"]))
        check(report, f"{analyser.kind} flows equal the traffic sent",
              all(v["flowsSeen"] == v["flowsExpected"] and v["flowsUnexpected"] == 0 for v in report["vnis"]))
        two = report["twoAnalysers"]
        check(report, f"{analyser.kind} and a throttled tcpdump on one TAP each saw every forwarded frame per VNI, "
                      "none dropped, and the fast one was not held back by the slow one",
              two["forwarded"] > 0 and all(v["tcpdump"] == v["forwarded"] and v[analyser.kind] == v["forwarded"]
                                           for v in two["perVni"])
              and two[analyser.kind]["frames"] == two["forwarded"] and two[analyser.kind]["dropped"] in (0, None)
              and two["tcpdump"]["frames"] == two["forwarded"] and two["tcpdump"]["dropped"] == 0
              and (analyser.kind != "suricata" or (two["suricataFramesThen"] == two["forwarded"]
                                                   and two["tcpdumpBehindThen"] > 0)))
        check(report, "teardown left no AutoMirror session", not report["remainingAutoMirrorSessions"])
        check(report, "someone else's sessions untouched", report["foreignSessionsLeft"] == len(foreign["sessionIds"]))
        deletion = report["stackDeletion"]
        check(report, "`sam delete` with live sessions: DELETE_COMPLETE, AutoMirror's sessions gone, someone else's kept",
              bool(deletion["liveSessionsBefore"]) and deletion["status"] == "DELETE_COMPLETE"
              and sorted(deletion["sessionsLeft"]) == sorted(foreign["sessionIds"])
              and deletion["targetsLeft"] == [foreign["targetId"]])
        report["ok"] = all(c["passed"] for c in report["checks"])
    return report


def _finished(cfn, stack_id, prefix):
    status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    return status if status.startswith(prefix) and not status.endswith("_IN_PROGRESS") else None


def managed_sessions(ec2, stack):
    return ec2.describe_traffic_mirror_sessions(Filters=[
        {"Name": "traffic-mirror-target-id", "Values": [stack["mirrorTargetId"]]},
        {"Name": "tag:automirror:managed", "Values": ["true"]}])["TrafficMirrorSessions"]


def session_tag(session, key):
    return next((t["Value"] for t in session.get("Tags", []) if t["Key"] == key), None)


def instance_tags(ec2, instance_id):
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


def record_change(report, instance, what, answer):
    report["changes"].append({"instance": instance["name"], "instanceId": instance["instanceId"], "change": what,
                              "action": answer.get("action"), "reason": answer.get("reason")})
    note(f"{instance['name']}: {what} → EventFunction {answer.get('action')} ({answer.get('reason')})")


def compare_flows(all_sessions, live_flows, live_events, report, vlan_by_vni, expected_frames, final_counts):
    """Each session's flows, as the analyser found them in the original capture (with the session's VLAN), must be
    on the TAP with the same packet count; flows on the TAP that belong to no session are counted as unexpected."""
    claimed = set()
    for _, session in all_sessions:
        seen = 0
        for key, flow in session["expectedFlows"].items():
            live = live_flows.get(key)
            if live is not None and live["packets"] == flow["packets"]:
                seen += 1
                claimed.add(key)
        session["flowsExpected"] = len(session["expectedFlows"])
        session["flowsSeen"] = seen
    for vni, vlan in sorted(vlan_by_vni.items()):
        members = [s for _, s in all_sessions if s["vni"] == vni]
        expected_events = {}
        for s in members:
            for kind, n in s["expectedEvents"].items():
                expected_events[kind] = expected_events.get(kind, 0) + n
        report["vnis"].append({
            "vni": vni, "vlan": vlan, "sessions": len(members),
            "packetsSent": expected_frames.get(vni, 0), "packetsSeen": final_counts.get(vni, 0),
            "flowsExpected": sum(s["flowsExpected"] for s in members), "flowsSeen": sum(s["flowsSeen"] for s in members),
            "flowsUnexpected": sum(1 for k in live_flows if k[0] == vlan and k not in claimed),
            "eventsExpected": expected_events,
            "eventsSeen": {kind: n for (v, kind), n in live_events.items() if v == vlan},
        })


def two_analysers(analyser, live_flows, tcpdump_by_vlan, tcpdump_dropped, vlan_by_vni, final_counts, shared):
    """Each analyser's frames against the sensor's forwarded frames per VNI (one VLAN per VNI): tcpdump's from its pcap,
    the first analyser's from its flows' packet counts (the lab's traffic is all IPv4, so every frame is in a flow), and
    both totals from the analysers' own capture counters."""
    frames, dropped = analyser.captured()
    per_flow_vlan = {}
    for key, flow in live_flows.items():
        per_flow_vlan[key[0]] = per_flow_vlan.get(key[0], 0) + flow["packets"]
    per_vni = [{"vni": vni, "vlan": vlan, "forwarded": final_counts.get(vni, 0), "tcpdump": tcpdump_by_vlan.get(vlan, 0),
                analyser.kind: per_flow_vlan.get(vlan, 0)} for vni, vlan in sorted(vlan_by_vni.items())]
    return {**shared, "forwarded": sum(final_counts.values()), "perVni": per_vni,
            analyser.kind: {"frames": frames, "dropped": dropped},
            "tcpdump": {"frames": sum(tcpdump_by_vlan.values()), "dropped": tcpdump_dropped},
            "kind": analyser.kind}


def two_analysers_lines(two):
    kind = two["kind"]
    first = two[kind]
    lines = [f"two analysers on the TAP, sensor forwarded {two['forwarded']} frames: "
             f"{kind} {first['frames']} frames ({'capture.kernel_packets' if kind == 'suricata' else 'pcapng'}), "
             f"{first['dropped'] if first['dropped'] is not None else 'n/a'} dropped; "
             f"tcpdump {two['tcpdump']['frames']} frames (pcap), {two['tcpdump']['dropped']} dropped by kernel"]
    for v in two["perVni"]:
        lines.append(f"  VNI {v['vni']} (VLAN {v['vlan']}): sensor forwarded {v['forwarded']}, {kind} {v[kind]} "
                     f"(flow packets), tcpdump {v['tcpdump']} (pcap frames)")
    lines.append(f"  slow analyser: tcpdump, its output read at one frame per {two['tcpdumpFrameDelayMs']} ms, was "
                 f"{two['tcpdumpBehindAtSensorDone']} frames behind when the sensor wrote its last frame (at most "
                 f"{two['tcpdumpBehindMax']}); {kind} had {two.get('suricataFramesThen', 'n/a')} of {two['forwarded']} "
                 f"{two.get('suricataHadAllAfterSeconds', 'n/a')} s later (its stats come each second), when tcpdump "
                 f"was still {two['tcpdumpBehindThen']} behind; both ended with every frame, none dropped")
    return lines


def afterwards(report, instance):
    """What step 5 did to the instance, in a few words."""
    detached = [c for c in report["changes"] if c["instanceId"] == instance["instanceId"] and c["action"] == "detached"]
    if detached:
        return f"detached by event: {detached[0]['reason']}"
    mine = {s["sessionId"] for s in instance["sessions"]}
    for teardown in report["teardown"]:
        if mine & set(teardown["deletedSessionIds"]):
            return f"torn down with lab {teardown['lab']} ({teardown['action']})"
        if instance["instanceId"] in teardown["excludedInstanceIds"]:
            return f"excluded by lab {teardown['lab']}'s teardown"
    return "unchanged"


def check(report, name, passed):
    report["checks"].append({"check": name, "passed": bool(passed)})


def render(report):
    lines = ["", "AutoMirror local lab", "=" * 20, ""]
    lines.append(f"{'instance':<10} {'id':<20} {'type':<9} {'lab':<5} {'decision: reason':<52} {'sessions':>8} "
                 f"{'VNI':>9} {'packets sent/seen':>18} {'flows expected/seen':>20}  afterwards")
    for i in report["instances"]:
        decision = f"{i.get('decision')}: {i.get('reason')}"
        decision = decision if len(decision) <= 52 else decision[:51] + "…"
        vnis = ",".join(sorted({str(s["vni"]) for s in i["sessions"]})) or "-"
        lines.append(f"{i['name']:<10} {i['instanceId']:<20} {i['instanceType']:<9} {i.get('lab') or '-':<5} "
                     f"{decision:<52} {len(i['sessions']):>8} {vnis:>9} "
                     f"{str(i['packetsSent']) + '/' + str(i['packetsSeen']):>18} "
                     f"{str(i['flowsExpected']) + '/' + str(i['flowsSeen']):>20}  {i['afterwards']}")
    lines += ["", "per VNI (sensor /metrics vs generator; analyser flows vs the original traffic):"]
    for v in report["vnis"]:
        lines.append(f"  VNI {v['vni']} (VLAN {v['vlan']}, {v['sessions']} sessions): packets {v['packetsSent']} sent, "
                     f"{v['packetsSeen']} forwarded; flows {v['flowsExpected']} expected, {v['flowsSeen']} seen, "
                     f"{v['flowsUnexpected']} unexpected; events expected {v['eventsExpected']}, seen {v['eventsSeen']}")
    lines += ["", "labs:"]
    for lab in report["labs"]:
        lines.append(f"  {lab['lab']:<5} state {lab.get('state')}: {lab['sessionsWhileMirrored']} sessions = "
                     f"${lab['costPerHourWhileMirrored']:.3f}/h while mirrored, now {lab['sessionsNow']} = ${lab['costPerHourNow']:.3f}/h"
                     f"  ({'; '.join((lab.get('reasons') or [])[:1])})")
    lines += ["", "changes:"]
    for c in report["changes"]:
        lines.append(f"  {c['instance']:<9} {c['change']:<28} → {c['action']} ({c['reason']})")
    r = report["reconcile"]
    lines.append(f"  reconcile: {r['instances']} instances, {r['mirrored']} mirrored, {r['sessionLimited']} session-limited, "
                 f"{r['detached']} detached, {r['skipped']} skipped, {r['failed']} failed")
    lines += ["", "teardown:"]
    for t in report["teardown"]:
        lines.append(f"  lab {t['lab']}: {t['status']} ({t['action']}), removed {len(t['deletedSessionIds'])} sessions "
                     f"{t['deletedSessionIds']}, excluded {t['excludedInstanceIds']}, saves ${t['hourlyCostSaved']}/h")
    lines.append(f"  AutoMirror sessions left: {len(report['remainingAutoMirrorSessions'])}; "
                 f"someone else's sessions left: {report['foreignSessionsLeft']}")
    lines += [""] + two_analysers_lines(report["twoAnalysers"])
    d = report["stackDeletion"]
    lines += ["", f"sensor receive path (Sensor:Receive=auto): {(report.get('receivePath') or {}).get('path')}"]
    lines += ["", f"sam delete: {d['status']} with {len(d['liveSessionsBefore'])} live AutoMirror sessions; "
                  f"sessions left {d['sessionsLeft']} (someone else's), failures {d['failed'] or 'none'}"]
    lines += ["", "CloudFormation outputs from the deployed stack (as `sam deploy` shows them)", "-" * 72]
    for key, value in report["stackOutputs"].items():
        lines += [f"Key                 {key}", f"Value               {value}", ""]
    lines += ["To mirror an instance of your own on a stack like this one (the lab's stack is deleted by now):",
              "  aws ec2 create-tags --resources i-0123456789abcdef0 --tags Key=automirror,Value=true",
              "  automirror status --json    # watch its session appear (sessions, VNI, target health)"]
    lines += ["", "checks:"]
    for c in report["checks"]:
        lines.append(f"  [{'ok' if c['passed'] else 'FAIL'}] {c['check']}")
    lines.append(f"\n{'PASSED' if report['ok'] else 'FAILED'} in {report.get('durationSeconds')} s (analyser: {report['analyser']})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
