"""Builds, in the local cloud, what the stack and a user would have made: the sensor NLB with its UDP 4789 listener
and target group (a sensor registered), the mirror target and filter, and one tagged source instance.

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

import boto3

REGION = "us-east-1"


def client(service, endpoint):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_lab(ec2, elb):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    lab_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sensor_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.100.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    sensor = ec2.run_instances(ImageId=image, InstanceType="c6in.large", MinCount=1, MaxCount=1, SubnetId=sensor_subnet)
    sensor_id = sensor["Instances"][0]["InstanceId"]
    nlb = elb.create_load_balancer(Name="automirror-sensor", Type="network", Scheme="internal", Subnets=[sensor_subnet])
    nlb_arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
    group = elb.create_target_group(
        Name="automirror-sensor", Protocol="UDP", Port=4789, VpcId=vpc, TargetType="instance",
        HealthCheckProtocol="HTTP", HealthCheckPort="8080", HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=nlb_arn, Protocol="UDP", Port=4789, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": sensor_id}])
    target = ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=nlb_arn, Description="sensor")["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
    mirror_filter = ec2.create_traffic_mirror_filter(Description="all")["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
    return {
        "targetId": target,
        "filterId": mirror_filter,
        "targetGroupArn": group,
        "loadBalancerArn": nlb_arn,
        "vpcId": vpc,
        "labSubnetId": lab_subnet,
        "sensorSubnetId": sensor_subnet,
        "sensorInstanceId": sensor_id,
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
