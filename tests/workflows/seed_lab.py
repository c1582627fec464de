"""Builds, in the local cloud, what the stack and a user would have made: the sensor NLB with its UDP 4789 listener
and target group (a sensor registered), the mirror target and filter with its rules, and tagged source instances.

Usage: python3 seed_lab.py ENDPOINT lab
       python3 seed_lab.py ENDPOINT source --subnet SUBNET [--interfaces N] [--instance-type TYPE] [--tag-value VALUE]
                                             [--lab NAME]
`lab` prints targetId, filterId, targetGroupArn, loadBalancerArn, vpcId, labSubnetId, sensorSubnetId, sensorInstanceId;
`source` launches one instance tagged automirror=VALUE, lab=NAME (default lab-a) with N interfaces and prints instanceId and
networkInterfaceIds (device order). State machines live in the local Step Functions endpoint
(localcloud/stepfunctions/sfn-server.mjs), not here. Uses boto3 with dummy credentials against ENDPOINT only.
"""
import argparse
import json
import pathlib
import sys

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "lab"))
import cloud_setup  # noqa: E402  (the lab's instances)

REGION = cloud_setup.REGION


def client(service, endpoint):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


HEALTH_PORT = 8080


# Not yet migrated to the deployed stack (issue #13): these workflow tests still restate template.yaml's network
# part by hand, which the lab no longer does.
def create_stack(ec2, elbv2):
    """The network part of template.yaml: VPC, subnets, internal NLB, UDP 4789 listener, HTTP-checked target
    group, mirror target, and an accept-all filter that rejects the sensor subnet first."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    workload_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
    workload_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"]
    sensor_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.100.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]

    nlb = elbv2.create_load_balancer(
        Name="automirror-sensors", Type="network", Scheme="internal", Subnets=[sensor_subnet["SubnetId"]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=nlb, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}]
    )
    target_group = elbv2.create_target_group(
        Name="automirror-sensors",
        Protocol="UDP",
        Port=4789,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckProtocol="HTTP",
        HealthCheckPort=str(HEALTH_PORT),
        HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=nlb,
        Protocol="UDP",
        Port=4789,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )

    sensor = ec2.run_instances(
        ImageId="ami-12c6146b", InstanceType="c5.large", MinCount=1, MaxCount=1, SubnetId=sensor_subnet["SubnetId"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": cloud_setup.tags({"Name": "automirror-sensor", "automirror:role": "sensor"})}],
    )["Instances"][0]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": sensor["InstanceId"], "Port": 4789}])

    target = ec2.create_traffic_mirror_target(
        NetworkLoadBalancerArn=nlb, Description="AutoMirror sensors",
        TagSpecifications=[{"ResourceType": "traffic-mirror-target", "Tags": cloud_setup.tags({"automirror:stack": "lab"})}],
    )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
    mirror_filter = ec2.create_traffic_mirror_filter(Description="AutoMirror: all but the sensor subnet")[
        "TrafficMirrorFilter"
    ]["TrafficMirrorFilterId"]
    for direction in ("ingress", "egress"):
        # Rule 100 rejects the sensor subnet so the sensor's own traffic never loops back; 200 accepts the rest.
        peer = {"DestinationCidrBlock": "10.20.100.0/24", "SourceCidrBlock": "0.0.0.0/0"} if direction == "egress" \
            else {"SourceCidrBlock": "10.20.100.0/24", "DestinationCidrBlock": "0.0.0.0/0"}
        ec2.create_traffic_mirror_filter_rule(
            TrafficMirrorFilterId=mirror_filter, TrafficDirection=direction, RuleNumber=100, RuleAction="reject", **peer
        )
        ec2.create_traffic_mirror_filter_rule(
            TrafficMirrorFilterId=mirror_filter, TrafficDirection=direction, RuleNumber=200, RuleAction="accept",
            SourceCidrBlock="0.0.0.0/0", DestinationCidrBlock="0.0.0.0/0",
        )
    return {
        "vpcId": vpc,
        "workloadSubnetIds": [workload_a["SubnetId"], workload_b["SubnetId"]],
        "sensorSubnetId": sensor_subnet["SubnetId"],
        "loadBalancerArn": nlb,
        "targetGroupArn": target_group,
        "sensorInstanceId": sensor["InstanceId"],
        "mirrorTargetId": target,
        "mirrorFilterId": mirror_filter,
    }



def seed_lab(ec2, elb):
    """The stack as the local lab builds it (lab/cloud_setup.py: what template.yaml creates), in the keys the
    workflow tests read."""
    stack = create_stack(ec2, elb)
    return {
        "targetId": stack["mirrorTargetId"],
        "filterId": stack["mirrorFilterId"],
        "targetGroupArn": stack["targetGroupArn"],
        "loadBalancerArn": stack["loadBalancerArn"],
        "vpcId": stack["vpcId"],
        "labSubnetId": stack["workloadSubnetIds"][0],
        "sensorSubnetId": stack["sensorSubnetId"],
        "sensorInstanceId": stack["sensorInstanceId"],
    }


def seed_source(ec2, subnet, interfaces, instance_type, tag_value, lab):
    image = ec2.describe_images()["Images"][0]["ImageId"]
    source = ec2.run_instances(
        ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1, SubnetId=subnet,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "automirror", "Value": tag_value}, {"Key": "lab", "Value": lab}]}],
    )["Instances"][0]
    instance_id = source["InstanceId"]
    for index in range(1, interfaces):
        eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=index)
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    enis = [n["NetworkInterfaceId"] for n in sorted(described["NetworkInterfaces"], key=lambda n: n["Attachment"]["DeviceIndex"])]
    return {"instanceId": instance_id, "networkInterfaceIds": enis}


def main():
    parser = argparse.ArgumentParser(prog="seed_lab")
    parser.add_argument("endpoint")
    parser.add_argument("what", choices=["lab", "source"])
    parser.add_argument("--subnet")
    parser.add_argument("--interfaces", type=int, default=1)
    parser.add_argument("--instance-type", default="m5.large")
    parser.add_argument("--tag-value", default="true")
    parser.add_argument("--lab", default="lab-a")
    args = parser.parse_args()

    ec2 = client("ec2", args.endpoint)
    if args.what == "lab":
        result = seed_lab(ec2, client("elbv2", args.endpoint))
    else:
        if not args.subnet:
            parser.error("source needs --subnet")
        result = seed_source(ec2, args.subnet, args.interfaces, args.instance_type, args.tag_value, args.lab)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
