"""The real AWS CLI (`aws --endpoint-url ... ec2 ...`) against the local cloud, as a user would run it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import unittest

try:  # as tests.<module> (discover -t localcloud) or as a top-level module (discover -s localcloud/tests)
    from .support import CREDENTIALS, SUPPORTED_TYPE, World, module_cloud
except ImportError:
    from support import CREDENTIALS, SUPPORTED_TYPE, World, module_cloud

cloud, setUpModule, tearDownModule = module_cloud()


@unittest.skipIf(shutil.which("aws") is None, "the AWS CLI is not installed")
class AwsCliTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.world = World(cloud.client("ec2"))
        _, self.eni = self.world.instance(SUPPORTED_TYPE)

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        # No profile or config file of the machine may leak in: dummy credentials, fixed region.
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **CREDENTIALS,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
        return subprocess.run(
            ["aws", "--endpoint-url", cloud.url, "--output", "json", "ec2", *args],
            capture_output=True, text=True, env=env, timeout=60,
        )

    def aws_json(self, *args: str) -> dict:
        result = self.aws(*args)
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def test_create_describe_delete_session_with_the_aws_cli(self) -> None:
        created = self.aws_json(
            "create-traffic-mirror-session",
            "--network-interface-id", self.eni,
            "--traffic-mirror-target-id", self.world.target,
            "--traffic-mirror-filter-id", self.world.filter,
            "--session-number", "1",
            "--virtual-network-id", "4789",
            "--tag-specifications", "ResourceType=traffic-mirror-session,Tags=[{Key=automirror:managed,Value=true}]",
        )["TrafficMirrorSession"]
        session_id = created["TrafficMirrorSessionId"]
        self.assertEqual((self.eni, 1, 4789), (created["NetworkInterfaceId"], created["SessionNumber"], created["VirtualNetworkId"]))

        described = self.aws_json(
            "describe-traffic-mirror-sessions", "--filters", f"Name=network-interface-id,Values={self.eni}"
        )["TrafficMirrorSessions"]
        self.assertEqual([session_id], [s["TrafficMirrorSessionId"] for s in described])
        self.assertEqual([{"Key": "automirror:managed", "Value": "true"}], described[0]["Tags"])

        deleted = self.aws_json("delete-traffic-mirror-session", "--traffic-mirror-session-id", session_id)
        self.assertEqual(session_id, deleted["TrafficMirrorSessionId"])
        self.assertEqual([], self.aws_json("describe-traffic-mirror-sessions")["TrafficMirrorSessions"])

    def test_cli_reports_aws_error_codes(self) -> None:
        args = ["--network-interface-id", self.eni, "--traffic-mirror-target-id", self.world.target,
                "--traffic-mirror-filter-id", self.world.filter]
        for number in (1, 2, 3):  # through boto3: each CLI run costs a second of interpreter start
            self.world.session(self.eni, number)
        refused = self.aws("create-traffic-mirror-session", *args, "--session-number", "4")
        self.assertNotEqual(0, refused.returncode)
        self.assertIn("TrafficMirrorSessionsPerInterfaceLimitExceeded", refused.stderr)

        missing = self.aws("delete-traffic-mirror-session", "--traffic-mirror-session-id", "tms-0123456789abcdef0")
        self.assertNotEqual(0, missing.returncode)
        self.assertIn("InvalidTrafficMirrorSessionId.NotFound", missing.stderr)

    def test_cli_paginates_describe_across_pages(self) -> None:
        nlb = self.world.nlb_target(cloud.client("elbv2"))
        for _ in range(7):
            _, eni = self.world.instance(SUPPORTED_TYPE)
            self.world.session(eni, target=nlb)
        # --page-size makes the CLI follow NextToken itself; every session must come back once.
        sessions = self.aws_json("describe-traffic-mirror-sessions", "--page-size", "5")["TrafficMirrorSessions"]
        self.assertEqual(7, len({s["TrafficMirrorSessionId"] for s in sessions}))
        self.assertEqual(7, len(sessions))


if __name__ == "__main__":
    unittest.main()
