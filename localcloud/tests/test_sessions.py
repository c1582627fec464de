"""The traffic-mirror session rules, driven through boto3 against a running local cloud."""
from __future__ import annotations

import unittest
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

try:  # as tests.<module> (discover -t localcloud) or as a top-level module (discover -s localcloud/tests)
    from .support import World, module_cloud
except ImportError:
    from support import World, module_cloud

cloud, setUpModule, tearDownModule = module_cloud()


class SessionTestCase(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")
        self.world = World(self.ec2)

    def assertAwsError(self, code: str, call, *args, **kwargs) -> ClientError:
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        self.assertEqual(code, caught.exception.response["Error"]["Code"], caught.exception.response["Error"])
        return caught.exception

    def session_ids(self, **kwargs) -> list[str]:
        return [s["TrafficMirrorSessionId"] for s in self.ec2.describe_traffic_mirror_sessions(**kwargs)["TrafficMirrorSessions"]]


class CreateTests(SessionTestCase):
    def test_create_returns_session_with_aws_shape(self) -> None:
        _, eni = self.world.instance()
        session = self.world.session(eni, 7, PacketLength=128, VirtualNetworkId=4242, Description="lab a")
        self.assertRegex(session["TrafficMirrorSessionId"], r"^tms-[0-9a-f]{17}$")
        self.assertEqual(eni, session["NetworkInterfaceId"])
        self.assertEqual(self.world.target, session["TrafficMirrorTargetId"])
        self.assertEqual(self.world.filter, session["TrafficMirrorFilterId"])
        self.assertEqual((7, 128, 4242, "lab a"), (session["SessionNumber"], session["PacketLength"], session["VirtualNetworkId"], session["Description"]))
        self.assertEqual("123456789012", session["OwnerId"])

    def test_omitted_packet_length_means_whole_packet(self) -> None:
        _, eni = self.world.instance()
        self.assertNotIn("PacketLength", self.world.session(eni))

    def test_fourth_session_on_one_eni_is_refused(self) -> None:
        _, eni = self.world.instance()
        for number in (1, 2, 3):
            self.world.session(eni, number)
        self.assertAwsError("TrafficMirrorSessionsPerInterfaceLimitExceeded", self.world.session, eni, 4)
        self.assertEqual(3, len(self.session_ids()))

    def test_limit_of_3_holds_when_creates_race(self) -> None:
        _, eni = self.world.instance()
        clients = [cloud.client("ec2") for _ in range(12)]  # one client per caller, like concurrent Lambda invocations

        def create(index: int) -> str:
            try:
                clients[index].create_traffic_mirror_session(
                    NetworkInterfaceId=eni, TrafficMirrorTargetId=self.world.target,
                    TrafficMirrorFilterId=self.world.filter, SessionNumber=index + 1)
                return "ok"
            except ClientError as failure:
                return failure.response["Error"]["Code"]

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(create, range(12)))
        self.assertEqual(3, results.count("ok"), results)
        self.assertEqual(9, results.count("TrafficMirrorSessionsPerInterfaceLimitExceeded"), results)
        self.assertEqual(3, len(self.session_ids()))

    def test_session_number_must_be_between_1_and_32766(self) -> None:
        _, eni = self.world.instance()
        self.assertAwsError("InvalidParameterValue", self.world.session, eni, 0)
        self.assertAwsError("InvalidParameterValue", self.world.session, eni, 32767)
        self.assertEqual(32766, self.world.session(eni, 32766)["SessionNumber"])

    def test_session_number_is_unique_per_eni_not_per_account(self) -> None:
        _, first = self.world.instance()
        _, second = self.world.instance()
        self.world.session(first, 5)
        self.assertAwsError("InvalidParameterValue", self.world.session, first, 5)
        self.assertEqual(5, self.world.session(second, 5)["SessionNumber"])

    def test_vni_is_assigned_when_omitted_and_unique_in_the_account(self) -> None:
        vnis = set()
        for _ in range(6):
            _, eni = self.world.instance()
            vni = self.world.session(eni)["VirtualNetworkId"]
            self.assertTrue(0 < vni < 2**24, vni)
            vnis.add(vni)
        self.assertEqual(6, len(vnis))

    def test_assigned_vni_avoids_vnis_already_chosen_explicitly(self) -> None:
        _, eni = self.world.instance()
        explicit = self.world.session(eni, 1, VirtualNetworkId=77)["VirtualNetworkId"]
        _, other = self.world.instance()
        self.assertNotEqual(explicit, self.world.session(other)["VirtualNetworkId"])

    def test_explicit_vni_may_be_shared_by_sessions(self) -> None:
        # AWS documents uniqueness only for the VNI it assigns; a lab's sessions share the lab's VNI.
        _, first = self.world.instance()
        _, second = self.world.instance()
        self.assertEqual(4242, self.world.session(first, VirtualNetworkId=4242)["VirtualNetworkId"])
        self.assertEqual(4242, self.world.session(second, VirtualNetworkId=4242)["VirtualNetworkId"])

    def test_vni_outside_24_bits_is_refused(self) -> None:
        _, eni = self.world.instance()
        self.assertAwsError("InvalidParameterValue", self.world.session, eni, 1, VirtualNetworkId=2**24)

    def test_missing_eni_target_or_filter_is_reported_with_its_own_code(self) -> None:
        _, eni = self.world.instance()
        self.assertAwsError("InvalidNetworkInterfaceID.NotFound", self.world.session, "eni-0123456789abcdef0")
        self.assertAwsError("InvalidTrafficMirrorTargetId.NotFound", self.world.session, eni, target="tmt-0123456789abcdef0")
        self.assertAwsError("InvalidTrafficMirrorFilterId.NotFound", self.world.session, eni, filter="tmf-0123456789abcdef0")
        self.assertEqual([], self.session_ids())

    def test_unsupported_instance_types_are_refused_as_sources(self) -> None:
        for instance_type in ("m7i.large", "c6i.xlarge", "m5.metal", "t2.micro", "m1.small"):
            with self.subTest(instance_type=instance_type):
                _, eni = self.world.instance(instance_type)
                self.assertAwsError("NetworkInterfaceNotSupported", self.world.session, eni)

    def test_supported_xen_and_nitro_types_are_accepted(self) -> None:
        for instance_type in ("c4.large", "m4.xlarge", "t3.medium", "c5n.large", "m5.large"):
            with self.subTest(instance_type=instance_type):
                _, eni = self.world.instance(instance_type)
                self.assertEqual(eni, self.world.session(eni)["NetworkInterfaceId"])

    def test_target_eni_cannot_be_a_source(self) -> None:
        self.assertAwsError("InvalidParameterValue", self.world.session, self.world.sensor_eni)

    def test_eni_target_takes_at_most_10_sources(self) -> None:
        enis = [self.world.instance()[1] for _ in range(11)]
        for eni in enis[:10]:
            self.world.session(eni)
        # A second session from a source the target already has does not count as a new source.
        self.world.session(enis[0], 2)
        self.assertAwsError("TrafficMirrorSourcesPerTargetLimitExceeded", self.world.session, enis[10])

    def test_nlb_target_takes_more_than_10_sources(self) -> None:
        target = self.world.nlb_target(cloud.client("elbv2"))
        for _ in range(12):
            self.world.session(self.world.instance()[1], target=target)
        self.assertEqual(12, len(self.session_ids()))

    def test_target_must_point_at_an_existing_eni_or_network_load_balancer(self) -> None:
        elbv2 = cloud.client("elbv2")
        self.assertAwsError("InvalidNetworkInterfaceID.NotFound", self.ec2.create_traffic_mirror_target,
                            NetworkInterfaceId="eni-0123456789abcdef0")
        missing = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/none/0123456789abcdef"
        self.assertAwsError("InvalidNetworkLoadBalancerArn.NotFound", self.ec2.create_traffic_mirror_target,
                            NetworkLoadBalancerArn=missing)
        alb = elbv2.create_load_balancer(Name="web", Subnets=[self.world.subnet])["LoadBalancers"][0]["LoadBalancerArn"]
        self.assertAwsError("InvalidNetworkLoadBalancerArn.NotFound", self.ec2.create_traffic_mirror_target,
                            NetworkLoadBalancerArn=alb)
        nlb = elbv2.create_load_balancer(Name="nlb", Type="network", Subnets=[self.world.subnet])["LoadBalancers"][0]["LoadBalancerArn"]
        self.ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=nlb)
        self.assertAwsError("NlbInUseByTrafficMirrorTargetException", self.ec2.create_traffic_mirror_target,
                            NetworkLoadBalancerArn=nlb)

    def test_tags_from_tag_specifications_show_in_describe(self) -> None:
        _, eni = self.world.instance()
        created = self.world.session(
            eni,
            TagSpecifications=[{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "automirror:managed", "Value": "true"}]}],
        )
        self.assertEqual([{"Key": "automirror:managed", "Value": "true"}], created["Tags"])
        described = self.ec2.describe_traffic_mirror_sessions()["TrafficMirrorSessions"][0]
        self.assertEqual([{"Key": "automirror:managed", "Value": "true"}], described["Tags"])

    def test_dry_run_creates_nothing(self) -> None:
        _, eni = self.world.instance()
        self.assertAwsError("DryRunOperation", self.world.session, eni, DryRun=True)
        self.assertEqual([], self.session_ids())


