"""Pure parts of the local cloud: instance-type support, token buckets and the scaled clock."""
from __future__ import annotations

import json
import unittest

from automirror_localcloud.clock import ScaledClock
from automirror_localcloud.instance_types import DATA_FILE, eni_target_source_limit, mirror_source_support
from automirror_localcloud.throttling import MUTATING, NON_MUTATING, TAGS, BucketSpec, Throttler, TokenBucket, ec2_category


class InstanceTypeTests(unittest.TestCase):
    def test_documented_exclusions_and_exceptions(self) -> None:
        cases = {
            "m5.large": True, "t3.micro": True, "c5n.18xlarge": True,  # Nitro, not excluded
            "m7i-flex.large": False, "c6i.large": False, "r7g.medium": False, "hpc7g.4xlarge": False,  # listed Nitro
            "m5.metal": False, "c5n.metal": False, "i3.metal": False,  # bare metal never
            "c4.large": True, "m4.xlarge": True, "i3.large": True, "x1e.xlarge": True,  # the supported Xen types
            "t2.micro": False, "m3.medium": False, "m1.small": False,  # other Xen types
        }
        for instance_type, supported in cases.items():
            with self.subTest(instance_type=instance_type):
                self.assertEqual(supported, mirror_source_support(instance_type).supported)

    def test_family_matching_is_exact_not_prefix(self) -> None:
        # m6i is excluded; m6g is not in the list, and m6in must not make m6i's sibling m6 match.
        self.assertFalse(mirror_source_support("m6in.large").supported)
        self.assertTrue(mirror_source_support("m6g.large").supported)

    def test_data_file_is_plain_json_for_other_readers(self) -> None:
        data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
        self.assertIn("m7i", data["unsupportedNitroFamilies"])
        self.assertEqual(10, data["eniTargetSources"]["default"])

    def test_eni_target_limits(self) -> None:
        self.assertEqual(10, eni_target_source_limit("m5.large"))
        self.assertEqual(10, eni_target_source_limit(None))
        self.assertEqual(100, eni_target_source_limit("m5.24xlarge"))


class ThrottlingUnitTests(unittest.TestCase):
    def test_categories(self) -> None:
        self.assertEqual(NON_MUTATING, ec2_category("DescribeTrafficMirrorSessions"))
        self.assertEqual(MUTATING, ec2_category("CreateTrafficMirrorSession"))
        self.assertEqual(MUTATING, ec2_category("RunInstances"))
        self.assertEqual(TAGS, ec2_category("CreateTags"))
        self.assertEqual(TAGS, ec2_category("DeleteTags"))

    def test_bucket_refills_at_its_rate_up_to_capacity(self) -> None:
        bucket = TokenBucket(BucketSpec(capacity=2, refill_per_second=0.5), now=0.0)
        self.assertEqual([True, True, False], [bucket.try_take(0.0) for _ in range(3)])
        self.assertFalse(bucket.try_take(1.0))  # half a token
        self.assertTrue(bucket.try_take(2.0))
        self.assertEqual([True, True, False], [bucket.try_take(100.0) for _ in range(3)])  # capped at 2

    def test_only_listed_services_are_throttled(self) -> None:
        throttler = Throttler()
        throttler.configure(True, {NON_MUTATING: BucketSpec(1, 0)}, {"ec2"})
        self.assertTrue(throttler.admit("ec2", "us-east-1", "DescribeVpcs", 0))
        self.assertFalse(throttler.admit("ec2", "us-east-1", "DescribeVpcs", 0))
        self.assertTrue(throttler.admit("elasticloadbalancing", "us-east-1", "DescribeVpcs", 0))
        self.assertTrue(throttler.admit("ec2", "eu-west-1", "DescribeVpcs", 0))  # per region


class ClockTests(unittest.TestCase):
    def test_scale_and_advance(self) -> None:
        real = [0.0]
        clock = ScaledClock(scale=10, real=lambda: real[0])
        real[0] = 1.0
        self.assertEqual(10.0, clock.now())
        clock.set_scale(0)
        real[0] = 5.0
        self.assertEqual(10.0, clock.now())
        clock.advance(2.5)
        self.assertEqual(12.5, clock.now())
        with self.assertRaises(ValueError):
            clock.advance(-1)


if __name__ == "__main__":
    unittest.main()
