"""Seeds the local cloud with what the AWS client's integration tests read: a VPC with tagged instances, an
internal NLB with a UDP 4789 listener and a TCP-health-checked target group, a mirror target and filter, a state
machine and a metric. Resources the C# clients cannot create themselves are made here with boto3, the reference
client. Prints the ids as one JSON object.

Usage: python3 seed_localcloud.py http://127.0.0.1:PORT
"""
import datetime
import json
import sys

import boto3


def main() -> None:
    endpoint = sys.argv[1]
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    elbv2 = session.client("elbv2", endpoint_url=endpoint)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)

    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]

    def instance(tags: dict[str, str], instance_type: str = "m5.large") -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        reservation = ec2.run_instances(
            ImageId="ami-12c6146b", InstanceType=instance_type, MinCount=1, MaxCount=1, SubnetId=subnet,
            TagSpecifications=spec)
        return reservation["Instances"][0]["InstanceId"]

    ids = {
        "mirrored": instance({"automirror": "true", "lab": "lab-1", "Name": "web"}),
        "mirrored2": instance({"automirror": "true", "lab": "lab-1"}),
        "sensor": instance({"Name": "sensor"}, "c5n.large"),
        "toStop": instance({"purpose": "stop"}),
        "toTerminate": instance({"purpose": "terminate"}),
    }
    described = ec2.describe_instances(InstanceIds=[ids["mirrored"]])["Reservations"][0]["Instances"][0]
    eni = described["NetworkInterfaces"][0]["NetworkInterfaceId"]

    lb = elbv2.create_load_balancer(Name="automirror-sensor", Subnets=[subnet], Scheme="internal", Type="network")
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb_arn, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])
    tg_arn = elbv2.create_target_group(
        Name="automirror-sensor", Protocol="UDP", Port=4789, VpcId=vpc, TargetType="instance",
        HealthCheckProtocol="TCP", HealthCheckPort="8080")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ids["sensor"], "Port": 4789}])
    listener = elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol="UDP", Port=4789,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])["Listeners"][0]["ListenerArn"]

    target = ec2.create_traffic_mirror_target(
        NetworkLoadBalancerArn=lb_arn, Description="AutoMirror sensor NLB",
        TagSpecifications=[{"ResourceType": "traffic-mirror-target", "Tags": [{"Key": "automirror:role", "Value": "target"}]}],
    )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
    mirror_filter = ec2.create_traffic_mirror_filter(
        Description="AutoMirror all traffic",
        TagSpecifications=[{"ResourceType": "traffic-mirror-filter", "Tags": [{"Key": "automirror:role", "Value": "filter"}]}],
    )["TrafficMirrorFilter"]["TrafficMirrorFilterId"]

    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    state_machine = sfn.create_state_machine(
        name="automirror-attach", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/automirror-sfn")["stateMachineArn"]

    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "NetworkIn", "Dimensions": [{"Name": "InstanceId", "Value": ids["mirrored"]}],
         "Timestamp": now - datetime.timedelta(minutes=minutes), "Value": value, "Unit": "Bytes"}
        for minutes, value in ((20, 1000.0), (10, 250.0))
    ])

    print(json.dumps({
        "vpcId": vpc, "subnetId": subnet, "instances": ids, "mirroredEni": eni,
        "loadBalancerArn": lb_arn, "targetGroupArn": tg_arn, "listenerArn": listener,
        "mirrorTargetId": target, "mirrorFilterId": mirror_filter, "stateMachineArn": state_machine,
        "metricTime": now.isoformat(),
    }))


if __name__ == "__main__":
    main()