class MalformedRequestTests(SessionTestCase):
    """Clients other than botocore may skip validation: bad input must get an AWS error, not a crash."""

    def raw(self, **params: str) -> tuple[int, str]:
        import urllib.parse
        import urllib.request

        body = urllib.parse.urlencode({"Action": "CreateTrafficMirrorSession", "Version": "2016-11-15", **params}).encode()
        request = urllib.request.Request(cloud.url, data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as failure:
            return failure.code, failure.read().decode()

    def test_missing_and_non_numeric_parameters_get_ec2_errors(self) -> None:
        _, eni = self.world.instance()
        ids = {"NetworkInterfaceId": eni, "TrafficMirrorTargetId": self.world.target, "TrafficMirrorFilterId": self.world.filter}
        status, body = self.raw(**ids)
        self.assertEqual(400, status)
        self.assertIn("<Code>MissingParameter</Code>", body)
        status, body = self.raw(**ids, SessionNumber="one")
        self.assertEqual(400, status)
        self.assertIn("<Code>InvalidParameterValue</Code>", body)
        self.assertEqual([], self.session_ids())


class IdempotencyTests(SessionTestCase):
    def test_same_token_and_parameters_return_the_same_session(self) -> None:
        _, eni = self.world.instance()
        first = self.ec2.create_traffic_mirror_session(
            NetworkInterfaceId=eni, TrafficMirrorTargetId=self.world.target, TrafficMirrorFilterId=self.world.filter,
            SessionNumber=1, ClientToken="attach-i-1",
        )
        again = self.ec2.create_traffic_mirror_session(
            NetworkInterfaceId=eni, TrafficMirrorTargetId=self.world.target, TrafficMirrorFilterId=self.world.filter,
            SessionNumber=1, ClientToken="attach-i-1",
        )
        self.assertEqual("attach-i-1", first["ClientToken"])
        self.assertEqual(first["TrafficMirrorSession"]["TrafficMirrorSessionId"], again["TrafficMirrorSession"]["TrafficMirrorSessionId"])
        self.assertEqual(1, len(self.session_ids()))

    def test_same_token_with_other_parameters_is_a_mismatch(self) -> None:
        _, eni = self.world.instance()
        self.world.session(eni, 1, ClientToken="attach-i-1")
        self.assertAwsError("IdempotentParameterMismatch", self.world.session, eni, 2, ClientToken="attach-i-1")
        self.assertEqual(1, len(self.session_ids()))

    def test_token_check_comes_before_the_limits(self) -> None:
        # A retry of a create that succeeded must not trip "number in use" or "3 per ENI".
        _, eni = self.world.instance()
        self.world.session(eni, 1)
        self.world.session(eni, 2)
        created = self.world.session(eni, 3, ClientToken="t3")
        self.assertEqual(created["TrafficMirrorSessionId"], self.world.session(eni, 3, ClientToken="t3")["TrafficMirrorSessionId"])


class CascadeTests(SessionTestCase):
    def test_deleting_the_eni_deletes_its_sessions_only(self) -> None:
        eni = self.ec2.create_network_interface(SubnetId=self.world.subnet)["NetworkInterface"]["NetworkInterfaceId"]
        _, other = self.world.instance()
        doomed = [self.world.session(eni, n)["TrafficMirrorSessionId"] for n in (1, 2)]
        kept = self.world.session(other)["TrafficMirrorSessionId"]
        self.ec2.delete_network_interface(NetworkInterfaceId=eni)
        self.assertEqual([kept], self.session_ids())
        self.assertAwsError("InvalidTrafficMirrorSessionId.NotFound", self.ec2.describe_traffic_mirror_sessions, TrafficMirrorSessionIds=doomed[:1])

    def test_terminating_the_instance_deletes_its_sessions(self) -> None:
        instance, eni = self.world.instance()
        _, other = self.world.instance()
        self.world.session(eni)
        kept = self.world.session(other)["TrafficMirrorSessionId"]
        self.ec2.terminate_instances(InstanceIds=[instance])
        self.assertEqual([kept], self.session_ids())

    def test_stopping_the_instance_keeps_its_sessions(self) -> None:
        instance, eni = self.world.instance()
        session = self.world.session(eni)["TrafficMirrorSessionId"]
        self.ec2.stop_instances(InstanceIds=[instance])
        self.assertEqual([session], self.session_ids())


class DeleteAndModifyTests(SessionTestCase):
    def test_delete_removes_the_session_and_a_second_delete_is_not_found(self) -> None:
        _, eni = self.world.instance()
        session = self.world.session(eni)["TrafficMirrorSessionId"]
        self.assertEqual(session, self.ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=session)["TrafficMirrorSessionId"])
        self.assertEqual([], self.session_ids())
        self.assertAwsError("InvalidTrafficMirrorSessionId.NotFound", self.ec2.delete_traffic_mirror_session, TrafficMirrorSessionId=session)

    def test_deleting_a_session_frees_its_slot_and_number(self) -> None:
        _, eni = self.world.instance()
        sessions = [self.world.session(eni, n)["TrafficMirrorSessionId"] for n in (1, 2, 3)]
        self.ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=sessions[0])
        self.assertEqual(1, self.world.session(eni, 1)["SessionNumber"])

    def test_modify_changes_fields_and_keeps_rules(self) -> None:
        _, eni = self.world.instance()
        session = self.world.session(eni, 1, PacketLength=100, Description="old")["TrafficMirrorSessionId"]
        self.world.session(eni, 2)
        changed = self.ec2.modify_traffic_mirror_session(
            TrafficMirrorSessionId=session, SessionNumber=9, VirtualNetworkId=99, RemoveFields=["packet-length"], Description="new"
        )["TrafficMirrorSession"]
        self.assertEqual((9, 99, "new"), (changed["SessionNumber"], changed["VirtualNetworkId"], changed["Description"]))
        self.assertNotIn("PacketLength", changed)
        self.assertAwsError("InvalidParameterValue", self.ec2.modify_traffic_mirror_session, TrafficMirrorSessionId=session, SessionNumber=2)
        self.assertAwsError("InvalidTrafficMirrorTargetId.NotFound", self.ec2.modify_traffic_mirror_session,
                            TrafficMirrorSessionId=session, TrafficMirrorTargetId="tmt-0123456789abcdef0")

    def test_target_and_filter_in_use_cannot_be_deleted(self) -> None:
        _, eni = self.world.instance()
        session = self.world.session(eni)["TrafficMirrorSessionId"]
        self.assertAwsError("TrafficMirrorTargetInUseException", self.ec2.delete_traffic_mirror_target, TrafficMirrorTargetId=self.world.target)
        self.assertAwsError("TrafficMirrorFilterInUse", self.ec2.delete_traffic_mirror_filter, TrafficMirrorFilterId=self.world.filter)
        self.ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=session)
        self.ec2.delete_traffic_mirror_target(TrafficMirrorTargetId=self.world.target)
        self.ec2.delete_traffic_mirror_filter(TrafficMirrorFilterId=self.world.filter)
        self.assertEqual([], self.ec2.describe_traffic_mirror_targets()["TrafficMirrorTargets"])


