"""The control endpoint: throttling buckets, seeded faults, eventual consistency, target health, counters."""
from __future__ import annotations

import http.client
import time
import unittest

from botocore.exceptions import ClientError

try:  # as tests.<module> (discover -t localcloud) or as a top-level module (discover -s localcloud/tests)
    from .support import LocalCloudProcess, World, module_cloud
except ImportError:
    from support import LocalCloudProcess, World, module_cloud

cloud, setUpModule, tearDownModule = module_cloud()


def outcome(call, *args, **kwargs) -> str:
    try:
        call(*args, **kwargs)
        return "ok"
    except ClientError as error:
        return error.response["Error"]["Code"]


class ThrottlingTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")

    def test_describe_bucket_allows_its_burst_then_answers_request_limit_exceeded(self) -> None:
        cloud.post("/clock", {"scale": 0})  # frozen: no refill while the test runs
        cloud.post("/throttling", {"enabled": True, "buckets": {"nonMutating": {"capacity": 5, "refillPerSecond": 1}}})
        results = [outcome(self.ec2.describe_vpcs) for _ in range(7)]
        self.assertEqual(["ok"] * 5 + ["RequestLimitExceeded"] * 2, results)
        # Buckets are per action, as in EC2: another Describe* has its own tokens.
        self.assertEqual("ok", outcome(self.ec2.describe_subnets))
        cloud.post("/clock", {"advanceSeconds": 2})
        self.assertEqual(["ok", "ok", "RequestLimitExceeded"], [outcome(self.ec2.describe_vpcs) for _ in range(3)])

    def test_one_action_can_get_its_own_bucket(self) -> None:
        cloud.post("/clock", {"scale": 0})
        cloud.post("/throttling", {"actions": {"DescribeSubnets": {"capacity": 1, "refillPerSecond": 0}}})
        self.assertEqual(["ok", "RequestLimitExceeded"], [outcome(self.ec2.describe_subnets) for _ in range(2)])
        self.assertEqual(["ok"] * 5, [outcome(self.ec2.describe_vpcs) for _ in range(5)])  # EC2's 100 burst

    def test_throttled_answer_has_ec2_shape_and_http_503(self) -> None:
        cloud.post("/clock", {"scale": 0})
        cloud.post("/throttling", {"buckets": {"mutating": {"capacity": 1, "refillPerSecond": 0}}})
        self.ec2.create_vpc(CidrBlock="10.0.0.0/16")
        with self.assertRaises(ClientError) as caught:
            self.ec2.create_vpc(CidrBlock="10.1.0.0/16")
        self.assertEqual(503, caught.exception.response["ResponseMetadata"]["HTTPStatusCode"])
        self.assertEqual("RequestLimitExceeded", caught.exception.response["Error"]["Code"])
        self.assertTrue(caught.exception.response["ResponseMetadata"]["RequestId"])

    def test_default_buckets_are_ec2s(self) -> None:
        buckets = cloud.post("/throttling", {"enabled": True})["buckets"]
        self.assertEqual({"capacity": 100, "refillPerSecond": 20}, buckets["nonMutating"])
        self.assertEqual({"capacity": 50, "refillPerSecond": 5}, buckets["mutating"])
        self.assertEqual({"capacity": 100, "refillPerSecond": 10}, buckets["tags"])

    def test_time_scale_refills_faster(self) -> None:
        cloud.post("/throttling", {"buckets": {"nonMutating": {"capacity": 2, "refillPerSecond": 1}}})
        cloud.post("/clock", {"scale": 50})  # 1 real second = 50 simulated seconds
        self.ec2.describe_vpcs()
        self.ec2.describe_vpcs()
        time.sleep(0.1)  # 5 simulated seconds: the bucket is full again
        self.assertEqual(["ok", "ok"], [outcome(self.ec2.describe_vpcs) for _ in range(2)])

    def test_bad_configuration_is_refused_with_a_reason(self) -> None:
        status, body = cloud.control("POST", "/throttling", {"buckets": {"weird": {"capacity": 1, "refillPerSecond": 1}}})
        self.assertEqual(400, status)
        self.assertIn("weird", body["error"])
        status, body = cloud.control("POST", "/faults", {"throttleProbability": 2})
        self.assertEqual(400, status)
        self.assertIn("throttleProbability", body["error"])
        status, body = cloud.control("POST", "/faults", {"seed": "seven"})
        self.assertEqual(400, status)
        self.assertIn("seven", body["error"])
        status, body = cloud.control("POST", "/faults/script", {"action": "DescribeVpcs", "errors": "InternalError"})
        self.assertEqual(400, status)
        self.assertEqual(200, cloud.control("GET", "/health")[0])  # still serving


class FaultTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")

    def run_sequence(self, seed: int) -> list[str]:
        cloud.post("/faults", {"seed": seed, "throttleProbability": 0.2, "serverErrorProbability": 0.2})
        return [outcome(self.ec2.describe_vpcs) for _ in range(40)]

    def test_same_seed_gives_the_same_faults(self) -> None:
        first = self.run_sequence(7)
        second = self.run_sequence(7)
        self.assertEqual(first, second)
        self.assertIn("RequestLimitExceeded", first)
        self.assertTrue({"InternalError", "Unavailable"} & set(first), first)
        self.assertIn("ok", first)
        self.assertNotEqual(first, self.run_sequence(8))

    def test_server_error_has_5xx_status(self) -> None:
        cloud.post("/faults", {"seed": 1, "serverErrorProbability": 1, "serverErrorCodes": ["InternalError"]})
        with self.assertRaises(ClientError) as caught:
            self.ec2.describe_vpcs()
        self.assertEqual(500, caught.exception.response["ResponseMetadata"]["HTTPStatusCode"])
        self.assertEqual("InternalError", caught.exception.response["Error"]["Code"])

    def test_faults_can_be_limited_to_actions(self) -> None:
        cloud.post("/faults", {"seed": 1, "throttleProbability": 1, "actions": ["DescribeSubnets"]})
        self.assertEqual("ok", outcome(self.ec2.describe_vpcs))
        self.assertEqual("RequestLimitExceeded", outcome(self.ec2.describe_subnets))

    def test_scripted_errors_fail_the_next_calls_in_order(self) -> None:
        cloud.post("/faults/script", {"action": "DescribeVpcs", "errors": ["RequestLimitExceeded", "Unavailable"]})
        self.assertEqual(
            ["RequestLimitExceeded", "Unavailable", "ok"], [outcome(self.ec2.describe_vpcs) for _ in range(3)]
        )

    def test_botocore_retries_through_a_transient_fault(self) -> None:
        cloud.post("/faults/script", {"action": "DescribeVpcs", "errors": ["RequestLimitExceeded"]})
        patient = cloud.client("ec2", retries=3)
        self.assertIn("Vpcs", patient.describe_vpcs())
        self.assertEqual({"DescribeVpcs": 2}, cloud.get("/calls")["calls"]["ec2"])

    def test_new_instance_is_not_found_for_a_while_after_launch(self) -> None:
        cloud.post("/clock", {"scale": 0})
        cloud.post("/faults", {"instanceNotFoundSeconds": 5})
        world = World(self.ec2)
        instance, _ = world.instance()
        self.assertEqual("InvalidInstanceID.NotFound", outcome(self.ec2.describe_instances, InstanceIds=[instance]))
        # Listing without ids is not affected: only a lookup by id misses.
        self.assertEqual("ok", outcome(self.ec2.describe_instances))
        cloud.post("/clock", {"advanceSeconds": 5})
        reservations = self.ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        self.assertEqual(instance, reservations[0]["Instances"][0]["InstanceId"])

    def test_not_found_window_can_cover_tagging_a_new_instance(self) -> None:
        cloud.post("/clock", {"scale": 0})
        cloud.post("/faults", {"instanceNotFoundSeconds": 3, "instanceNotFoundActions": ["CreateTags", "DescribeInstances"]})
        instance, _ = World(self.ec2).instance()
        tag = {"Resources": [instance], "Tags": [{"Key": "automirror:status", "Value": "mirrored"}]}
        self.assertEqual("InvalidInstanceID.NotFound", outcome(self.ec2.create_tags, **tag))
        cloud.post("/clock", {"advanceSeconds": 3})
        self.assertEqual("ok", outcome(self.ec2.create_tags, **tag))

    def test_reset_restores_a_clean_account_and_no_faults(self) -> None:
        cloud.post("/faults", {"seed": 1, "throttleProbability": 1})
        self.assertEqual("RequestLimitExceeded", outcome(self.ec2.describe_vpcs))
        cloud.post("/reset")
        self.assertEqual("ok", outcome(self.ec2.describe_vpcs))
        self.assertEqual({}, cloud.get("/calls")["throttled"])


class TargetHealthTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")
        self.elbv2 = cloud.client("elbv2")
        world = World(self.ec2)
        self.instance, _ = world.instance()
        self.group = self.elbv2.create_target_group(
            Name="sensor", Protocol="UDP", Port=4789, VpcId=world.vpc, TargetType="instance",
            HealthCheckProtocol="TCP", HealthCheckPort="8080",
        )["TargetGroups"][0]["TargetGroupArn"]
        self.elbv2.register_targets(TargetGroupArn=self.group, Targets=[{"Id": self.instance, "Port": 4789}])

    def states(self) -> list[str]:
        descriptions = self.elbv2.describe_target_health(TargetGroupArn=self.group)["TargetHealthDescriptions"]
        return [d["TargetHealth"]["State"] for d in descriptions]

    def test_unhealthy_for_k_calls_then_healthy(self) -> None:
        cloud.post("/target-health", {"targetGroupArn": self.group, "unhealthyCalls": 2})
        self.assertEqual([["unhealthy"], ["unhealthy"], ["healthy"], ["healthy"]], [self.states() for _ in range(4)])

    def test_unhealthy_answer_carries_a_reason(self) -> None:
        cloud.post("/target-health", {"targetGroupArn": self.group, "state": "unhealthy"})
        health = self.elbv2.describe_target_health(TargetGroupArn=self.group)["TargetHealthDescriptions"][0]["TargetHealth"]
        self.assertEqual(("unhealthy", "Target.FailedHealthChecks"), (health["State"], health["Reason"]))

    def test_fixed_state_stays_and_clear_restores_motos_answer(self) -> None:
        natural = self.states()
        cloud.post("/target-health", {"targetGroupArn": self.group, "state": "draining"})
        self.assertEqual([["draining"]] * 3, [self.states() for _ in range(3)])
        cloud.post("/target-health", {"targetGroupArn": self.group, "clear": True})
        self.assertEqual(natural, self.states())

    def test_unknown_state_is_refused(self) -> None:
        status, body = cloud.control("POST", "/target-health", {"targetGroupArn": self.group, "state": "sleepy"})
        self.assertEqual(400, status)


class LoadBalancerArnTests(unittest.TestCase):
    def test_network_load_balancer_arn_has_awss_net_form_and_keeps_tags_and_listeners(self) -> None:
        cloud.post("/reset")
        ec2, elbv2 = cloud.client("ec2"), cloud.client("elbv2")
        world = World(ec2)
        nlb = elbv2.create_load_balancer(
            Name="sensors", Type="network", Scheme="internal", Subnets=[world.subnet], Tags=[{"Key": "lab", "Value": "red"}]
        )["LoadBalancers"][0]["LoadBalancerArn"]
        alb = elbv2.create_load_balancer(Name="web", Subnets=[world.subnet])["LoadBalancers"][0]["LoadBalancerArn"]
        self.assertIn(":loadbalancer/net/sensors/", nlb)
        self.assertIn(":loadbalancer/app/web/", alb)
        self.assertEqual(nlb, elbv2.describe_load_balancers(LoadBalancerArns=[nlb])["LoadBalancers"][0]["LoadBalancerArn"])
        tags = elbv2.describe_tags(ResourceArns=[nlb])["TagDescriptions"][0]["Tags"]
        self.assertEqual([{"Key": "lab", "Value": "red"}], tags)
        group = elbv2.create_target_group(Name="s", Protocol="UDP", Port=4789, VpcId=world.vpc, HealthCheckProtocol="TCP")[
            "TargetGroups"][0]["TargetGroupArn"]
        listener = elbv2.create_listener(LoadBalancerArn=nlb, Protocol="UDP", Port=4789,
                                         DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]
        self.assertEqual(nlb, listener["LoadBalancerArn"])


class CallCountTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")

    def test_counts_every_call_per_service_and_action(self) -> None:
        world = World(self.ec2)
        cloud.post("/calls/reset")
        for _ in range(3):
            world.instance()
        self.ec2.describe_instances()
        counts = cloud.get("/calls")
        self.assertEqual({"RunInstances": 3, "DescribeInstances": 1}, counts["calls"]["ec2"])
        self.assertEqual(4, counts["total"])

    def test_throttled_calls_are_counted_apart(self) -> None:
        cloud.post("/faults/script", {"action": "DescribeVpcs", "errors": ["RequestLimitExceeded", "InternalError"]})
        for _ in range(3):
            outcome(self.ec2.describe_vpcs)
        counts = cloud.get("/calls")
        self.assertEqual(3, counts["calls"]["ec2"]["DescribeVpcs"])
        self.assertEqual({"ec2": {"DescribeVpcs": 1}}, counts["throttled"])
        self.assertEqual({"ec2": {"DescribeVpcs": 1}}, counts["faulted"])

    def test_control_accepts_chunked_bodies(self) -> None:
        # .NET's PostAsJsonAsync streams JSON chunked, without a Content-Length.
        host, port = cloud.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("POST", "/_automirror/faults", body=iter([b'{"seed": 42, ', b'"throttleProbability": 0.25}']),
                               headers={"Content-Type": "application/json"}, encode_chunked=True)
            response = connection.getresponse()
            self.assertEqual(200, response.status, response.read())
        finally:
            connection.close()
        self.assertEqual((42, 0.25), (cloud.get("/config")["faults"]["seed"], cloud.get("/config")["faults"]["throttleProbability"]))

    def test_unknown_control_route_lists_the_routes(self) -> None:
        status, body = cloud.control("GET", "/nope")
        self.assertEqual(404, status)
        self.assertIn("GET /_automirror/calls", body["routes"])


class StartupTests(unittest.TestCase):
    def test_environment_configures_faults_and_throttling_at_start(self) -> None:
        started = LocalCloudProcess(env={
            "AUTOMIRROR_SEED": "11",
            "AUTOMIRROR_THROTTLE_PROBABILITY": "0.5",
            "AUTOMIRROR_THROTTLING": '{"buckets": {"mutating": {"capacity": 3, "refillPerSecond": 1}}}',
            "AUTOMIRROR_TIME_SCALE": "0",
        }).start()
        try:
            config = started.get("/config")
            self.assertEqual(11, config["faults"]["seed"])
            self.assertEqual(0.5, config["faults"]["throttleProbability"])
            self.assertEqual({"capacity": 3, "refillPerSecond": 1}, config["throttling"]["buckets"]["mutating"])
            self.assertTrue(config["throttling"]["enabled"])
            self.assertEqual(0, config["clock"]["scale"])
            # Reset returns to the start-up settings, not to nothing.
            started.post("/faults", {"seed": 99})
            started.post("/reset")
            self.assertEqual(11, started.get("/config")["faults"]["seed"])
            self.assertLess(started.startup_seconds, 10)
        finally:
            started.stop()

    def test_bad_environment_fails_fast_with_the_reason(self) -> None:
        broken = LocalCloudProcess(env={"AUTOMIRROR_THROTTLE_PROBABILITY": "3"})
        with self.assertRaises(RuntimeError) as caught:
            broken.start()
        self.assertIn("throttleProbability", str(caught.exception))
        with self.assertRaises(RuntimeError) as caught:
            LocalCloudProcess(env={"AUTOMIRROR_SEED": "seven"}).start()
        self.assertIn("AUTOMIRROR_SEED", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
