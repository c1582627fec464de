"""Drives a lab in the local cloud with boto3, the reference client, for what AutoMirror's own ports cannot do
(launching instances, someone else's mirror target); the stack itself is template.yaml, deployed by
tests/AutoMirror.Testing/DeployedStack.cs. One command per run; prints one JSON document.

  lab.py ENDPOINT foreign-target SUBNET
  lab.py ENDPOINT launch SUBNET COUNT TYPE INTERFACES TAGS_JSON
  lab.py ENDPOINT tag|untag KEY VALUE ID...
  lab.py ENDPOINT stop|start|terminate ID...
  lab.py ENDPOINT foreign ENI TARGET NUMBER
  lab.py ENDPOINT describe-tags ID
  lab.py ENDPOINT move ENI INSTANCE|-      (detach an interface, then attach it to INSTANCE unless -)
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


def foreign_target(ec2, subnet):
    """Another team's appliance: an ENI target someone else made (not AutoMirror's, not the stack's)."""
    appliance = ec2.create_network_interface(SubnetId=subnet, Description="blue team appliance")["NetworkInterface"]["NetworkInterfaceId"]
    target = ec2.create_traffic_mirror_target(NetworkInterfaceId=appliance, Description="someone else's")["TrafficMirrorTarget"]
    return {"foreignTargetId": target["TrafficMirrorTargetId"]}


def launch(ec2, subnet, count, instance_type, interfaces, tags):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    kwargs = {"ImageId": "ami-12c6146b", "InstanceType": instance_type, "MinCount": count, "MaxCount": count, "TagSpecifications": spec}
    if interfaces > 1:
        kwargs["NetworkInterfaces"] = [{"DeviceIndex": i, "SubnetId": subnet} for i in range(interfaces)]
    else:
        kwargs["SubnetId"] = subnet
    instances = ec2.run_instances(**kwargs)["Instances"]
    return [{"instanceId": i["InstanceId"], "interfaces": [n["NetworkInterfaceId"] for n in i.get("NetworkInterfaces", [])]} for i in instances]


def move(ec2, eni, instance):
    """A secondary interface moved for failover: detached from its instance, attached to another (its sessions go with it)."""
    attachment = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0].get("Attachment")
    if attachment:
        ec2.detach_network_interface(AttachmentId=attachment["AttachmentId"], Force=True)
    if instance == "-":
        return {"detached": eni}
    described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    index = 1 + max(n["Attachment"]["DeviceIndex"] for n in described["NetworkInterfaces"])
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=index)
    return {"attached": eni, "instanceId": instance}


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ec2, elbv2 = clients(endpoint)
    if command == "foreign-target":
        result = foreign_target(ec2, args[0])
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
    elif command == "describe-tags":
        described = ec2.describe_instances(InstanceIds=[args[0]])["Reservations"][0]["Instances"][0]
        result = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
    elif command == "move":
        result = move(ec2, args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
