"""Drives a lab in the local cloud with boto3, the reference client, for what AutoMirror's own ports cannot do
(launching instances, building the sensor NLB). One command per run; prints one JSON document.

  lab.py ENDPOINT seed
  lab.py ENDPOINT launch SUBNET COUNT TYPE INTERFACES TAGS_JSON
  lab.py ENDPOINT tag|untag KEY VALUE ID...
  lab.py ENDPOINT stop|start|terminate ID...
  lab.py ENDPOINT foreign ENI TARGET NUMBER
"""
import json
import sys

import boto3
from botocore.config import Config


def clients(endpoint):
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    # The local cloud may be injecting faults: the reference client retries them like any SDK user's would.
    config = Config(retries={"max_attempts": 20, "mode": "standard"})
    return session.client("ec2", endpoint_url=endpoint, config=config), session.client("elbv2", endpoint_url=endpoint, config=config)


def seed(ec2, elbv2):
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.0.0/18", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sensor_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.200.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sensor = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="c5n.large", MinCount=1, MaxCount=1, SubnetId=sensor_subnet,
                               TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "automirror", "Value": "true"}]}])
    sensor_id = sensor["Instances"][0]["InstanceId"]
    lb_arn = elbv2.create_load_balancer(Name="automirror-sensor", Subnets=[sensor_subnet], Scheme="internal", Type="network")[
        "LoadBalancers"][0]["LoadBalancerArn"]
    tg_arn = elbv2.create_target_group(Name="automirror-sensor", Protocol="UDP", Port=4789, VpcId=vpc, TargetType="instance",
                                       HealthCheckProtocol="TCP", HealthCheckPort="8080")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": sensor_id, "Port": 4789}])
    elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="UDP", Port=4789, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
    target = ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=lb_arn, Description="AutoMirror sensor NLB")["TrafficMirrorTarget"][
        "TrafficMirrorTargetId"]
    # Another team's appliance: an ENI target (an NLB can back one mirror target only).
    appliance = ec2.create_network_interface(SubnetId=sensor_subnet, Description="blue team appliance")["NetworkInterface"]["NetworkInterfaceId"]
    foreign_target = ec2.create_traffic_mirror_target(NetworkInterfaceId=appliance, Description="someone else's")["TrafficMirrorTarget"][
        "TrafficMirrorTargetId"]
    mirror_filter = ec2.create_traffic_mirror_filter(Description="AutoMirror all traffic")["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
    return {"vpcId": vpc, "subnetId": subnet, "sensorSubnetId": sensor_subnet, "sensorInstanceId": sensor_id, "loadBalancerArn": lb_arn,
            "targetGroupArn": tg_arn, "mirrorTargetId": target, "foreignTargetId": foreign_target, "mirrorFilterId": mirror_filter}


def launch(ec2, subnet, count, instance_type, interfaces, tags):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    kwargs = {"ImageId": "ami-12c6146b", "InstanceType": instance_type, "MinCount": count, "MaxCount": count, "TagSpecifications": spec}
    if interfaces > 1:
        kwargs["NetworkInterfaces"] = [{"DeviceIndex": i, "SubnetId": subnet} for i in range(interfaces)]
    else:
        kwargs["SubnetId"] = subnet
    instances = ec2.run_instances(**kwargs)["Instances"]
    return [{"instanceId": i["InstanceId"], "interfaces": [n["NetworkInterfaceId"] for n in i.get("NetworkInterfaces", [])]} for i in instances]


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ec2, elbv2 = clients(endpoint)
    if command == "seed":
        result = seed(ec2, elbv2)
    elif command == "launch":
        result = launch(ec2, args[0], int(args[1]), args[2], int(args[3]), json.loads(args[4]))
    elif command == "tag":
        ec2.create_tags(Resources=args[2:], Tags=[{"Key": args[0], "Value": args[1]}])
        result = {"tagged": args[2:]}
    elif command == "untag":
        ec2.delete_tags(Resources=args[2:], Tags=[{"Key": args[0]}])
        result = {"untagged": args[2:]}
    elif command == "stop":
        result = [c["InstanceId"] for c in ec2.stop_instances(InstanceIds=args)["StoppingInstances"]]
    elif command == "start":
        result = [c["InstanceId"] for c in ec2.start_instances(InstanceIds=args)["StartingInstances"]]
    elif command == "terminate":
        result = [c["InstanceId"] for c in ec2.terminate_instances(InstanceIds=args)["TerminatingInstances"]]
    elif command == "foreign":
        session = ec2.create_traffic_mirror_session(NetworkInterfaceId=args[0], TrafficMirrorTargetId=args[1],
                                                    TrafficMirrorFilterId=args[2], SessionNumber=int(args[3]),
                                                    TagSpecifications=[{"ResourceType": "traffic-mirror-session",
                                                                        "Tags": [{"Key": "owner", "Value": "blue-team"}]}])
        result = session["TrafficMirrorSession"]
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
