"""Loads AutoMirror's additions into moto's running server: new EC2 actions, cascades, hooks.

Patched at start-up in this process only; the installed moto files stay untouched. Each EC2
action is a method on moto's EC2Response, dispatched by Action the way moto's own are, and its
result is serialized by moto from botocore's EC2 model, so the XML has AWS's shape.
"""
from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2 import utils as ec2_utils
from moto.ec2.models import EC2Backend
from moto.ec2.models.traffic_mirrors import TrafficMirrorFilter, TrafficMirrorTarget
from moto.ec2.responses import EC2Response
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

from . import mirror_models as mm
from .control import Controller, health_reason

_installed = False

# AWS's ID prefixes (moto uses its own "traf-mir-..." ones for filters and targets).
_PREFIXES = {
    "traffic-mirror-filter": "tmf",
    "traffic-mirror-target": "tmt",
    "traffic-mirror-session": "tms",
    "traffic-mirror-filter-rule": "tmfr",
}


def install(controller: Controller) -> None:
    global _installed
    if _installed:
        raise RuntimeError("the AutoMirror extension is already installed in this process")
    _installed = True
    _install_prefixes()
    _install_responses()
    _install_filter_and_target_views()
    _install_backend_hooks(controller)
    _install_target_health(controller)
    _install_load_balancer_arns()
    _install_instance_lifecycle()
    _install_zone_balanced_groups()
    _install_shared_targets()


def _install_prefixes() -> None:
    for resource, prefix in _PREFIXES.items():
        old = ec2_utils.EC2_RESOURCE_TO_PREFIX.get(resource)
        if old is not None:
            ec2_utils.EC2_PREFIX_TO_RESOURCE.pop(old, None)
        ec2_utils.EC2_RESOURCE_TO_PREFIX[resource] = prefix
        ec2_utils.EC2_PREFIX_TO_RESOURCE[prefix] = resource


# ----- responses ----------------------------------------------------------------------------
def _int_or_none(value: Any, name: str = "value") -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise mm.error("InvalidParameterValue", f"{name} must be an integer, not {value!r}.") from exc


def _required(response: Any, name: str) -> Any:
    value = response._get_param(name)
    if value is None or value == "":
        raise mm.error("MissingParameter", f"The request must contain the parameter {name}")
    return value


def _required_int(response: Any, name: str) -> int:
    value = _int_or_none(_required(response, name), name)
    assert value is not None  # _required refused None
    return value


def _tags_for(response: Any, resource_type: str) -> dict[str, str]:
    return response._parse_tag_specification(expected_type=resource_type).get(resource_type, {})


def create_traffic_mirror_session(self: Any) -> ActionResult:
    self.error_on_dryrun()
    params = {
        "NetworkInterfaceId": _required(self, "NetworkInterfaceId"),
        "TrafficMirrorTargetId": _required(self, "TrafficMirrorTargetId"),
        "TrafficMirrorFilterId": _required(self, "TrafficMirrorFilterId"),
        "SessionNumber": _required_int(self, "SessionNumber"),
        "PacketLength": _int_or_none(self._get_param("PacketLength"), "PacketLength"),
        "VirtualNetworkId": _int_or_none(self._get_param("VirtualNetworkId"), "VirtualNetworkId"),
        "Description": self._get_param("Description"),
    }
    session, token = mm.create_session(
        self.ec2_backend, params, self._get_param("ClientToken"), _tags_for(self, "traffic-mirror-session")
    )
    result: dict[str, Any] = {"TrafficMirrorSession": session}
    if token:
        result["ClientToken"] = token
    return ActionResult(result)


def describe_traffic_mirror_sessions(self: Any) -> ActionResult:
    sessions, token = mm.describe_sessions(
        self.ec2_backend,
        self._get_param("TrafficMirrorSessionIds", []) or [],
        self._filters_from_querystring(),
        _int_or_none(self._get_param("MaxResults"), "MaxResults"),
        self._get_param("NextToken"),
    )
    result: dict[str, Any] = {"TrafficMirrorSessions": sessions}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def modify_traffic_mirror_session(self: Any) -> ActionResult:
    self.error_on_dryrun()
    changes = {
        "TrafficMirrorTargetId": self._get_param("TrafficMirrorTargetId"),
        "TrafficMirrorFilterId": self._get_param("TrafficMirrorFilterId"),
        "PacketLength": _int_or_none(self._get_param("PacketLength"), "PacketLength"),
        "SessionNumber": _int_or_none(self._get_param("SessionNumber"), "SessionNumber"),
        "VirtualNetworkId": _int_or_none(self._get_param("VirtualNetworkId"), "VirtualNetworkId"),
        "Description": self._get_param("Description"),
    }
    session = mm.modify_session(
        self.ec2_backend, _required(self, "TrafficMirrorSessionId"), changes, self._get_param("RemoveFields", []) or []
    )
    return ActionResult({"TrafficMirrorSession": session})


