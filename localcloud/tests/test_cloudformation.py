"""The local cloud's CloudFormation, one test per gap of moto 5.2.1 it closes (stacks.py, resources.py): each stack
here is small and made for the rule it checks; the lab and the deploy tests create template.yaml itself."""
import json
import unittest

from botocore.exceptions import ClientError

from .support import LocalCloudProcess, TwoZoneStackTestCase


def _template(resources, parameters=None, rules=None, outputs=None):
    document = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    if parameters:
        document["Parameters"] = parameters
    if rules:
        document["Rules"] = rules
    if outputs:
        document["Outputs"] = outputs
    return json.dumps(document)


class LocalCloudFormationTests(TwoZoneStackTestCase):
    STACK_PREFIX = "gap"

    def create(self, body, parameters=None):
        return self.create_stack(body, parameters)

    def test_LoadBalancer_IsANetworkLoadBalancerWithItsAttributesAndAUdpListener(self):
        name, status = self.create(_template({
            "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
                "Type": "network", "Scheme": "internal", "Subnets": [self.subnet_a],
                "LoadBalancerAttributes": [{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}],
                "Tags": [{"Key": "Name", "Value": "sensor"}]}},
            "Group": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
                "Protocol": "UDP", "Port": 4789, "VpcId": self.vpc, "HealthCheckProtocol": "HTTP", "HealthCheckPort": "8080",
                "TargetGroupAttributes": [{"Key": "stickiness.enabled", "Value": "true"},
                                          {"Key": "stickiness.type", "Value": "source_ip"}]}},
            "Udp": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
                "LoadBalancerArn": {"Ref": "Nlb"}, "Protocol": "UDP", "Port": 4789,
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Group"}}]}},
        }))
        self.assertEqual(status, "CREATE_COMPLETE")
        arn = self.physical(name, "Nlb")
        balancer = self.elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
        self.assertEqual((balancer["Type"], balancer["Scheme"]), ("network", "internal"))
        self.assertIn(":loadbalancer/net/", arn)
        attributes = {a["Key"]: a["Value"] for a in self.elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
        self.assertEqual(attributes["load_balancing.cross_zone.enabled"], "true")
        tags = self.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
        self.assertIn({"Key": "Name", "Value": "sensor"}, tags)
        group = self.physical(name, "Group")
        group_attributes = {a["Key"]: a["Value"] for a in self.elb.describe_target_group_attributes(TargetGroupArn=group)["Attributes"]}
        self.assertEqual(group_attributes["stickiness.type"], "source_ip")

    def test_UdpTargetGroupWithAUdpHealthCheck_FailsTheStack(self):
        name, status = self.create(_template({"Group": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Protocol": "UDP", "Port": 4789, "VpcId": self.vpc, "HealthCheckProtocol": "UDP"}}}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        events = self.cfn.describe_stack_events(StackName=name)["StackEvents"]
        failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
        self.assertIn("Health check protocol UDP", failed[0]["ResourceStatusReason"])

    def test_UnknownResourceType_FailsTheStackInsteadOfBeingSkipped(self):
        name, status = self.create(_template({
            "Mystery": {"Type": "AWS::Nothing::Here", "Properties": {}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "x", "VpcId": self.vpc,
                                                                       "Tags": [{"Key": "n", "Value": {"Ref": "Mystery"}}]}},
        }))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        reasons = [e.get("ResourceStatusReason") or "" for e in self.cfn.describe_stack_events(StackName=name)["StackEvents"]]
        self.assertTrue(any("AWS::Nothing::Here" in r for r in reasons), reasons)

    def test_SecurityGroupEgress_ReplacesTheDefaultAllowAll(self):
        name, status = self.create(_template({"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "sensors", "VpcId": self.vpc,
            "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}]}}}))
        self.assertEqual(status, "CREATE_COMPLETE")
        group = self.ec2.describe_security_groups(GroupIds=[self.physical(name, "Group")])["SecurityGroups"][0]
        self.assertEqual([(p["IpProtocol"], p.get("FromPort")) for p in group["IpPermissionsEgress"]], [("tcp", 443)])

    def test_MirrorTargetFilterAndRules_AreCreatedWithAwsRules_AndATargetInUseBlocksTheDelete(self):
        name, status = self.create(_template({
            "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
                "Type": "network", "Scheme": "internal", "Subnets": [self.subnet_a]}},
            "Target": {"Type": "AWS::EC2::TrafficMirrorTarget", "Properties": {"NetworkLoadBalancerArn": {"Ref": "Nlb"}}},
            "Filter": {"Type": "AWS::EC2::TrafficMirrorFilter", "Properties": {"NetworkServices": ["amazon-dns"]}},
            "Accept6": {"Type": "AWS::EC2::TrafficMirrorFilterRule", "Properties": {
                "TrafficMirrorFilterId": {"Ref": "Filter"}, "TrafficDirection": "ingress", "RuleNumber": 100,
                "RuleAction": "accept", "SourceCidrBlock": "::/0", "DestinationCidrBlock": "::/0"}},
        }))
        self.assertEqual(status, "CREATE_COMPLETE")
        target, mirror_filter = self.physical(name, "Target"), self.physical(name, "Filter")
        self.assertTrue(target.startswith("tmt-") and mirror_filter.startswith("tmf-"))
        described = self.ec2.describe_traffic_mirror_filters(TrafficMirrorFilterIds=[mirror_filter])["TrafficMirrorFilters"][0]
        self.assertEqual(described["NetworkServices"], ["amazon-dns"])
        self.assertEqual(described["IngressFilterRules"][0]["SourceCidrBlock"], "::/0")
        instance = self.ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m5.large", MinCount=1, MaxCount=1,
                                          SubnetId=self.subnet_a)["Instances"][0]
        eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        self.ec2.create_traffic_mirror_session(NetworkInterfaceId=eni, TrafficMirrorTargetId=target,
                                               TrafficMirrorFilterId=mirror_filter, SessionNumber=1)
        self.cfn.delete_stack(StackName=name)
        self.assertEqual(self.wait(name), "DELETE_FAILED")
        reasons = " ".join(e.get("ResourceStatusReason") or "" for e in self.cfn.describe_stack_events(StackName=name)["StackEvents"])
        self.assertIn("TrafficMirrorTargetInUseException", reasons)

    def test_MixedFamilyFilterRule_FailsTheStack(self):
        _, status = self.create(_template({
            "Filter": {"Type": "AWS::EC2::TrafficMirrorFilter", "Properties": {}},
            "Rule": {"Type": "AWS::EC2::TrafficMirrorFilterRule", "Properties": {
                "TrafficMirrorFilterId": {"Ref": "Filter"}, "TrafficDirection": "egress", "RuleNumber": 1,
                "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "::/0"}},
        }))
        self.assertEqual(status, "ROLLBACK_COMPLETE")

    def test_SsmParameterType_ResolvesTheValueGiven_NotTheDefault(self):
        self.cloud.client("ssm").put_parameter(Name="/lab/image", Value="ami-785db401", Type="String")
        body = _template({"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": {"Ref": "Image"}, "VpcId": self.vpc}}},
            parameters={"Image": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/does/not/exist"}})
        name, status = self.create(body, {"Image": "/lab/image"})
        self.assertEqual(status, "CREATE_COMPLETE")
        group = self.ec2.describe_security_groups(GroupIds=[self.physical(name, "Group")])["SecurityGroups"][0]
        self.assertEqual(group["Description"], "ami-785db401")

    def test_ParameterConstraintsAndRules_RefuseTheRequestWithTheirMessage(self):
        parameters = {"Cidr": {"Type": "String", "AllowedPattern": r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$",
                               "ConstraintDescription": "an IPv4 CIDR"},
                      "Sensors": {"Type": "List<AWS::EC2::Subnet::Id>"}, "Balancer": {"Type": "List<AWS::EC2::Subnet::Id>"}}
        rules = {"SameZones": {"Assertions": [{
            "Assert": {"Fn::EachMemberIn": [{"Fn::ValueOf": ["Balancer", "AvailabilityZone"]},
                                            {"Fn::ValueOf": ["Sensors", "AvailabilityZone"]}]},
            "AssertDescription": "the load balancer subnets must be in the sensors' zones"}]}}
        body = _template({"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "x"}}},
                         parameters, rules)
        with self.assertRaises(ClientError) as bad_cidr:
            self.cfn.create_stack(StackName="refused1", TemplateBody=body, Parameters=[
                {"ParameterKey": "Cidr", "ParameterValue": "ten"}, {"ParameterKey": "Sensors", "ParameterValue": self.subnet_a},
                {"ParameterKey": "Balancer", "ParameterValue": self.subnet_a}])
        self.assertIn("an IPv4 CIDR", str(bad_cidr.exception))
        with self.assertRaises(ClientError) as zones:
            self.cfn.create_stack(StackName="refused2", TemplateBody=body, Parameters=[
                {"ParameterKey": "Cidr", "ParameterValue": "10.0.0.0/16"},
                {"ParameterKey": "Sensors", "ParameterValue": self.subnet_a},
                {"ParameterKey": "Balancer", "ParameterValue": f"{self.subnet_a},{self.subnet_b}"}])
        self.assertIn("the load balancer subnets must be in the sensors' zones", str(zones.exception))
        name, status = self.create(body, {"Cidr": "10.0.0.0/16", "Sensors": f"{self.subnet_a},{self.subnet_b}",
                                          "Balancer": self.subnet_b})
        self.assertEqual(status, "CREATE_COMPLETE")

    def test_StateMachine_PlaceholderWithoutSubstitution_FailsNamingIt(self):
        definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${EvaluateArn}", "End": True}}})
        name, status = self.create(_template({"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "DefinitionString": definition, "RoleArn": "arn:aws:iam::123456789012:role/x",
            "DefinitionSubstitutions": {"Other": "x"}}}}))
        self.assertEqual(status, "ROLLBACK_COMPLETE")
        reasons = " ".join(e.get("ResourceStatusReason") or "" for e in self.cfn.describe_stack_events(StackName=name)["StackEvents"])
        self.assertIn("EvaluateArn", reasons)

    def test_NumberParameter_IsReferencedAsAString(self):
        body = _template({"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": {"Fn::Join": ["-", ["port", {"Ref": "Port"}]]}, "VpcId": self.vpc}}},
            parameters={"Port": {"Type": "Number", "Default": 8080, "MaxValue": 65535}})
        name, status = self.create(body)
        self.assertEqual(status, "CREATE_COMPLETE")
        group = self.ec2.describe_security_groups(GroupIds=[self.physical(name, "Group")])["SecurityGroups"][0]
        self.assertEqual(group["Description"], "port-8080")


class TemplateRulesTests(unittest.TestCase):
    """template.yaml's own Rules, checked by the local cloud when the request arrives, as CloudFormation checks them."""

    ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

    @classmethod
    def setUpClass(cls):
        cls.cloud = LocalCloudProcess().start()
        cls.cfn = cls.cloud.client("cloudformation")
        ec2 = cls.cloud.client("ec2")
        s3 = cls.cloud.client("s3")
        cls.vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        cls.zone_a = ec2.create_subnet(VpcId=cls.vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        cls.zone_b = ec2.create_subnet(VpcId=cls.vpc, CidrBlock="10.7.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
        s3.create_bucket(Bucket="templates")
        # template.yaml is over CloudFormation's 51,200-byte TemplateBody limit: it goes by URL, as sam deploy sends it.
        s3.put_object(Bucket="templates", Key="template.yaml", Body=(cls.ROOT / "template.yaml").read_bytes())
        cls.url = "https://s3.us-east-1.amazonaws.com/templates/template.yaml"

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()

    def refusal(self, **overrides):
        parameters = {"VpcId": self.vpc, "VpcCidr": "10.7.0.0/16", "SensorSubnetIds": self.zone_a,
                      "NlbSubnetIds": self.zone_a, "SensorCidr": "10.7.1.0/24", **overrides}
        with self.assertRaises(ClientError) as refused:
            self.cfn.create_stack(StackName="refused", TemplateURL=self.url, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                                  Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
        self.assertEqual(refused.exception.response["Error"]["Code"], "ValidationError")
        return refused.exception.response["Error"]["Message"]

    def test_TemplateBodyOverTheLimit_IsRefused_SoSamDeploysByUrl(self):
        body = (self.ROOT / "template.yaml").read_text()
        self.assertGreater(len(body.encode()), 51_200)
        with self.assertRaises(ClientError) as refused:
            self.cfn.create_stack(StackName="too-big", TemplateBody=body)
        self.assertIn("51200", refused.exception.response["Error"]["Message"])

    def test_LoadBalancerZoneWithoutSensors_IsRefusedWithTheTemplatesMessage(self):
        message = self.refusal(NlbSubnetIds=f"{self.zone_a},{self.zone_b}")
        self.assertIn("Every NlbSubnetIds subnet needs a SensorSubnetIds subnet in the same Availability Zone", message)

    def test_SensorZoneWithoutTheLoadBalancer_IsRefusedWithTheTemplatesMessage(self):
        message = self.refusal(SensorSubnetIds=f"{self.zone_a},{self.zone_b}")
        self.assertIn("Every SensorSubnetIds subnet needs an NlbSubnetIds subnet", message)

    def test_OtherVpcWithoutItsSourceCidr_IsRefused(self):
        message = self.refusal(MirrorVpcIds="vpc-0123456789abcdef0")
        self.assertIn("set MirrorSourceCidr", message)

    def test_TerminateWithoutTheExplicitOptIn_IsRefused(self):
        self.assertIn("set AllowTerminate=true", self.refusal(TeardownAction="terminate"))

    def test_ParameterOutsideItsAllowedValues_IsRefused(self):
        self.assertIn("SensorReceive", self.refusal(SensorReceive="carrier-pigeon"))

    def test_SharePrincipalThatRamCannotTakeForAMirrorTarget_IsRefused(self):
        # RAM shares a traffic mirror target with accounts, an organization or OUs, not with IAM roles or users.
        self.assertIn("MirrorTargetSharePrincipals", self.refusal(MirrorTargetSharePrincipals="arn:aws:iam::222222222222:root"))
        self.assertIn("MirrorTargetSharePrincipals", self.refusal(MirrorTargetSharePrincipals="2222,333333333333"))

    def test_ZoneLocalDeliveryIsTrueOrFalse(self):
        self.assertIn("ZoneLocalDelivery", self.refusal(ZoneLocalDelivery="yes"))


if __name__ == "__main__":
    unittest.main()
