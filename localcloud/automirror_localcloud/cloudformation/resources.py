"""CloudFormation resource models for the local cloud: the types moto 5.2.1's CloudFormation lacks, and the ones it
creates differently from AWS. Each subclasses moto's CloudFormationModel directly, because moto builds its type map
from CloudFormationModel.__subclasses__() once, when the first stack is parsed: this module must be imported before
that (the package's install does), and a later class for the same type replaces moto's. Only direct subclasses
count, so the shared plumbing is a mixin.

Every model creates its resource through the same backend calls the API uses, so AWS's rules (enforced by moto or by
the traffic-mirroring extension) apply to a stack exactly as to a direct call.
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroup
from moto.elbv2.models import FakeListener, FakeLoadBalancer, elbv2_backends
from moto.s3.models import s3_backends
from moto.stepfunctions.models import stepfunctions_backends

from .. import mirror_models as mm


class ResourceFailed(Exception):
    """A property CloudFormation's resource handler would refuse; the message is the reason the stack shows."""


def _tags(properties: dict) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t["Value"]} for t in properties.get("Tags") or []]


def _tag_spec(resource_type: str, properties: dict) -> list[dict[str, Any]]:
    tags = _tags(properties)
    return [{"ResourceType": resource_type, "Tags": tags}] if tags else []


class _Physical:
    """A created resource as the stack holds it: its physical id, its attributes, how it is deleted."""

    def __init__(self, physical_id: str, attributes: dict[str, Any], delete: Any) -> None:
        self.physical_resource_id = physical_id
        self._attributes = attributes
        self._delete = delete

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, name: str) -> Any:
        if name not in self._attributes:
            raise ResourceFailed(f"attribute {name} does not exist")
        return self._attributes[name]

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete()


class _Model:
    """Shared plumbing, mixed in ahead of CloudFormationModel: moto only finds direct subclasses of it."""

    TYPE = ""
    ATTRIBUTES: tuple[str, ...] = ()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,  # type: ignore[misc]
                                        cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        raise ResourceFailed(f"updating {cls.TYPE} is not supported by the local cloud")

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        raise ResourceFailed(f"{cls.TYPE} {resource_name} has no delete")

    def is_created(self) -> bool:
        return True


# ----- traffic mirroring ------------------------------------------------------------------------
class TrafficMirrorTargetModel(_Model, CloudFormationModel):
    TYPE = "AWS::EC2::TrafficMirrorTarget"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        kinds = [k for k in ("NetworkInterfaceId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId")
                 if properties.get(k)]
        if len(kinds) != 1:
            raise ResourceFailed("A traffic mirror target needs exactly one of NetworkInterfaceId, "
                                 f"NetworkLoadBalancerArn, GatewayLoadBalancerEndpointId (got {kinds or 'none'})")
        ec2 = ec2_backends[account_id][region_name]
        target = ec2.create_traffic_mirror_target(
            properties.get("NetworkInterfaceId"), properties.get("NetworkLoadBalancerArn"),
            properties.get("Description"), _tag_spec("traffic-mirror-target", properties), None,
            properties.get("GatewayLoadBalancerEndpointId"))
        return _Physical(target.id, {"Id": target.id}, lambda: mm.delete_target(ec2, target.id))


