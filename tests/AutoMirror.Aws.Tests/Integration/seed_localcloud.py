"""Launches, in a local cloud where template.yaml is deployed (tests/AutoMirror.Testing/DeployedStack.cs), what the
AWS clients' integration tests read beside the stack: tagged instances in the user's subnet and a metric. Resources
the C# clients cannot create themselves are made here with boto3, the reference client. The stack's own resources
(load balancer, target group, listener, mirror target and filter, state machines, sensor) come from the stack.
Prints the ids as one JSON object.

Usage: python3 seed_localcloud.py http://127.0.0.1:PORT SUBNET
"""
import datetime
import json
import sys

import boto3


def main() -> None:
    endpoint, subnet = sys.argv[1], sys.argv[2]
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)

    def instance(tags: dict[str, str], instance_type: str = "m5.large") -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        reservation = ec2.run_instances(
            ImageId="ami-12c6146b", InstanceType=instance_type, MinCount=1, MaxCount=1, SubnetId=subnet,
            TagSpecifications=spec)
        return reservation["Instances"][0]["InstanceId"]

    ids = {
        "mirrored": instance({"automirror": "true", "lab": "lab-1", "Name": "web"}),
        "mirrored2": instance({"automirror": "true", "lab": "lab-1"}),
        "toStop": instance({"purpose": "stop"}),
        "toTerminate": instance({"purpose": "terminate"}),
    }
    described = ec2.describe_instances(InstanceIds=[ids["mirrored"]])["Reservations"][0]["Instances"][0]
    eni = described["NetworkInterfaces"][0]["NetworkInterfaceId"]

    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "NetworkIn", "Dimensions": [{"Name": "InstanceId", "Value": ids["mirrored"]}],
         "Timestamp": now - datetime.timedelta(minutes=minutes), "Value": value, "Unit": "Bytes"}
        for minutes, value in ((20, 1000.0), (10, 250.0))
    ])

    print(json.dumps({"instances": ids, "mirroredEni": eni, "metricTime": now.isoformat()}))


if __name__ == "__main__":
    main()
