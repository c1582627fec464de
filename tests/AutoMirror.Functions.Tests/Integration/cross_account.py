"""Seeds a security account (the sensors' NLB and mirror target) and a source account (its VPC, a tagged source
instance and its own mirror filter) in one local cloud, optionally sharing the target with the source account through
AWS RAM, and prints what the source account's functions need, with credentials of that account (STS AssumeRole).
    python3 cross_account.py ENDPOINT SOURCE_ACCOUNT share|no-share"""
import json
import sys

import boto3

endpoint, source_account, mode = sys.argv[1], sys.argv[2], sys.argv[3]
keys = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")

security_ec2 = boto3.client("ec2", **keys)
vpc = security_ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
subnet = security_ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
nlb = boto3.client("elbv2", **keys).create_load_balancer(Name="sensors", Type="network", Scheme="internal", Subnets=[subnet])["LoadBalancers"][0]
target = security_ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=nlb["LoadBalancerArn"])["TrafficMirrorTarget"]
if mode == "share":
    boto3.client("ram", **keys).create_resource_share(
        name="automirror-target", principals=[source_account],
        resourceArns=[f"arn:aws:ec2:us-east-1:{target['OwnerId']}:traffic-mirror-target/{target['TrafficMirrorTargetId']}"])

credentials = boto3.client("sts", **keys).assume_role(
    RoleArn=f"arn:aws:iam::{source_account}:role/automirror-functions", RoleSessionName="functions")["Credentials"]
source_keys = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=credentials["AccessKeyId"],
                   aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])
source_ec2 = boto3.client("ec2", **source_keys)
source_vpc = source_ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
source_subnet = source_ec2.create_subnet(VpcId=source_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
instance = source_ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large", SubnetId=source_subnet,
                                    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "automirror", "Value": "true"}]}])["Instances"][0]
mirror_filter = source_ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
print(json.dumps({
    "targetId": target["TrafficMirrorTargetId"], "targetOwner": target["OwnerId"], "filterId": mirror_filter, "vpcId": source_vpc,
    "instanceId": instance["InstanceId"], "interfaceId": instance["NetworkInterfaces"][0]["NetworkInterfaceId"],
    "accessKeyId": credentials["AccessKeyId"], "secretAccessKey": credentials["SecretAccessKey"], "sessionToken": credentials["SessionToken"],
}))