class TrafficMirrorFilterModel(_Model, CloudFormationModel):
    TYPE = "AWS::EC2::TrafficMirrorFilter"
    ATTRIBUTES = ("Id",)
    NETWORK_SERVICES = ("amazon-dns",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        services = list(properties.get("NetworkServices") or [])
        unknown = [s for s in services if s not in cls.NETWORK_SERVICES]
        if unknown:
            raise ResourceFailed(f"NetworkServices {unknown} are not valid (AWS accepts {list(cls.NETWORK_SERVICES)})")
        ec2 = ec2_backends[account_id][region_name]
        mirror_filter = ec2.create_traffic_mirror_filter(
            properties.get("Description"), _tag_spec("traffic-mirror-filter", properties), None)
        mirror_filter.network_services = services
        return _Physical(mirror_filter.id, {"Id": mirror_filter.id}, lambda: mm.delete_filter(ec2, mirror_filter.id))


class TrafficMirrorFilterRuleModel(_Model, CloudFormationModel):
    TYPE = "AWS::EC2::TrafficMirrorFilterRule"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        for required in ("TrafficMirrorFilterId", "TrafficDirection", "RuleNumber", "RuleAction",
                         "SourceCidrBlock", "DestinationCidrBlock"):
            if properties.get(required) in (None, ""):
                raise ResourceFailed(f"Property {required} is required (it resolved to nothing)")
        families = set()
        for name in ("SourceCidrBlock", "DestinationCidrBlock"):
            try:
                families.add(ipaddress.ip_network(properties[name], strict=False).version)
            except ValueError as exc:
                raise ResourceFailed(f"{name} {properties[name]!r} is not a CIDR block") from exc
        if len(families) != 1:
            raise ResourceFailed("SourceCidrBlock and DestinationCidrBlock must both be IPv4 or both be IPv6")
        params = {
            "TrafficMirrorFilterId": properties["TrafficMirrorFilterId"],
            "TrafficDirection": properties["TrafficDirection"],
            "RuleNumber": int(properties["RuleNumber"]),
            "RuleAction": properties["RuleAction"],
            "Protocol": int(properties["Protocol"]) if properties.get("Protocol") is not None else None,
            "SourceCidrBlock": properties["SourceCidrBlock"],
            "DestinationCidrBlock": properties["DestinationCidrBlock"],
            "Description": properties.get("Description"),
        }
        for name in ("SourcePortRange", "DestinationPortRange"):
            if properties.get(name):
                params[name] = {k: int(v) for k, v in properties[name].items()}
        ec2 = ec2_backends[account_id][region_name]
        rule = mm.create_rule(ec2, params, {t["Key"]: t["Value"] for t in _tags(properties)})
        rule_id = rule["TrafficMirrorFilterRuleId"]
        return _Physical(rule_id, {"Id": rule_id}, lambda: mm.delete_rule(ec2, rule_id))


# ----- load balancing ---------------------------------------------------------------------------
# The attributes AWS accepts per load balancer type (ELBv2 API reference, LoadBalancerAttribute).
_COMMON_LB_ATTRIBUTES = {"deletion_protection.enabled", "load_balancing.cross_zone.enabled", "access_logs.s3.enabled",
                         "access_logs.s3.bucket", "access_logs.s3.prefix", "ipv6.deny_all_igw_traffic",
                         "zonal_shift.config.enabled"}
_LB_ATTRIBUTES = {
    "network": _COMMON_LB_ATTRIBUTES | {"dns_record.client_routing_policy",
                                        "secondary_ips.auto_assigned.per_subnet"},
    "gateway": {"deletion_protection.enabled", "load_balancing.cross_zone.enabled"},
    "application": FakeLoadBalancer.VALID_ATTRS,
}


class LoadBalancerModel(_Model, CloudFormationModel):
    """moto's own model makes every load balancer an application load balancer and ignores its attributes and
    tags; an NLB must be type network (a UDP listener is refused otherwise) with cross-zone balancing as set."""

    TYPE = "AWS::ElasticLoadBalancingV2::LoadBalancer"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return FakeLoadBalancer.has_cfn_attr(attr) or attr == "LoadBalancerArn"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        kind = properties.get("Type", "application")
        if kind not in _LB_ATTRIBUTES:
            raise ResourceFailed(f"Type {kind!r} must be application, network or gateway")
        attributes = {a["Key"]: str(a["Value"]) for a in properties.get("LoadBalancerAttributes") or []}
        invalid = sorted(set(attributes) - _LB_ATTRIBUTES[kind])
        if invalid:
            raise ResourceFailed(f"Key {invalid[0]} not valid for a {kind} load balancer (Error code: InvalidConfigurationRequest)")
        backend = elbv2_backends[account_id][region_name]
        balancer = backend.create_load_balancer(
            resource_name, properties.get("SecurityGroups") or [], properties.get("Subnets") or [],
            subnet_mappings=properties.get("SubnetMappings"), scheme=properties.get("Scheme", "internet-facing"),
            loadbalancer_type=kind, ip_address_type=properties.get("IpAddressType", "ipv4"), tags=_tags(properties) or None)
        if attributes:
            backend.modify_load_balancer_attributes(balancer.arn, attributes)
        return balancer

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        elbv2_backends[account_id][region_name].delete_load_balancer(resource_name)


_TARGET_GROUP_ARGUMENTS = {
    "VpcId": "vpc_id", "Protocol": "protocol", "Port": "port", "ProtocolVersion": "protocol_version",
    "HealthCheckProtocol": "healthcheck_protocol", "HealthCheckPort": "healthcheck_port",
    "HealthCheckPath": "healthcheck_path", "HealthCheckIntervalSeconds": "healthcheck_interval_seconds",
    "HealthCheckTimeoutSeconds": "healthcheck_timeout_seconds", "HealthCheckEnabled": "healthcheck_enabled",
    "HealthyThresholdCount": "healthy_threshold_count", "UnhealthyThresholdCount": "unhealthy_threshold_count",
    "Matcher": "matcher", "TargetType": "target_type", "IpAddressType": "ip_address_type",
}


class TargetGroupModel(_Model, CloudFormationModel):
    """moto's model drops TargetGroupAttributes, Tags and Targets; AWS applies them at creation."""

    TYPE = "AWS::ElasticLoadBalancingV2::TargetGroup"
    ATTRIBUTES = ("TargetGroupArn", "TargetGroupFullName", "TargetGroupName", "LoadBalancerArns")

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        protocol = properties.get("Protocol")
        check = properties.get("HealthCheckProtocol")
        if protocol in ("UDP", "TCP_UDP") and check in ("UDP", "TCP_UDP"):
            raise ResourceFailed(f"Health check protocol {check} is not supported for target groups with the "
                                 f"{protocol} protocol: use TCP, HTTP or HTTPS")
        # Target kinds (issue #17 item 1): a Gateway Load Balancer's target groups are GENEVE on 6081, checked over
        # HTTP, HTTPS or TCP (ELB "Target groups for your Gateway Load Balancers").
        if protocol == "GENEVE":
            if str(properties.get("Port")) != "6081":
                raise ResourceFailed(f"A GENEVE target group must use port 6081, got {properties.get('Port')} "
                                     "(Error code: ValidationError)")
            if check not in (None, "HTTP", "HTTPS", "TCP"):
                raise ResourceFailed(f"Health check protocol {check} is not supported for GENEVE target groups: use "
                                     "TCP, HTTP or HTTPS")
        arguments = {arg: properties[key] for key, arg in _TARGET_GROUP_ARGUMENTS.items() if key in properties}
        for numeric in ("port", "healthcheck_interval_seconds", "healthcheck_timeout_seconds",
                        "healthy_threshold_count", "unhealthy_threshold_count"):
            if numeric in arguments:
                arguments[numeric] = int(arguments[numeric])
        if "healthcheck_port" in arguments:
            arguments["healthcheck_port"] = str(arguments["healthcheck_port"])
        backend = elbv2_backends[account_id][region_name]
        group = backend.create_target_group(resource_name, **arguments)
        attributes = {a["Key"]: str(a["Value"]) for a in properties.get("TargetGroupAttributes") or []}
        if attributes:
            backend.modify_target_group_attributes(group.arn, attributes)
        if properties.get("Tags"):
            backend.add_tags([group.arn], _tags(properties))
        if properties.get("Targets"):
            backend.register_targets(group.arn, [{"Id": t["Id"], "Port": t.get("Port")} for t in properties["Targets"]])
        return group

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        elbv2_backends[account_id][region_name].delete_target_group(resource_name)


# ----- security groups --------------------------------------------------------------------------
class SecurityGroupModel(_Model, CloudFormationModel):
    """moto's model drops SecurityGroupEgress. AWS replaces the default allow-all egress with the rules given."""

    TYPE = "AWS::EC2::SecurityGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return SecurityGroup.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        group = SecurityGroup.create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                              region_name, **kwargs)
        egress = (cloudformation_json.get("Properties") or {}).get("SecurityGroupEgress")
        if egress:
            ec2 = ec2_backends[account_id][region_name]
            ec2.revoke_security_group_egress(group.id, "-1", None, None, [{"CidrIp": "0.0.0.0/0"}])
            for rule in egress:
                ranges = [{"CidrIp": rule["CidrIp"], "Description": rule.get("Description")}] if rule.get("CidrIp") else []
                ipv6 = [{"CidrIpv6": rule["CidrIpv6"], "Description": rule.get("Description")}] if rule.get("CidrIpv6") else []
                groups = [{"GroupId": rule["DestinationSecurityGroupId"]}] if rule.get("DestinationSecurityGroupId") else None
                ec2.authorize_security_group_egress(
                    group.id, str(rule["IpProtocol"]),
                    str(rule["FromPort"]) if rule.get("FromPort") is not None else None,
                    str(rule["ToPort"]) if rule.get("ToPort") is not None else None,
                    ranges + ipv6, source_groups=groups)
        return group

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        SecurityGroup.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)