def delete_traffic_mirror_session(self: Any) -> ActionResult:
    self.error_on_dryrun()
    deleted = mm.delete_session(self.ec2_backend, _required(self, "TrafficMirrorSessionId"))
    return ActionResult({"TrafficMirrorSessionId": deleted})


def create_traffic_mirror_filter_rule(self: Any) -> ActionResult:
    self.error_on_dryrun()
    params = {
        "TrafficMirrorFilterId": _required(self, "TrafficMirrorFilterId"),
        "TrafficDirection": _required(self, "TrafficDirection"),
        "RuleNumber": _required_int(self, "RuleNumber"),
        "RuleAction": _required(self, "RuleAction"),
        "Protocol": _int_or_none(self._get_param("Protocol"), "Protocol"),
        "DestinationCidrBlock": _required(self, "DestinationCidrBlock"),
        "SourceCidrBlock": _required(self, "SourceCidrBlock"),
        "DestinationPortRange": _ports(self._get_param("DestinationPortRange")),
        "SourcePortRange": _ports(self._get_param("SourcePortRange")),
        "Description": self._get_param("Description"),
    }
    rule = mm.create_rule(self.ec2_backend, params, _tags_for(self, "traffic-mirror-filter-rule"))
    result: dict[str, Any] = {"TrafficMirrorFilterRule": rule}
    if self._get_param("ClientToken"):
        result["ClientToken"] = self._get_param("ClientToken")
    return ActionResult(result)


def _ports(value: Any) -> dict[str, int] | None:
    if not value:
        return None
    return {key: _required_port(value[key], key) for key in ("FromPort", "ToPort") if key in value}


def _required_port(value: Any, name: str) -> int:
    port = _int_or_none(value, name)
    if port is None:
        raise mm.error("MissingParameter", f"The request must contain the parameter {name}")
    return port


def delete_traffic_mirror_filter_rule(self: Any) -> ActionResult:
    self.error_on_dryrun()
    deleted = mm.delete_rule(self.ec2_backend, _required(self, "TrafficMirrorFilterRuleId"))
    return ActionResult({"TrafficMirrorFilterRuleId": deleted})


