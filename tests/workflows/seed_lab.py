"""Launches, in the local cloud, what a user of the deployed stack would: tagged source instances (the stack itself is
template.yaml, deployed by automirror_localcloud.deploy; see tests/AutoMirror.Testing/DeployedStack.cs).

Usage: python3 seed_lab.py ENDPOINT source --subnet SUBNET [--interfaces N] [--instance-type TYPE] [--tag-value VALUE]
                                             [--lab NAME]
`source` launches one instance tagged automirror=VALUE, lab=NAME (default lab-a) with N interfaces and prints instanceId and
networkInterfaceIds (device order). Uses boto3 with dummy credentials against ENDPOINT only.
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
    parser.add_argument("what", choices=["source"])
    parser.add_argument("--subnet")
    parser.add_argument("--interfaces", type=int, default=1)
    parser.add_argument("--instance-type", default="m5.large")
    parser.add_argument("--tag-value", default="true")
    parser.add_argument("--lab", default="lab-a")
    args = parser.parse_args()

    ec2 = client("ec2", args.endpoint)
    if not args.subnet:
        parser.error("source needs --subnet")
    result = seed_source(ec2, args.subnet, args.interfaces, args.instance_type, args.tag_value, args.lab)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