# ----- workflows and functions ------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class StateMachineModel(_Model, CloudFormationModel):
    """moto reads only DefinitionString. AWS also takes Definition (an object) and DefinitionS3Location, and applies
    DefinitionSubstitutions to whichever is given; a placeholder left unsubstituted is an error that names it."""

    TYPE = "AWS::StepFunctions::StateMachine"
    ATTRIBUTES = ("Arn", "Name", "StateMachineRevisionId")

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StateMachineName"

    @classmethod
    def definition(cls, properties: dict, account_id: str, region_name: str) -> str:
        if properties.get("DefinitionString") is not None:
            text = properties["DefinitionString"]
        elif properties.get("Definition") is not None:
            text = json.dumps(properties["Definition"])
        elif properties.get("DefinitionS3Location"):
            location = properties["DefinitionS3Location"]
            from moto.utilities.utils import get_partition

            s3 = s3_backends[account_id][get_partition(region_name)]
            try:
                text = s3.get_object(location["Bucket"], location["Key"]).value.decode("utf-8")
            except Exception as exc:
                raise ResourceFailed(f"DefinitionS3Location s3://{location['Bucket']}/{location['Key']} cannot be read: {exc}") from exc
        else:
            raise ResourceFailed("one of DefinitionString, Definition or DefinitionS3Location is required")
        substitutions = properties.get("DefinitionSubstitutions") or {}
        for key, value in substitutions.items():
            if value is None:
                raise ResourceFailed(f"DefinitionSubstitutions {key} resolved to nothing")
            text = text.replace("${" + key + "}", value if isinstance(value, str) else json.dumps(value))
        left = sorted(set(_PLACEHOLDER.findall(text)))
        if left:
            raise ResourceFailed(f"the definition still has placeholders {left} that no DefinitionSubstitutions entry replaces")
        try:
            json.loads(text)
        except ValueError as exc:
            raise ResourceFailed(f"the definition is not valid JSON after substitution: {exc} (Error code: InvalidDefinition)") from exc
        return text

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        definition = cls.definition(properties, account_id, region_name)
        tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
        backend = stepfunctions_backends[account_id][region_name]
        name = properties.get("StateMachineName", resource_name)
        return backend.create_state_machine(name, definition, properties.get("RoleArn", ""), tags=tags)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        stepfunctions_backends[account_id][region_name].delete_state_machine(resource_name)


