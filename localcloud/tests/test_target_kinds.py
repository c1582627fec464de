"""Target kinds (issue #17 item 1): the Gateway Load Balancer pieces moto 5.2.1 lacks or accepts too readily, and the
mirror target's rules for each kind, checked through real stacks and the real EC2 API as AWS applies them."""
import json
import time
import unittest

from .support import AMI, SUPPORTED_TYPE, TwoZoneStackTestCase


def _template(resources):
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


class TargetKindTests(TwoZoneStackTestCase):
    STACK_PREFIX = "kind"

    def create(self, resources):
        return self.create_stack(_template(resources))

    def failure(self, name):
        events = self.cfn.describe_stack_events(StackName=name)["StackEvents"]
        return " ".join(e.get("ResourceStatusReason") or "" for e in events if e["ResourceStatus"] == "CREATE_FAILED")

    def gateway(self, **overrides):
        """The gwlbe kind's resources as template.yaml makes them, each property replaceable."""
        resources = {
            "Gwlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
                "Type": "gateway", "Subnets": [self.subnet_a, self.subnet_b]}},
            "Geneve": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
                "Protocol": "GENEVE", "Port": 6081, "VpcId": self.vpc, "TargetType": "instance",
                "HealthCheckProtocol": "HTTP", "HealthCheckPort": "8080", "HealthCheckPath": "/health"}},
            "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
                "LoadBalancerArn": {"Ref": "Gwlb"}, "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Geneve"}}]}},
            "Service": {"Type": "AWS::EC2::VPCEndpointService", "Properties": {
                "GatewayLoadBalancerArns": [{"Ref": "Gwlb"}], "AcceptanceRequired": False}},
            "Endpoint": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
                "VpcEndpointType": "GatewayLoadBalancer", "VpcId": self.vpc, "SubnetIds": [self.subnet_a],
                "ServiceName": {"Fn::Sub": "com.amazonaws.vpce.${AWS::Region}.${Service}"}}},
            "Target": {"Type": "AWS::EC2::TrafficMirrorTarget", "Properties": {
                "GatewayLoadBalancerEndpointId": {"Ref": "Endpoint"}}},
        }
        for logical, properties in overrides.items():
            resources[logical]["Properties"].update(properties)
        return resources

    def test_GatewayKind_CreatesAnEndpointTargetWhoseInterfaceCannotBeASource(self):
        name, status = self.create(self.gateway())
        self.assertEqual(status, "CREATE_COMPLETE", self.failure(name))
        target = self.ec2.describe_traffic_mirror_targets(TrafficMirrorTargetIds=[self.physical(name, "Target")])["TrafficMirrorTargets"][0]
        endpoint_id = self.physical(name, "Endpoint")
        self.assertEqual((target["Type"], target["GatewayLoadBalancerEndpointId"]), ("gateway-load-balancer-endpoint", endpoint_id))
        endpoint = self.ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
        self.assertEqual(endpoint["VpcEndpointType"], "GatewayLoadBalancer")
        self.assertIn(":loadbalancer/gwy/", self.physical(name, "Gwlb"))
        # The endpoint's interface is requester-managed: AWS refuses it as a mirror source.
        eni = endpoint["NetworkInterfaceIds"][0]
        mirror_filter = self.ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
        with self.assertRaises(self.ec2.exceptions.ClientError) as refused:
            self.ec2.create_traffic_mirror_session(NetworkInterfaceId=eni, TrafficMirrorTargetId=target["TrafficMirrorTargetId"],
                                                   TrafficMirrorFilterId=mirror_filter, SessionNumber=1)
        self.assertEqual(refused.exception.response["Error"]["Code"], "NetworkInterfaceNotSupported")
        # Deleting the stack deletes target, endpoint and service in order (the service refuses while connected).
        # A deleted stack is found by its id only, as on AWS.
        stack_id = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
        self.cfn.delete_stack(StackName=name)
        deadline = time.monotonic() + 30
        while self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_IN_PROGRESS":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        self.assertEqual(self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"], "DELETE_COMPLETE")
        self.assertEqual(self.ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"], [])

    def test_GeneveTargetGroupOnAnotherPort_FailsTheStack(self):
        name, status = self.create(self.gateway(Geneve={"Port": 4789}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("port 6081", self.failure(name))

    def test_GeneveTargetGroupCheckedOverUdp_FailsTheStack(self):
        name, status = self.create(self.gateway(Geneve={"HealthCheckProtocol": "UDP"}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("Health check protocol UDP", self.failure(name))

    def test_GatewayListenerWithAProtocolAndPort_FailsTheStack(self):
        name, status = self.create(self.gateway(Listener={"Protocol": "UDP", "Port": 6081}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("takes no Protocol or Port", self.failure(name))

    def test_NetworkLoadBalancerForwardingToGeneve_FailsTheStack(self):
        resources = self.gateway()
        resources["Gwlb"]["Properties"]["Type"] = "network"
        resources["Listener"]["Properties"].update({"Protocol": "UDP", "Port": 4789})
        name, status = self.create({k: resources[k] for k in ("Gwlb", "Geneve", "Listener")})
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("cannot forward to the GENEVE target group", self.failure(name))

    def test_EndpointServiceOfANetworkLoadBalancerNamedAsGateway_FailsTheStack(self):
        resources = self.gateway()
        resources["Gwlb"]["Properties"]["Type"] = "network"
        name, status = self.create({k: resources[k] for k in ("Gwlb", "Service")})
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("not a gateway load balancer", self.failure(name))

    def test_GatewayEndpointInTwoSubnets_FailsTheStack(self):
        name, status = self.create(self.gateway(Endpoint={"SubnetIds": [self.subnet_a, self.subnet_b]}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("exactly one subnet", self.failure(name))

    def test_GatewayEndpointOfAnUnknownService_FailsTheStack(self):
        resources = self.gateway(Endpoint={"ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"})
        name, status = self.create({k: resources[k] for k in ("Endpoint",)})
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("does not exist", self.failure(name))

    def test_TargetNamingTwoKinds_FailsTheStack(self):
        resources = self.gateway()
        resources["Eni"] = {"Type": "AWS::EC2::NetworkInterface", "Properties": {"SubnetId": self.subnet_a}}
        resources["Target"]["Properties"]["NetworkInterfaceId"] = {"Ref": "Eni"}
        name, status = self.create(resources)
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        self.assertIn("exactly one of", self.failure(name))

    def test_InterfaceTarget_TakesTenSourcesFromASmallSensor_AndRefusesTheEleventh(self):
        sensor = self.ec2.run_instances(ImageId=AMI, InstanceType="c6in.large", MinCount=1, MaxCount=1,
                                        SubnetId=self.subnet_a)["Instances"][0]
        eni = self.ec2.create_network_interface(SubnetId=self.subnet_a)["NetworkInterface"]["NetworkInterfaceId"]
        self.ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=sensor["InstanceId"], DeviceIndex=1)
        name, status = self.create({"Target": {"Type": "AWS::EC2::TrafficMirrorTarget", "Properties": {"NetworkInterfaceId": eni}}})
        self.assertEqual(status, "CREATE_COMPLETE", self.failure(name))
        target = self.physical(name, "Target")
        mirror_filter = self.ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
        sources = [self.ec2.run_instances(ImageId=AMI, InstanceType=SUPPORTED_TYPE, MinCount=1, MaxCount=1, SubnetId=self.subnet_b)
                   ["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"] for _ in range(11)]
        for source in sources[:10]:
            self.ec2.create_traffic_mirror_session(NetworkInterfaceId=source, TrafficMirrorTargetId=target,
                                                   TrafficMirrorFilterId=mirror_filter, SessionNumber=1)
        with self.assertRaises(self.ec2.exceptions.ClientError) as refused:
            self.ec2.create_traffic_mirror_session(NetworkInterfaceId=sources[10], TrafficMirrorTargetId=target,
                                                   TrafficMirrorFilterId=mirror_filter, SessionNumber=1)
        self.assertEqual(refused.exception.response["Error"]["Code"], "TrafficMirrorSourcesPerTargetLimitExceeded")


if __name__ == "__main__":
    unittest.main()