class DescribeTests(SessionTestCase):
    def setUp(self) -> None:
        super().setUp()
        _, self.eni_a = self.world.instance()
        _, self.eni_b = self.world.instance()
        managed = [{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "automirror:managed", "Value": "true"}, {"Key": "lab", "Value": "red"}]}]
        self.a1 = self.world.session(self.eni_a, 1, VirtualNetworkId=100, TagSpecifications=managed, Description="a1")["TrafficMirrorSessionId"]
        self.a2 = self.world.session(self.eni_a, 2, VirtualNetworkId=200)["TrafficMirrorSessionId"]
        self.b1 = self.world.session(self.eni_b, 1, VirtualNetworkId=100)["TrafficMirrorSessionId"]

    def ids(self, *filters: tuple[str, list[str]]) -> set[str]:
        return set(self.session_ids(Filters=[{"Name": name, "Values": values} for name, values in filters]))

    def test_filters_select_sessions_as_aws_documents(self) -> None:
        self.assertEqual({self.a1, self.a2}, self.ids(("network-interface-id", [self.eni_a])))
        self.assertEqual({self.a1, self.b1}, self.ids(("session-number", ["1"])))
        self.assertEqual({self.a1, self.b1}, self.ids(("virtual-network-id", ["100"])))
        self.assertEqual({self.a1}, self.ids(("virtual-network-id", ["100"]), ("network-interface-id", [self.eni_a])))
        self.assertEqual({self.a2}, self.ids(("traffic-mirror-session-id", [self.a2])))
        self.assertEqual({self.a1, self.a2, self.b1}, self.ids(("traffic-mirror-target-id", [self.world.target])))
        self.assertEqual(set(), self.ids(("traffic-mirror-target-id", ["tmt-0123456789abcdef0"])))
        self.assertEqual({self.a1, self.a2, self.b1}, self.ids(("traffic-mirror-filter-id", [self.world.filter])))
        self.assertEqual({self.a1, self.a2, self.b1}, self.ids(("owner-id", ["123456789012"])))
        self.assertEqual({self.a1}, self.ids(("description", ["a1"])))
        self.assertEqual({self.a1}, self.ids(("tag:automirror:managed", ["true"])))
        self.assertEqual({self.a1}, self.ids(("tag-key", ["lab"])))
        self.assertEqual(set(), self.ids(("tag:lab", ["blue"])))

    def test_unknown_filter_is_invalid(self) -> None:
        self.assertAwsError("InvalidParameterValue", self.ec2.describe_traffic_mirror_sessions, Filters=[{"Name": "colour", "Values": ["x"]}])

    def test_describe_by_missing_id_is_not_found(self) -> None:
        self.assertAwsError("InvalidTrafficMirrorSessionId.NotFound", self.ec2.describe_traffic_mirror_sessions,
                            TrafficMirrorSessionIds=[self.a1, "tms-0123456789abcdef0"])

    def test_create_tags_and_delete_tags_apply_to_sessions(self) -> None:
        self.ec2.create_tags(Resources=[self.b1], Tags=[{"Key": "lab", "Value": "red"}])
        self.assertEqual({self.a1, self.b1}, self.ids(("tag:lab", ["red"])))
        self.ec2.delete_tags(Resources=[self.a1], Tags=[{"Key": "lab"}])
        self.assertEqual({self.b1}, self.ids(("tag:lab", ["red"])))
        self.assertAwsError("InvalidTrafficMirrorSessionId.NotFound", self.ec2.create_tags,
                            Resources=["tms-0123456789abcdef0"], Tags=[{"Key": "lab", "Value": "red"}])

    def test_pagination_walks_every_session_once(self) -> None:
        nlb = self.world.nlb_target(cloud.client("elbv2"))
        for _ in range(9):
            self.world.session(self.world.instance()[1], target=nlb)
        seen: list[str] = []
        pages = 0
        token = None
        while True:
            kwargs = {"MaxResults": 5, **({"NextToken": token} if token else {})}
            page = self.ec2.describe_traffic_mirror_sessions(**kwargs)
            pages += 1
            seen += [s["TrafficMirrorSessionId"] for s in page["TrafficMirrorSessions"]]
            self.assertLessEqual(len(page["TrafficMirrorSessions"]), 5)
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(3, pages)
        self.assertEqual(12, len(seen))
        self.assertEqual(12, len(set(seen)))
        paginator = self.ec2.get_paginator("describe_traffic_mirror_sessions")
        self.assertEqual(12, sum(len(p["TrafficMirrorSessions"]) for p in paginator.paginate(PaginationConfig={"PageSize": 5})))

    def test_bad_next_token_is_refused(self) -> None:
        self.assertAwsError("InvalidNextToken", self.ec2.describe_traffic_mirror_sessions, MaxResults=5, NextToken="garbage")