class LambdaFunctionModel(_Model, CloudFormationModel):
    """moto's function, with Lambda's check that every environment value is a string: a value that resolved to
    nothing (a !Ref to a resource that was never made) fails the function with the variable's name."""

    TYPE = "AWS::Lambda::Function"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FunctionName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return LambdaFunction.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        variables = ((properties.get("Environment") or {}).get("Variables")) or {}
        bad = sorted(name for name, value in variables.items() if not isinstance(value, str))
        if bad:
            raise ResourceFailed(f"Environment variables {bad} did not resolve to strings "
                                 f"({', '.join(f'{n}={variables[n]!r}' for n in bad)})")
        return LambdaFunction.create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                              region_name, **kwargs)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        LambdaFunction.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)


class ListenerModel(_Model, CloudFormationModel):
    """moto's listener, deleted when the stack is: moto leaves it, and AWS refuses to delete a target group a
    listener still forwards to."""

    TYPE = "AWS::ElasticLoadBalancingV2::Listener"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return FakeListener.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        cls.check_kind(cloudformation_json.get("Properties") or {}, account_id, region_name)
        return FakeListener.create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                            region_name, **kwargs)

    @staticmethod
    def check_kind(properties: dict, account_id: str, region_name: str) -> None:
        """Target kinds (issue #17 item 1): a Gateway Load Balancer's listener has no protocol or port and forwards to
        a GENEVE target group; no other load balancer forwards to one (ELBv2 CreateListener)."""
        backend = elbv2_backends[account_id][region_name]
        balancer = backend.load_balancers.get(properties.get("LoadBalancerArn"))
        if balancer is None:
            return  # moto's own check names the missing load balancer
        groups = [backend.target_groups.get(action.get("TargetGroupArn"))
                  for action in properties.get("DefaultActions") or [] if action.get("TargetGroupArn")]
        geneve = [g for g in groups if g is not None and g.protocol == "GENEVE"]
        if balancer.type == "gateway":
            if properties.get("Protocol") is not None or properties.get("Port") is not None:
                raise ResourceFailed("A Gateway Load Balancer listener takes no Protocol or Port "
                                     "(Error code: ValidationError)")
            if len(geneve) != len(groups) or not groups:
                raise ResourceFailed("A Gateway Load Balancer listener forwards to a GENEVE target group "
                                     "(Error code: ValidationError)")
        elif geneve:
            raise ResourceFailed(f"A {balancer.type} load balancer cannot forward to the GENEVE target group "
                                 f"{geneve[0].arn} (Error code: ValidationError)")

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        elbv2_backends[account_id][region_name].delete_listener(resource_name)


