"""A mirror target owned by one account and used by sessions in another: AWS allows it only once the owner shares
the target through AWS RAM (resource type ec2:TrafficMirrorTarget) with the session's account or its organization.
Each account is a moto account reached with credentials from STS AssumeRole into a role of that account."""
from __future__ import annotations

import unittest

import boto3
from botocore.exceptions import ClientError

try:  # as tests.<module> (discover -t localcloud) or as a top-level module (discover -s localcloud/tests)
    from .support import AMI, REGION, SUPPORTED_TYPE, World, module_cloud
except ImportError:
    from support import AMI, REGION, SUPPORTED_TYPE, World, module_cloud

cloud, setUpModule, tearDownModule = module_cloud()

SECURITY_ACCOUNT = "123456789012"  # moto's default account: the owner of the sensors and the target
SOURCE_ACCOUNT = "222222222222"
OTHER_ACCOUNT = "333333333333"


def client_in(account_id: str, service: str):
    credentials = cloud.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/automirror", RoleSessionName="test")["Credentials"]
    return boto3.client(service, endpoint_url=cloud.url, region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])


class SourceAccount:
    """An account with its own VPC, a source instance and its own filter (filters are not shared)."""

    def __init__(self, account_id: str) -> None:
        self.ec2 = client_in(account_id, "ec2")
        vpc = self.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
        instance = self.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=SUPPORTED_TYPE, SubnetId=subnet)["Instances"][0]
        self.eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        self.filter = self.ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]

    def mirror_to(self, target_id: str) -> dict:
        return self.ec2.create_traffic_mirror_session(
            NetworkInterfaceId=self.eni, TrafficMirrorTargetId=target_id, TrafficMirrorFilterId=self.filter, SessionNumber=1)["TrafficMirrorSession"]

    def visible_targets(self) -> list[dict]:
        return self.ec2.describe_traffic_mirror_targets()["TrafficMirrorTargets"]


class CrossAccountTargetTests(unittest.TestCase):
    def setUp(self) -> None:
        cloud.post("/reset")
        self.owner = World(cloud.client("ec2"))
        self.target_arn = f"arn:aws:ec2:{REGION}:{SECURITY_ACCOUNT}:traffic-mirror-target/{self.owner.target}"
        self.ram = cloud.client("ram")

    def share_with(self, *principals: str) -> str:
        return self.ram.create_resource_share(name="automirror-target", resourceArns=[self.target_arn],
                                              principals=list(principals))["resourceShare"]["resourceShareArn"]

    def assertNotFound(self, call, *args) -> None:
        with self.assertRaises(ClientError) as caught:
            call(*args)
        self.assertEqual("InvalidTrafficMirrorTargetId.NotFound", caught.exception.response["Error"]["Code"])

    def test_unshared_target_of_another_account_cannot_be_used_or_seen(self) -> None:
        source = SourceAccount(SOURCE_ACCOUNT)

        self.assertNotFound(source.mirror_to, self.owner.target)
        self.assertEqual([], source.visible_targets())

    def test_target_shared_with_the_account_is_visible_and_takes_its_sessions(self) -> None:
        source = SourceAccount(SOURCE_ACCOUNT)
        self.share_with(SOURCE_ACCOUNT)

        [target] = source.visible_targets()
        session = source.mirror_to(self.owner.target)

        self.assertEqual((self.owner.target, SECURITY_ACCOUNT), (target["TrafficMirrorTargetId"], target["OwnerId"]))
        self.assertEqual((self.owner.target, SOURCE_ACCOUNT), (session["TrafficMirrorTargetId"], session["OwnerId"]))
        listed = source.ec2.describe_traffic_mirror_sessions()["TrafficMirrorSessions"]
        self.assertEqual([session["TrafficMirrorSessionId"]], [s["TrafficMirrorSessionId"] for s in listed])

    def test_share_names_accounts_not_everyone(self) -> None:
        self.share_with(SOURCE_ACCOUNT)
        other = SourceAccount(OTHER_ACCOUNT)

        self.assertNotFound(other.mirror_to, self.owner.target)

    def test_target_shared_with_the_organization_serves_its_member_accounts_only(self) -> None:
        organizations = cloud.client("organizations")
        organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Arn"]
        member = organizations.create_account(AccountName="lab", Email="lab@example.com")["CreateAccountStatus"]["AccountId"]
        self.share_with(organization)

        self.assertEqual(self.owner.target, SourceAccount(member).mirror_to(self.owner.target)["TrafficMirrorTargetId"])
        self.assertNotFound(SourceAccount(OTHER_ACCOUNT).mirror_to, self.owner.target)

    def test_deleted_share_refuses_new_sessions(self) -> None:
        source = SourceAccount(SOURCE_ACCOUNT)
        share = self.share_with(SOURCE_ACCOUNT)
        source.mirror_to(self.owner.target)

        self.ram.delete_resource_share(resourceShareArn=share)

        self.assertNotFound(SourceAccount(SOURCE_ACCOUNT).mirror_to, self.owner.target)


if __name__ == "__main__":
    unittest.main()
