"""Creates in the local cloud what template.yaml creates in AWS, and the small lab the local run mirrors.

Run with the machine's Python (boto3), against the local cloud:
    python3 lab/cloud_setup.py --endpoint http://127.0.0.1:PORT > lab-state.json

It prints one JSON document: the stack's ids (what the functions' environment needs) and the lab's instances with
what each is meant to show. Uses boto3, a real AWS client, so the local run exercises the same API shapes.
"""
import argparse
import json
import os
import sys

import boto3

REGION = os.environ.get("AWS_REGION", "us-east-1")
HEALTH_PORT = 8080


def client(service, endpoint):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "automirror-lab"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "automirror-lab"),
    )


def tags(pairs):
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


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
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags({"Name": "automirror-sensor", "automirror:role": "sensor"})}],
    )["Instances"][0]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": sensor["InstanceId"], "Port": 4789}])

    target = ec2.create_traffic_mirror_target(
        NetworkLoadBalancerArn=nlb, Description="AutoMirror sensors",
        TagSpecifications=[{"ResourceType": "traffic-mirror-target", "Tags": tags({"automirror:stack": "lab"})}],
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


def launch(ec2, subnet, instance_type, tag_pairs):
    spec = {"ImageId": "ami-12c6146b", "InstanceType": instance_type, "MinCount": 1, "MaxCount": 1, "SubnetId": subnet}
    if tag_pairs:
        spec["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags(tag_pairs)}]
    return ec2.run_instances(**spec)["Instances"][0]


def create_lab(ec2, stack):
    """Instances in two labs, one untagged, one of an unsupported type, one whose interface already holds three
    sessions that are not AutoMirror's."""
    subnet_a, subnet_b = stack["workloadSubnetIds"]
    mirrored = {"automirror": "true"}
    plan = [
        ("red-web", subnet_a, "m5.large", {**mirrored, "lab": "red", "Name": "red-web"}, "mirrored (two interfaces)"),
        ("red-db", subnet_b, "c5.large", {**mirrored, "lab": "red", "Name": "red-db"}, "mirrored"),
        ("blue-web", subnet_a, "m5.large", {**mirrored, "lab": "blue", "Name": "blue-web"}, "mirrored, its own VNI"),
        ("untagged", subnet_a, "m5.large", {"lab": "blue", "Name": "untagged"}, "not tagged: left alone"),
        ("old-xen", subnet_b, "t2.micro", {**mirrored, "lab": "blue", "Name": "old-xen"}, "unsupported-instance-type"),
        ("crowded", subnet_b, "m5.large", {**mirrored, "lab": "red", "Name": "crowded"}, "session-limit"),
    ]
    instances = []
    for name, subnet, instance_type, tag_pairs, expect in plan:
        instance = launch(ec2, subnet, instance_type, tag_pairs)
        instances.append({"name": name, "instanceId": instance["InstanceId"], "instanceType": instance_type,
                          "expect": expect})

    # A second interface on red-web: every eligible interface gets its own session.
    red_web = instances[0]["instanceId"]
    eni = ec2.create_network_interface(SubnetId=subnet_a, Description="red-web secondary")["NetworkInterface"]
    ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=red_web, DeviceIndex=1)

    # Someone else's mirroring on "crowded": three sessions to their own target fill the interface.
    crowded = ec2.describe_instances(InstanceIds=[instances[5]["instanceId"]])["Reservations"][0]["Instances"][0]
    crowded_eni = crowded["NetworkInterfaces"][0]["NetworkInterfaceId"]
    foreign_eni = ec2.create_network_interface(SubnetId=subnet_b, Description="someone else's collector")[
        "NetworkInterface"]["NetworkInterfaceId"]
    foreign_target = ec2.create_traffic_mirror_target(NetworkInterfaceId=foreign_eni)["TrafficMirrorTarget"][
        "TrafficMirrorTargetId"]
    foreign_filter = ec2.create_traffic_mirror_filter(Description="someone else's filter")["TrafficMirrorFilter"][
        "TrafficMirrorFilterId"]
    foreign_sessions = [
        ec2.create_traffic_mirror_session(
            NetworkInterfaceId=crowded_eni, TrafficMirrorTargetId=foreign_target,
            TrafficMirrorFilterId=foreign_filter, SessionNumber=number,
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        for number in (1, 2, 3)
    ]
    return instances, {"targetId": foreign_target, "sessionIds": foreign_sessions}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the local cloud, e.g. http://127.0.0.1:4566")
    args = parser.parse_args()
    ec2 = client("ec2", args.endpoint)
    elbv2 = client("elbv2", args.endpoint)
    stack = create_stack(ec2, elbv2)
    instances, foreign = create_lab(ec2, stack)
    json.dump({"region": REGION, "stack": stack, "instances": instances, "foreign": foreign}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