# ----- target kinds (issue #17 item 1): Gateway Load Balancer endpoint services and endpoints -------------------------
# moto 5.2.1 has no CloudFormation model for AWS::EC2::VPCEndpointService, and its VPCEndpoint model makes a Gateway
# Load Balancer endpoint without checking its service or subnet and without the interface AWS gives it.
_ENDPOINT_SERVICE = re.compile(r"^com\.amazonaws\.vpce\.[a-z0-9-]+\.(vpce-svc-[0-9a-f]+)$")


def _gateway_balancer(account_id: str, region_name: str, arn: str) -> Any:
    balancer = elbv2_backends[account_id][region_name].load_balancers.get(arn)
    if balancer is None:
        raise ResourceFailed(f"Load balancer {arn} does not exist (Error code: InvalidParameter)")
    return balancer


class VpcEndpointServiceModel(_Model, CloudFormationModel):
    """An endpoint service fronts Gateway Load Balancers or Network Load Balancers, never both, and each ARN must
    name an existing load balancer of that type (EC2 CreateVpcEndpointServiceConfiguration)."""

    TYPE = "AWS::EC2::VPCEndpointService"
    ATTRIBUTES = ("ServiceId",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        gateways = list(properties.get("GatewayLoadBalancerArns") or [])
        networks = list(properties.get("NetworkLoadBalancerArns") or [])
        if bool(gateways) == bool(networks):
            raise ResourceFailed("Specify either GatewayLoadBalancerArns or NetworkLoadBalancerArns, not both and not "
                                 "neither (Error code: InvalidParameter)")
        wanted = "gateway" if gateways else "network"
        for arn in gateways or networks:
            balancer = _gateway_balancer(account_id, region_name, arn)
            if balancer.type != wanted:
                raise ResourceFailed(f"Load balancer {arn} is a {balancer.type} load balancer, not a {wanted} load "
                                     "balancer (Error code: InvalidParameter)")
        ec2 = ec2_backends[account_id][region_name]
        acceptance = str(properties.get("AcceptanceRequired", False)).lower() == "true"
        config = ec2.create_vpc_endpoint_service_configuration(gateways or networks, acceptance, None, [], [region_name])

        def delete() -> None:
            # AWS refuses to delete a service that endpoints are still connected to.
            connected = [e.id for e in ec2.vpc_end_points.values()
                         if e.service_name == config.service_name and e.state != "deleted"]
            if connected:
                raise ResourceFailed(f"Service {config.id} has existing endpoint connections {connected}")
            ec2.configurations.pop(config.id, None)

        return _Physical(config.id, {"ServiceId": config.id}, delete)


class VpcEndpointModel(_Model, CloudFormationModel):
    """moto's endpoint for the Gateway and Interface types. A GatewayLoadBalancer endpoint is checked as AWS checks
    it: its service must be an existing Gateway Load Balancer endpoint service, it sits in exactly one subnet of the
    VPC, and it gets a requester-managed network interface there (which can never be a mirror source)."""

    TYPE = "AWS::EC2::VPCEndpoint"
    ATTRIBUTES = ("Id", "NetworkInterfaceIds", "DnsEntries", "CreationTimestamp")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        from moto.ec2.models.vpcs import VPCEndPoint

        properties = cloudformation_json.get("Properties") or {}
        if properties.get("VpcEndpointType") != "GatewayLoadBalancer":
            endpoint = VPCEndPoint.create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                                   region_name, **kwargs)
            ec2 = ec2_backends[account_id][region_name]
            return _Physical(endpoint.id, {"Id": endpoint.id, "NetworkInterfaceIds": endpoint.network_interface_ids or [],
                                           "DnsEntries": endpoint.dns_entries,
                                           "CreationTimestamp": str(endpoint.creation_timestamp)},
                             lambda: ec2.delete_vpc_endpoints([endpoint.id]))
        ec2 = ec2_backends[account_id][region_name]
        service_name = properties.get("ServiceName") or ""
        match = _ENDPOINT_SERVICE.match(service_name)
        config = ec2.configurations.get(match.group(1)) if match else None
        if config is None:
            raise ResourceFailed(f"The Vpc Endpoint Service '{service_name}' does not exist "
                                 "(Error code: InvalidServiceName)")
        if not config.gateway_load_balancer_arns:
            raise ResourceFailed(f"Service {service_name} is not a Gateway Load Balancer endpoint service: a "
                                 "GatewayLoadBalancer endpoint needs one (Error code: InvalidParameter)")
        subnets = list(properties.get("SubnetIds") or [])
        if len(subnets) != 1:
            raise ResourceFailed(f"A Gateway Load Balancer endpoint takes exactly one subnet, got {len(subnets)} "
                                 "(Error code: InvalidParameter)")
        if properties.get("SecurityGroupIds") or properties.get("RouteTableIds"):
            raise ResourceFailed("A Gateway Load Balancer endpoint takes no security groups or route tables "
                                 "(Error code: InvalidParameter)")
        subnet = ec2.get_subnet(subnets[0])
        vpc_id = properties.get("VpcId")
        if subnet.vpc_id != vpc_id:
            raise ResourceFailed(f"Subnet {subnet.id} is not in VPC {vpc_id} (Error code: InvalidParameter)")
        endpoint = ec2.create_vpc_endpoint(vpc_id=vpc_id, service_name=service_name, endpoint_type="GatewayLoadBalancer",
                                           policy_document=None, route_table_ids=[], subnet_ids=subnets)
        eni = ec2.create_network_interface(subnet, None, description=f"VPC Endpoint Interface {endpoint.id}")
        eni.requester_managed = True
        eni.interface_type = "gateway_load_balancer_endpoint"
        endpoint.network_interface_ids = [eni.id]
        endpoint.state = "available"

        def delete() -> None:
            for target in ec2.traffic_mirror_targets.values():
                if getattr(target, "gateway_load_balancer_endpoint_id", None) == endpoint.id:
                    raise ResourceFailed(f"Endpoint {endpoint.id} is the traffic mirror target {target.id}")
            ec2.delete_vpc_endpoints([endpoint.id])
            ec2.delete_network_interface(eni.id)

        return _Physical(endpoint.id, {"Id": endpoint.id, "NetworkInterfaceIds": [eni.id], "DnsEntries": [],
                                       "CreationTimestamp": str(endpoint.creation_timestamp)}, delete)