class FilterRuleTests(SessionTestCase):
    def rule(self, number: int, direction: str = "ingress", **extra) -> dict:
        return self.ec2.create_traffic_mirror_filter_rule(
            TrafficMirrorFilterId=extra.pop("filter", self.world.filter), TrafficDirection=direction, RuleNumber=number,
            RuleAction=extra.pop("action", "accept"), DestinationCidrBlock="0.0.0.0/0", SourceCidrBlock="0.0.0.0/0", **extra,
        )["TrafficMirrorFilterRule"]

    def test_rules_show_in_the_filter_by_direction_and_number(self) -> None:
        tcp = self.rule(200, Protocol=6, DestinationPortRange={"FromPort": 443, "ToPort": 443})
        self.rule(100)
        self.rule(100, "egress", action="reject")
        self.assertRegex(tcp["TrafficMirrorFilterRuleId"], r"^tmfr-[0-9a-f]{17}$")
        described = self.ec2.describe_traffic_mirror_filters(TrafficMirrorFilterIds=[self.world.filter])["TrafficMirrorFilters"][0]
        self.assertEqual([100, 200], [r["RuleNumber"] for r in described["IngressFilterRules"]])
        self.assertEqual({"FromPort": 443, "ToPort": 443}, described["IngressFilterRules"][1]["DestinationPortRange"])
        self.assertEqual(["reject"], [r["RuleAction"] for r in described["EgressFilterRules"]])

    def test_duplicate_number_in_one_direction_already_exists(self) -> None:
        self.rule(100)
        self.assertAwsError("TrafficMirrorFilterRuleAlreadyExists", self.rule, 100)
        self.assertEqual(100, self.rule(100, "egress")["RuleNumber"])

    def test_eleventh_rule_exceeds_the_limit(self) -> None:
        for number in range(1, 11):
            self.rule(number, "ingress" if number % 2 else "egress")
        self.assertAwsError("TrafficMirrorFilterRuleLimitExceeded", self.rule, 11)

    def test_rule_on_missing_filter_and_ports_without_tcp_or_udp_are_refused(self) -> None:
        self.assertAwsError("InvalidTrafficMirrorFilterId.NotFound", self.rule, 1, filter="tmf-0123456789abcdef0")
        self.assertAwsError("InvalidParameterCombination", self.rule, 1, Protocol=1, DestinationPortRange={"FromPort": 1, "ToPort": 2})

    def test_delete_rule_removes_it_and_a_second_delete_is_not_found(self) -> None:
        rule = self.rule(100)["TrafficMirrorFilterRuleId"]
        self.assertEqual(rule, self.ec2.delete_traffic_mirror_filter_rule(TrafficMirrorFilterRuleId=rule)["TrafficMirrorFilterRuleId"])
        described = self.ec2.describe_traffic_mirror_filters()["TrafficMirrorFilters"][0]
        self.assertEqual([], described["IngressFilterRules"])
        self.assertAwsError("InvalidTrafficMirrorFilterRuleId.NotFound", self.ec2.delete_traffic_mirror_filter_rule, TrafficMirrorFilterRuleId=rule)


if __name__ == "__main__":
    unittest.main()
