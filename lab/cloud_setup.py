"""The small lab the local run mirrors: instances a user launches into the network of a deployed stack.

The stack itself is template.yaml, deployed by automirror_localcloud.deploy (the local `sam deploy`);
`stack_view` reads what the lab needs from that deployment. Uses boto3, a real AWS client.
"""
import os

REGION = os.environ.get("AWS_REGION", "us-east-1")


def tags(pairs):
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def stack_view(deployed):
    """The ids the lab works with, all read from the deployed stack (automirror_localcloud.deploy's output): nothing
    here restates template.yaml."""
    outputs, resources, network = deployed["outputs"], deployed["resources"], deployed["network"]
    return {
        "stackName": deployed["stackName"],
        "vpcId": network["vpcId"],
        "workloadSubnetIds": network["workloadSubnetIds"],
        # Per TargetKind (issue #17 item 1): the NLB and its UDP group, the GWLB and its GENEVE group, or (eni) neither.
        "targetKind": outputs.get("TargetKind", "nlb"),
        "loadBalancerArn": outputs.get("SensorLoadBalancerArn") or outputs.get("SensorGatewayLoadBalancerArn"),
        "targetGroupArn": outputs.get("SensorTargetGroupArn") or outputs.get("SensorGeneveTargetGroupArn"),
        "sensorInterfaceId": outputs.get("SensorInterfaceId"),
        "endpointId": outputs.get("SensorEndpointId"),
        "targetName": (outputs.get("SensorInterfaceId") or outputs.get("SensorEndpointId")
                       or (outputs.get("SensorLoadBalancerArn") or "").rsplit("/", 2)[-2]),
        "mirrorTargetId": outputs["MirrorTargetId"],
        "mirrorFilterId": outputs["MirrorFilterId"],
        "attachStateMachineArn": outputs["AttachStateMachineArn"],
        "teardownStateMachineArn": outputs["TeardownStateMachineArn"],
        "sensorGroupName": outputs["SensorGroupName"],
        "functions": {logical: body["physicalId"] for logical, body in resources.items()
                      if body["type"] == "AWS::Lambda::Function"},
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