# ----- AWS RAM (issue #17: a mirror target shared with the source accounts) -------------------------------------
class ResourceShareModel(_Model, CloudFormationModel):
    """AWS::RAM::ResourceShare through moto's RAM backend (which the traffic-mirroring extension teaches that a
    traffic mirror target is shareable); its principals and ARNs are checked there as the API checks them."""

    TYPE = "AWS::RAM::ResourceShare"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        from moto.ram.exceptions import InvalidParameterException, MalformedArnException, UnknownResourceException
        from moto.ram.models import ram_backends

        properties = cloudformation_json.get("Properties") or {}
        if not properties.get("Name"):
            raise ResourceFailed("A resource share needs a Name")
        ram = ram_backends[account_id][region_name]
        try:
            share = ram.create_resource_share(
                name=properties["Name"], resourceArns=list(properties.get("ResourceArns") or []),
                principals=list(properties.get("Principals") or []),
                allowExternalPrincipals=_bool(properties.get("AllowExternalPrincipals", True)))["resourceShare"]
        except (InvalidParameterException, MalformedArnException, UnknownResourceException) as exc:  # AWS's message
            raise ResourceFailed(str(exc)) from exc
        arn = share["resourceShareArn"]
        return _Physical(arn, {"Arn": arn}, lambda: ram.delete_resource_share(arn))


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"