def delete_traffic_mirror_filter(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult({"TrafficMirrorFilterId": mm.delete_filter(self.ec2_backend, _required(self, "TrafficMirrorFilterId"))})


def delete_traffic_mirror_target(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult({"TrafficMirrorTargetId": mm.delete_target(self.ec2_backend, _required(self, "TrafficMirrorTargetId"))})


_RESPONSES = {
    "create_traffic_mirror_session": create_traffic_mirror_session,
    "describe_traffic_mirror_sessions": describe_traffic_mirror_sessions,
    "modify_traffic_mirror_session": modify_traffic_mirror_session,
    "delete_traffic_mirror_session": delete_traffic_mirror_session,
    "create_traffic_mirror_filter_rule": create_traffic_mirror_filter_rule,
    "delete_traffic_mirror_filter_rule": delete_traffic_mirror_filter_rule,
    "delete_traffic_mirror_filter": delete_traffic_mirror_filter,
    "delete_traffic_mirror_target": delete_traffic_mirror_target,
}


def _install_responses() -> None:
    for name, method in _RESPONSES.items():
        if name in EC2Response.__dict__ or hasattr(EC2Response, name):
            raise RuntimeError(f"moto already defines {name}; review the extension before overriding it")
        setattr(EC2Response, name, method)
    _install_malformed_input_guard()


def _install_malformed_input_guard() -> None:
    """moto parses every EC2 request against botocore's model before dispatch and crashes (an HTML
    500) on a value of the wrong type, such as SessionNumber=one; AWS answers a 400 instead."""
    original_parse = EC2Response.parse_parameters
    original_call = EC2Response.call_action

    def parse_parameters(self: Any, request: Any) -> None:
        try:
            original_parse(self, request)
        except (ValueError, TypeError) as exc:
            self.params = {}
            self._automirror_bad_input = mm.error("InvalidParameterValue", f"A parameter has a malformed value: {exc}")

    def call_action(self: Any) -> Any:
        bad_input = getattr(self, "_automirror_bad_input", None)
        if bad_input is None:
            return original_call(self)
        status, headers, body = self.serialized(ActionResult(bad_input))
        headers["status"] = status
        return status, headers, body

    EC2Response.parse_parameters = parse_parameters
    EC2Response.call_action = call_action


def _install_filter_and_target_views() -> None:
    original_filter = TrafficMirrorFilter.to_dict
    original_target = TrafficMirrorTarget.to_dict

    def filter_to_dict(self: Any) -> dict[str, Any]:
        result = original_filter(self)
        result["IngressFilterRules"] = mm.rules_of(self.ec2_backend, self.id, "ingress")
        result["EgressFilterRules"] = mm.rules_of(self.ec2_backend, self.id, "egress")
        result["NetworkServices"] = list(getattr(self, "network_services", []))
        result["Tags"] = mm.tags_of(self.ec2_backend, self.id)  # live tags, not the ones at creation
        return result

    def target_to_dict(self: Any) -> dict[str, Any]:
        result = original_target(self)
        result["Tags"] = mm.tags_of(self.ec2_backend, self.id)
        return result

    TrafficMirrorFilter.to_dict = filter_to_dict
    TrafficMirrorTarget.to_dict = target_to_dict
    # moto's DescribeTrafficMirrorFilters serializes the objects themselves, reading attributes.
    TrafficMirrorFilter.ingress_filter_rules = property(lambda self: mm.rules_of(self.ec2_backend, self.id, "ingress"))
    TrafficMirrorFilter.egress_filter_rules = property(lambda self: mm.rules_of(self.ec2_backend, self.id, "egress"))


# ----- backend hooks ------------------------------------------------------------------------
def _install_backend_hooks(controller: Controller) -> None:
    original_delete_eni = EC2Backend.delete_network_interface
    original_terminate = EC2Backend.terminate_instances
    original_run = EC2Backend.run_instances
    original_exist = EC2Backend.do_resources_exist

    def delete_network_interface(self: Any, eni_id: str) -> None:
        original_delete_eni(self, eni_id)
        mm.delete_sessions_of_enis(self, {eni_id})

    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        terminated = original_terminate(self, instance_ids)
        # Terminating deletes the primary ENI and those marked DeleteOnTermination, and with
        # them their sessions; moto keeps the primary ENI, so the cascade is explicit here.
        doomed = {
            nic.id
            for instance, _ in terminated
            for index, nic in instance.nics.items()
            if index == 0 or nic.delete_on_termination
        }
        mm.delete_sessions_of_enis(self, doomed)
        return terminated

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original_run(self, *args, **kwargs)
        for instance in reservation.instances:
            controller.note_launch(instance.id)
        return reservation

    def do_resources_exist(self: Any, resource_ids: list[str]) -> bool:
        for resource_id in resource_ids:
            if resource_id.startswith("tms-"):
                mm.get_session(self, resource_id)
            elif resource_id.startswith("tmf-"):
                mm.get_filter(self, resource_id)
            elif resource_id.startswith("tmt-"):
                mm.get_target(self, resource_id)
        return original_exist(self, [r for r in resource_ids if not r.startswith(("tms-", "tmf-", "tmt-", "tmfr-"))])

    original_create_target = EC2Backend.create_traffic_mirror_target

    def create_traffic_mirror_target(self: Any, network_interface_id: Any, network_load_balancer_arn: Any, *args: Any, **kwargs: Any) -> Any:
        # AWS checks what the target points at; moto accepts any string.
        if network_interface_id:
            mm.get_eni(self, network_interface_id)
        if network_load_balancer_arn:
            mm.check_nlb_for_target(self, network_load_balancer_arn)
        endpoint_id = args[3] if len(args) > 3 else kwargs.get("gateway_load_balancer_endpoint_id")
        if endpoint_id:
            mm.check_gwlb_endpoint_for_target(self, endpoint_id)
        return original_create_target(self, network_interface_id, network_load_balancer_arn, *args, **kwargs)

    EC2Backend.create_traffic_mirror_target = create_traffic_mirror_target
    EC2Backend.delete_network_interface = delete_network_interface
    EC2Backend.terminate_instances = terminate_instances
    EC2Backend.run_instances = run_instances
    EC2Backend.do_resources_exist = do_resources_exist


def _install_target_health(controller: Controller) -> None:
    original = ELBv2Backend.describe_target_health

    def describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
        statuses = original(self, target_group_arn, targets)
        with controller.lock:
            answer = []
            for status in statuses:
                state = controller.health_override(target_group_arn, status.instance_id)
                if state is None:
                    answer.append(status)
                    continue
                reason, description = health_reason(state)
                answer.append(
                    FakeHealthStatus(status.instance_id, status.port, status.health_check_port, state, reason, description)
                )
            controller.note_health_call(target_group_arn)
            return answer

    ELBv2Backend.describe_target_health = describe_target_health


_LOAD_BALANCER_ARN_KINDS = {"network": "net", "gateway": "gwy"}


def _install_load_balancer_arns() -> None:
    """moto names every load balancer .../loadbalancer/app/...; AWS uses net/ for NLBs and gwy/ for
    GWLBs, and code that tells the kinds apart by ARN must see AWS's form."""
    original = ELBv2Backend.create_load_balancer

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original(self, *args, **kwargs)
        kind = _LOAD_BALANCER_ARN_KINDS.get(balancer.type)
        if kind is None:
            return balancer
        old_arn = balancer.arn
        new_arn = old_arn.replace(":loadbalancer/app/", f":loadbalancer/{kind}/", 1)
        tags = self.tagging_service.list_tags_for_resource(old_arn)[self.tagging_service.tag_name]
        self.load_balancers.pop(old_arn)
        balancer.arn = new_arn
        self.load_balancers[new_arn] = balancer
        self.tagging_service.delete_all_tags_for_resource(old_arn)
        self.tagging_service.tag_resource(new_arn, tags)
        return balancer

    ELBv2Backend.create_load_balancer = create_load_balancer


def _install_instance_lifecycle() -> None:
    """Two things AWS does with instances that moto does not, and that AutoMirror's decisions depend on.

    - StartInstances gives a stopped instance a new LaunchTime (AWS: "the time the instance was last
      launched"; a stop and a start is a launch). moto keeps the first one, so the guard that ignores a
      stop event older than the instance's last start would never be exercised as it runs on AWS.
    - DescribeInstances filters by ``network-interface.network-interface-id`` (documented by AWS):
      the way to ask which instance an interface is attached to now.
    """
    from moto.core.utils import utcnow
    from moto.ec2.models.instances import Instance

    original_start = EC2Backend.start_instances

    def start_instances(self: Any, instance_ids: list[str]) -> Any:
        started = original_start(self, instance_ids)
        for instance, previous in started:
            # A start of a running instance changes nothing on AWS; only a real launch moves the time.
            if previous.name != "running":
                instance.launch_time = utcnow()
        return started

    def attached_interface_ids(self: Any) -> list[str]:
        return [nic.id for nic in self.nics.values()]

    Instance.automirror_attached_interface_ids = property(attached_interface_ids)
    ec2_utils.filter_dict_attribute_mapping["network-interface.network-interface-id"] = "automirror_attached_interface_ids"
    EC2Backend.start_instances = start_instances


def _install_zone_balanced_groups() -> None:
    """moto launches every Auto Scaling instance into the group's first subnet; AWS spreads a group's
    instances evenly over its subnets' Availability Zones, and zone-local delivery relies on that (one
    sensor per zone). Each new instance goes to the zone with the fewest of the group's instances."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2 or count_needed <= 0:
            original(self, count_needed, propagated_tags)
            return
        ec2 = self.autoscaling_backend.ec2_backend
        zone_of = {subnet: ec2.get_subnet(subnet).availability_zone for subnet in subnets}
        all_subnets = self.vpc_zone_identifier
        try:
            for _ in range(count_needed):
                in_zone: dict[str, int] = {}
                for state in self.instance_states:
                    zone = state.instance.availability_zone
                    in_zone[zone] = in_zone.get(zone, 0) + 1
                subnet = min(subnets, key=lambda s: (in_zone.get(zone_of[s], 0), subnets.index(s)))
                self.vpc_zone_identifier = subnet
                original(self, 1, dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = all_subnets

    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances


def _install_shared_targets() -> None:
    """AWS RAM shares a traffic mirror target (resource type ec2:TrafficMirrorTarget) with accounts or an
    organization; moto's RAM refuses that resource type and its EC2 knows one account at a time. The shared
    target shows in the other account's DescribeTrafficMirrorTargets and may be used in its sessions
    (mirror_models.get_target_for_session); an unshared one stays invisible there."""
    from moto.ram.models import ResourceShare

    if "traffic-mirror-target" not in ResourceShare.SHAREABLE_RESOURCES:
        ResourceShare.SHAREABLE_RESOURCES.append("traffic-mirror-target")

    original = EC2Backend.describe_traffic_mirror_targets

    def describe_traffic_mirror_targets(self: Any, traffic_mirror_target_ids: Any, filters: Any) -> list[Any]:
        own = original(self, traffic_mirror_target_ids, filters)
        shared = mm.shared_targets(self)
        if not shared:
            return own
        from moto.utilities.utils import filter_resources

        if traffic_mirror_target_ids:
            shared = [t for t in shared if t.id in traffic_mirror_target_ids]
        if filters:
            shared = filter_resources(shared, filters, (
                ("traffic-mirror-target-id", "id"),
                ("description", "description"),
                ("network-load-balancer-arn", "network_load_balancer_arn"),
                ("owner-id", "owner_id"),
                ("network-interface-id", "network_interface_id"),
            ))
        return list(own) + [t for t in shared if t not in own]

    EC2Backend.describe_traffic_mirror_targets = describe_traffic_mirror_targets
