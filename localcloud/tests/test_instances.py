"""Instance behaviour AutoMirror's decisions depend on, as AWS has it: a start is a new launch, and an
interface's current instance can be asked for with DescribeInstances."""
from __future__ import annotations

import time
import unittest

try:  # as tests.<module> (discover -t localcloud) or as a top-level module (discover -s localcloud/tests)
    from .support import World, module_cloud
except ImportError:
    from support import World, module_cloud

cloud, setUpModule, tearDownModule = module_cloud()


class StopStartTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")
        self.world = World(self.ec2)

    def launch_time(self, instance_id: str):
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["LaunchTime"]

    def test_start_after_stop_gives_a_new_launch_time(self) -> None:
        instance_id, _ = self.world.instance()
        first = self.launch_time(instance_id)
        self.ec2.stop_instances(InstanceIds=[instance_id])
        self.assertEqual(first, self.launch_time(instance_id), "a stop does not change LaunchTime")
        time.sleep(1.1)  # LaunchTime has second precision on the wire
        self.ec2.start_instances(InstanceIds=[instance_id])
        restarted = self.launch_time(instance_id)
        self.assertGreater(restarted, first)

    def test_start_of_a_running_instance_keeps_its_launch_time(self) -> None:
        instance_id, _ = self.world.instance()
        first = self.launch_time(instance_id)
        time.sleep(1.1)
        self.ec2.start_instances(InstanceIds=[instance_id])
        self.assertEqual(first, self.launch_time(instance_id))


class InterfaceOwnerTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.ec2 = cloud.client("ec2")
        self.world = World(self.ec2)

    def owners(self, eni: str) -> list[str]:
        reservations = self.ec2.describe_instances(
            Filters=[{"Name": "network-interface.network-interface-id", "Values": [eni]}])["Reservations"]
        return [i["InstanceId"] for r in reservations for i in r["Instances"]]

    def test_filter_follows_an_interface_moved_between_instances(self) -> None:
        first, primary = self.world.instance()
        second, _ = self.world.instance()
        eni = self.ec2.create_network_interface(SubnetId=self.world.subnet)["NetworkInterface"]["NetworkInterfaceId"]
        self.assertEqual([first], self.owners(primary))
        self.assertEqual([], self.owners(eni))
        attachment = self.ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=first, DeviceIndex=1)["AttachmentId"]
        self.assertEqual([first], self.owners(eni))
        self.ec2.detach_network_interface(AttachmentId=attachment)
        self.assertEqual([], self.owners(eni))
        self.ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=second, DeviceIndex=1)
        self.assertEqual([second], self.owners(eni))


if __name__ == "__main__":
    unittest.main()
