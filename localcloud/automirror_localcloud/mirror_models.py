"""Traffic-mirror sessions and filter rules, the parts moto 5.2.1 lacks, with AWS's rules.

State lives on each moto EC2 backend (one per account and region), so moto's reset clears it too.
Error codes are the ones in the EC2 API error reference; see localcloud/README.md for which ones
were confirmed there and which are this project's best reading.
"""
from __future__ import annotations

import base64
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.utils import random_resource_id

from .instance_types import eni_target_source_limit, mirror_source_support

MAX_SESSIONS_PER_ENI = 3
SESSION_NUMBER_RANGE = (1, 32766)
VNI_RANGE = (0, 2**24 - 1)
MAX_RULES_PER_FILTER = 10
RULE_NUMBER_RANGE = (1, 32766)
REMOVABLE_SESSION_FIELDS = {"packet-length", "description", "virtual-network-id"}

# One lock for all mirror state: the server is threaded, and "at most 3 per ENI" must hold even
# when two creates for the same ENI race.
LOCK = threading.RLock()


def error(code: str, message: str) -> EC2ClientError:
    return EC2ClientError(code, message)


@dataclass
class MirrorSession:
    id: str
    network_interface_id: str
    traffic_mirror_target_id: str
    traffic_mirror_filter_id: str
    session_number: int
    virtual_network_id: int
    packet_length: int | None
    description: str | None
    owner_id: str


@dataclass
class FilterRule:
    id: str
    filter_id: str
    direction: str
    rule_number: int
    action: str
    protocol: int | None
    destination_cidr: str
    source_cidr: str
    destination_ports: dict[str, int] | None
    source_ports: dict[str, int] | None
    description: str | None


@dataclass
class MirrorState:
    sessions: dict[str, MirrorSession] = field(default_factory=dict)
    rules: dict[str, FilterRule] = field(default_factory=dict)
    tokens: dict[tuple[str, str], tuple[Any, dict]] = field(default_factory=dict)
    vni_random: random.Random = field(default_factory=lambda: random.Random(0))


def state(backend: Any) -> MirrorState:
    existing = getattr(backend, "_automirror_state", None)
    if existing is None:
        existing = MirrorState()
        backend._automirror_state = existing
    return existing


def new_id(prefix: str) -> str:
    return f"{prefix}-{random_resource_id(17)}"


def tags_of(backend: Any, resource_id: str) -> list[dict[str, str]]:
    return [{"Key": t["key"], "Value": t["value"]} for t in backend.describe_tags(filters={"resource-id": [resource_id]})]


def session_dict(backend: Any, session: MirrorSession) -> dict:
    result = {
        "TrafficMirrorSessionId": session.id,
        "TrafficMirrorTargetId": session.traffic_mirror_target_id,
        "TrafficMirrorFilterId": session.traffic_mirror_filter_id,
        "NetworkInterfaceId": session.network_interface_id,
        "OwnerId": session.owner_id,
        "SessionNumber": session.session_number,
        "VirtualNetworkId": session.virtual_network_id,
        "Tags": tags_of(backend, session.id),
    }
    if session.packet_length is not None:
        result["PacketLength"] = session.packet_length
    if session.description is not None:
        result["Description"] = session.description
    return result


def rule_dict(backend: Any, rule: FilterRule) -> dict:
    result: dict[str, Any] = {
        "TrafficMirrorFilterRuleId": rule.id,
        "TrafficMirrorFilterId": rule.filter_id,
        "TrafficDirection": rule.direction,
        "RuleNumber": rule.rule_number,
        "RuleAction": rule.action,
        "DestinationCidrBlock": rule.destination_cidr,
        "SourceCidrBlock": rule.source_cidr,
        "Tags": tags_of(backend, rule.id),
    }
    if rule.protocol is not None:
        result["Protocol"] = rule.protocol
    if rule.destination_ports:
        result["DestinationPortRange"] = rule.destination_ports
    if rule.source_ports:
        result["SourcePortRange"] = rule.source_ports
    if rule.description is not None:
        result["Description"] = rule.description
    return result


# ----- lookups ------------------------------------------------------------------------------
def get_eni(backend: Any, eni_id: str) -> Any:
    eni = backend.enis.get(eni_id)
    if eni is None:
        raise error("InvalidNetworkInterfaceID.NotFound", f"The networkInterface ID '{eni_id}' does not exist")
    return eni


def get_target(backend: Any, target_id: str) -> Any:
    target = backend.traffic_mirror_targets.get(target_id)
    if target is None:
        raise error("InvalidTrafficMirrorTargetId.NotFound", f"The traffic mirror target ID '{target_id}' does not exist.")
    return target


def shared_with(owner_backend: Any, target: Any, account_id: str) -> bool:
    """Whether the target's owner shares it with account_id through an active AWS RAM resource share
    naming that account, or the owner's organization when the account is a member of it."""
    from moto.ram.models import ram_backends

    ram = ram_backends[owner_backend.account_id][owner_backend.region_name]
    for share in ram.resource_shares:
        if share.status != "ACTIVE" or target.arn not in share.resource_arns:
            continue
        for principal in share.principals:
            if principal == account_id or (principal.startswith("arn:") and _in_organization(owner_backend, principal, account_id)):
                return True
    return False


def _in_organization(owner_backend: Any, organization_arn: str, account_id: str) -> bool:
    if ":organization/" not in organization_arn:
        return False  # OU principals are not modelled; only accounts and the whole organization
    from moto.organizations.exceptions import AWSOrganizationsNotInUseException
    from moto.organizations.models import organizations_backends

    try:
        organizations = organizations_backends[owner_backend.account_id][owner_backend.partition]
        if organizations.describe_organization()["Organization"]["Arn"] != organization_arn:
            return False
        return any(account.id == account_id for account in organizations.accounts)
    except AWSOrganizationsNotInUseException:  # no organization in the owner's account: the principal names nothing
        return False


def find_shared_target(backend: Any, target_id: str) -> Any | None:
    """A target of another account (same region) that is shared with this backend's account."""
    from moto.ec2.models import ec2_backends

    for account_id, regions in list(ec2_backends.items()):
        if account_id == backend.account_id or backend.region_name not in regions:
            continue
        other = regions[backend.region_name]
        target = other.traffic_mirror_targets.get(target_id)
        if target is not None:
            return target if shared_with(other, target, backend.account_id) else None
    return None


def shared_targets(backend: Any) -> list[Any]:
    """Every other account's target in this region shared with this backend's account (DescribeTrafficMirrorTargets
    shows them to the accounts they are shared with)."""
    from moto.ec2.models import ec2_backends

    found = []
    for account_id, regions in list(ec2_backends.items()):
        if account_id == backend.account_id or backend.region_name not in regions:
            continue
        other = regions[backend.region_name]
        found.extend(t for t in other.traffic_mirror_targets.values() if shared_with(other, t, backend.account_id))
    return found


def get_target_for_session(backend: Any, target_id: str) -> Any:
    """A session may use the account's own target or one another account shares with it (AWS RAM); any other
    account's target does not exist as far as this account can tell."""
    target = backend.traffic_mirror_targets.get(target_id)
    if target is None:
        target = find_shared_target(backend, target_id)
    if target is None:
        raise error("InvalidTrafficMirrorTargetId.NotFound", f"The traffic mirror target ID '{target_id}' does not exist.")
    return target


def get_filter(backend: Any, filter_id: str) -> Any:
    mirror_filter = backend.traffic_mirror_filters.get(filter_id)
    if mirror_filter is None:
        raise error("InvalidTrafficMirrorFilterId.NotFound", f"The traffic mirror filter ID '{filter_id}' does not exist.")
    return mirror_filter


def check_nlb_for_target(backend: Any, arn: str) -> None:
    from moto.elbv2.models import elbv2_backends

    balancer = elbv2_backends[backend.account_id][backend.region_name].load_balancers.get(arn)
    if balancer is None or balancer.type != "network":
        raise error("InvalidNetworkLoadBalancerArn.NotFound", f"The Network Load Balancer ARN '{arn}' does not exist.")
    for target in backend.traffic_mirror_targets.values():
        if target.network_load_balancer_arn == arn:
            raise error(
                "NlbInUseByTrafficMirrorTargetException",
                f"The Network Load Balancer '{arn}' is already the traffic mirror target {target.id}.",
            )


def check_gwlb_endpoint_for_target(backend: Any, endpoint_id: str) -> None:
    """Target kinds (issue #17 item 1): the endpoint must exist, be a Gateway Load Balancer endpoint, and not be
    another target already."""
    endpoint = backend.vpc_end_points.get(endpoint_id)
    if endpoint is None or endpoint.state == "deleted":
        raise error("InvalidVpcEndpointId.NotFound", f"The Vpc Endpoint Id '{endpoint_id}' does not exist")
    if (endpoint.vpc_endpoint_type or "") != "GatewayLoadBalancer":
        raise error("InvalidParameterValue",
                    f"The VPC endpoint '{endpoint_id}' is of type {endpoint.vpc_endpoint_type}, not GatewayLoadBalancer.")
    for target in backend.traffic_mirror_targets.values():
        if getattr(target, "gateway_load_balancer_endpoint_id", None) == endpoint_id:
            raise error("InvalidParameterValue",
                        f"The VPC endpoint '{endpoint_id}' is already the traffic mirror target {target.id}.")


def get_session(backend: Any, session_id: str) -> MirrorSession:
    session = state(backend).sessions.get(session_id)
    if session is None:
        raise error("InvalidTrafficMirrorSessionId.NotFound", f"The traffic mirror session ID '{session_id}' does not exist.")
    return session


# ----- validation ---------------------------------------------------------------------------
def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise error("InvalidParameterValue", f"{name} {value} is out of range; valid values are {low}-{high}.")


def _check_source(backend: Any, eni: Any) -> None:
    if getattr(eni, "interface_type", "interface") != "interface" or getattr(eni, "requester_managed", False):
        raise error("NetworkInterfaceNotSupported", f"The network interface '{eni.id}' is not supported for Traffic Mirroring.")
    for target in backend.traffic_mirror_targets.values():
        if target.network_interface_id == eni.id:
            raise error(
                "InvalidParameterValue",
                f"The network interface '{eni.id}' is a traffic mirror target ({target.id}) and cannot be a source.",
            )
    instance = getattr(eni, "instance", None)
    if instance is not None:
        support = mirror_source_support(instance.instance_type)
        if not support.supported:
            raise error(
                "NetworkInterfaceNotSupported",
                f"The network interface '{eni.id}' is not supported for Traffic Mirroring: {support.reason}.",
            )


def _check_target_capacity(backend: Any, target: Any, eni_id: str, ignore_session: str | None = None) -> None:
    # Only ENI targets are limited; NLB and GWLB endpoint targets take any number of sources.
    if target.type != "network-interface":
        return
    sources = {
        s.network_interface_id
        for s in state(backend).sessions.values()
        if s.traffic_mirror_target_id == target.id and s.id != ignore_session
    }
    if eni_id in sources:
        return
    target_eni = target.ec2_backend.enis.get(target.network_interface_id)
    target_type = target_eni.instance.instance_type if target_eni is not None and target_eni.instance else None
    limit = eni_target_source_limit(target_type)
    if len(sources) >= limit:
        raise error(
            "TrafficMirrorSourcesPerTargetLimitExceeded",
            f"Sources per interface-target limit reached ({len(sources) + 1}); the limit is {limit}.",
        )


def _check_session_number(backend: Any, eni_id: str, number: int, ignore_session: str | None = None) -> None:
    for s in state(backend).sessions.values():
        if s.network_interface_id == eni_id and s.session_number == number and s.id != ignore_session:
            raise error(
                "InvalidParameterValue",
                f"Session number {number} is already in use on network interface '{eni_id}' by {s.id}.",
            )


def _assign_vni(backend: Any) -> int:
    used = {s.virtual_network_id for s in state(backend).sessions.values()}
    rng = state(backend).vni_random
    while True:
        # AWS picks a random VNI that no session in the account uses.
        candidate = rng.randint(1, VNI_RANGE[1])
        if candidate not in used:
            return candidate


# ----- sessions -----------------------------------------------------------------------------
def create_session(backend: Any, params: dict, client_token: str | None, tag_spec: dict[str, str]) -> tuple[dict, str | None]:
    """Returns (session as a response dict, client token). params holds the API's own names."""
    with LOCK:
        mirror = state(backend)
        fingerprint = (tuple(sorted((k, v) for k, v in params.items() if v is not None)), tuple(sorted(tag_spec.items())))
        if client_token:
            seen = mirror.tokens.get(("CreateTrafficMirrorSession", client_token))
            if seen is not None:
                if seen[0] != fingerprint:
                    raise error(
                        "IdempotentParameterMismatch",
                        f"The client token '{client_token}' was already used with different parameters.",
                    )
                # Same token and parameters: the original answer, even if the session has since gone.
                existing = mirror.sessions.get(seen[1]["TrafficMirrorSessionId"])
                return (session_dict(backend, existing) if existing else seen[1]), client_token

        session_number = params["SessionNumber"]
        _check_range("SessionNumber", session_number, SESSION_NUMBER_RANGE)
        vni = params.get("VirtualNetworkId")
        if vni is not None:
            _check_range("VirtualNetworkId", vni, VNI_RANGE)
        packet_length = params.get("PacketLength")
        if packet_length is not None and packet_length < 1:
            raise error("InvalidParameterValue", f"PacketLength {packet_length} must be positive.")

        eni = get_eni(backend, params["NetworkInterfaceId"])
        target = get_target_for_session(backend, params["TrafficMirrorTargetId"])
        get_filter(backend, params["TrafficMirrorFilterId"])
        _check_source(backend, eni)

        on_eni = [s for s in mirror.sessions.values() if s.network_interface_id == eni.id]
        if len(on_eni) >= MAX_SESSIONS_PER_ENI:
            raise error(
                "TrafficMirrorSessionsPerInterfaceLimitExceeded",
                f"The network interface '{eni.id}' already has {len(on_eni)} traffic mirror sessions; the limit is {MAX_SESSIONS_PER_ENI}.",
            )
        _check_session_number(backend, eni.id, session_number)
        _check_target_capacity(backend, target, eni.id)

        session = MirrorSession(
            id=new_id("tms"),
            network_interface_id=eni.id,
            traffic_mirror_target_id=target.id,
            traffic_mirror_filter_id=params["TrafficMirrorFilterId"],
            session_number=session_number,
            virtual_network_id=vni if vni is not None else _assign_vni(backend),
            packet_length=packet_length,
            description=params.get("Description"),
            owner_id=backend.account_id,
        )
        mirror.sessions[session.id] = session
        if tag_spec:
            backend.create_tags([session.id], tag_spec)
        result = session_dict(backend, session)
        if client_token:
            mirror.tokens[("CreateTrafficMirrorSession", client_token)] = (fingerprint, result)
        return result, client_token


def modify_session(backend: Any, session_id: str, changes: dict, remove_fields: list[str]) -> dict:
    with LOCK:
        session = get_session(backend, session_id)
        unknown = set(remove_fields) - REMOVABLE_SESSION_FIELDS
        if unknown:
            raise error("InvalidParameterValue", f"RemoveFields values {sorted(unknown)} are not valid.")
        target_id = changes.get("TrafficMirrorTargetId")
        if target_id:
            _check_target_capacity(backend, get_target_for_session(backend, target_id), session.network_interface_id, ignore_session=session.id)
        filter_id = changes.get("TrafficMirrorFilterId")
        if filter_id:
            get_filter(backend, filter_id)
        number = changes.get("SessionNumber")
        if number is not None:
            _check_range("SessionNumber", number, SESSION_NUMBER_RANGE)
            _check_session_number(backend, session.network_interface_id, number, ignore_session=session.id)
        vni = changes.get("VirtualNetworkId")
        if vni is not None:
            _check_range("VirtualNetworkId", vni, VNI_RANGE)

        if target_id:
            session.traffic_mirror_target_id = target_id
        if filter_id:
            session.traffic_mirror_filter_id = filter_id
        if number is not None:
            session.session_number = number
        if vni is not None:
            session.virtual_network_id = vni
        if changes.get("PacketLength") is not None:
            session.packet_length = changes["PacketLength"]
        if changes.get("Description") is not None:
            session.description = changes["Description"]
        if "packet-length" in remove_fields:
            session.packet_length = None
        if "description" in remove_fields:
            session.description = None
        if "virtual-network-id" in remove_fields:
            session.virtual_network_id = _assign_vni(backend)
        return session_dict(backend, session)


def delete_session(backend: Any, session_id: str) -> str:
    with LOCK:
        get_session(backend, session_id)
        del state(backend).sessions[session_id]
        backend.tags.pop(session_id, None)
        return session_id


def delete_sessions_of_enis(backend: Any, eni_ids: set[str]) -> list[str]:
    """AWS deletes a source ENI's sessions with the ENI."""
    with LOCK:
        mirror = state(backend)
        doomed = [s.id for s in mirror.sessions.values() if s.network_interface_id in eni_ids]
        for session_id in doomed:
            del mirror.sessions[session_id]
            backend.tags.pop(session_id, None)
        return doomed


_SESSION_FILTERS = {
    "traffic-mirror-session-id": lambda s: [s.id],
    "traffic-mirror-target-id": lambda s: [s.traffic_mirror_target_id],
    "traffic-mirror-filter-id": lambda s: [s.traffic_mirror_filter_id],
    "network-interface-id": lambda s: [s.network_interface_id],
    "session-number": lambda s: [str(s.session_number)],
    "virtual-network-id": lambda s: [str(s.virtual_network_id)],
    "packet-length": lambda s: [str(s.packet_length)] if s.packet_length is not None else [],
    "owner-id": lambda s: [s.owner_id],
    "description": lambda s: [s.description] if s.description is not None else [],
}


def _matches(backend: Any, session: MirrorSession, name: str, wanted: list[str]) -> bool:
    if name in _SESSION_FILTERS:
        return any(value in wanted for value in _SESSION_FILTERS[name](session))
    tags = {t["Key"]: t["Value"] for t in tags_of(backend, session.id)}
    if name.startswith("tag:"):
        key = name[4:]
        return key in tags and tags[key] in wanted
    if name == "tag-key":
        return any(key in wanted for key in tags)
    if name == "tag-value":
        return any(value in wanted for value in tags.values())
    raise error("InvalidParameterValue", f"The filter '{name}' is invalid")


def describe_sessions(
    backend: Any, session_ids: list[str], filters: dict[str, list[str]], max_results: int | None, next_token: str | None
) -> tuple[list[dict], str | None]:
    with LOCK:
        sessions = list(state(backend).sessions.values())
        if session_ids:
            missing = [sid for sid in session_ids if sid not in state(backend).sessions]
            if missing:
                raise error(
                    "InvalidTrafficMirrorSessionId.NotFound",
                    f"The traffic mirror session ID '{missing[0]}' does not exist.",
                )
            sessions = [s for s in sessions if s.id in session_ids]
        for name, wanted in filters.items():
            sessions = [s for s in sessions if _matches(backend, s, name, wanted)]

        start = _decode_token(next_token)
        if max_results is not None and not 5 <= max_results <= 1000:
            raise error("InvalidParameterValue", f"MaxResults {max_results} is out of range; valid values are 5-1000.")
        end = len(sessions) if max_results is None else start + max_results
        page = sessions[start:end]
        token = _encode_token(end) if end < len(sessions) else None
        return [session_dict(backend, s) for s in page], token


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"automirror:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "automirror":
            raise ValueError(prefix)
        return int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error("InvalidNextToken", f"The token '{token}' is not valid.") from exc


# ----- filter rules -------------------------------------------------------------------------
def create_rule(backend: Any, params: dict, tag_spec: dict[str, str]) -> dict:
    with LOCK:
        mirror = state(backend)
        filter_id = params["TrafficMirrorFilterId"]
        get_filter(backend, filter_id)
        direction = params["TrafficDirection"]
        if direction not in ("ingress", "egress"):
            raise error("InvalidParameterValue", f"TrafficDirection '{direction}' must be ingress or egress.")
        action = params["RuleAction"]
        if action not in ("accept", "reject"):
            raise error("InvalidParameterValue", f"RuleAction '{action}' must be accept or reject.")
        number = params["RuleNumber"]
        _check_range("RuleNumber", number, RULE_NUMBER_RANGE)
        protocol = params.get("Protocol")
        if protocol is not None:
            _check_range("Protocol", protocol, (0, 255))
        for name in ("DestinationPortRange", "SourcePortRange"):
            ports = params.get(name)
            if ports:
                if protocol not in (6, 17):
                    raise error("InvalidParameterCombination", f"{name} is only valid for TCP (6) or UDP (17).")
                for bound in ("FromPort", "ToPort"):
                    if bound in ports:
                        _check_range(f"{name}.{bound}", ports[bound], (0, 65535))
        rules = [r for r in mirror.rules.values() if r.filter_id == filter_id]
        if len(rules) >= MAX_RULES_PER_FILTER:
            raise error(
                "TrafficMirrorFilterRuleLimitExceeded",
                f"The traffic mirror filter '{filter_id}' already has {len(rules)} rules; the limit is {MAX_RULES_PER_FILTER}.",
            )
        if any(r.direction == direction and r.rule_number == number for r in rules):
            raise error(
                "TrafficMirrorFilterRuleAlreadyExists",
                f"A {direction} rule with number {number} already exists in filter '{filter_id}'.",
            )
        rule = FilterRule(
            id=new_id("tmfr"),
            filter_id=filter_id,
            direction=direction,
            rule_number=number,
            action=action,
            protocol=protocol,
            destination_cidr=params["DestinationCidrBlock"],
            source_cidr=params["SourceCidrBlock"],
            destination_ports=params.get("DestinationPortRange") or None,
            source_ports=params.get("SourcePortRange") or None,
            description=params.get("Description"),
        )
        mirror.rules[rule.id] = rule
        if tag_spec:
            backend.create_tags([rule.id], tag_spec)
        return rule_dict(backend, rule)


def delete_rule(backend: Any, rule_id: str) -> str:
    with LOCK:
        if state(backend).rules.pop(rule_id, None) is None:
            raise error(
                "InvalidTrafficMirrorFilterRuleId.NotFound",
                f"The traffic mirror filter rule ID '{rule_id}' does not exist.",
            )
        backend.tags.pop(rule_id, None)
        return rule_id


def rules_of(backend: Any, filter_id: str, direction: str) -> list[dict]:
    with LOCK:
        rules = [r for r in state(backend).rules.values() if r.filter_id == filter_id and r.direction == direction]
        return [rule_dict(backend, r) for r in sorted(rules, key=lambda r: r.rule_number)]


# ----- targets and filters in use -----------------------------------------------------------
def delete_filter(backend: Any, filter_id: str) -> str:
    with LOCK:
        get_filter(backend, filter_id)
        users = [s.id for s in state(backend).sessions.values() if s.traffic_mirror_filter_id == filter_id]
        if users:
            raise error("TrafficMirrorFilterInUse", f"The traffic mirror filter '{filter_id}' is in use by {users[0]}.")
        del backend.traffic_mirror_filters[filter_id]
        for rule_id in [r.id for r in state(backend).rules.values() if r.filter_id == filter_id]:
            del state(backend).rules[rule_id]
        backend.tags.pop(filter_id, None)
        return filter_id


def delete_target(backend: Any, target_id: str) -> str:
    with LOCK:
        get_target(backend, target_id)
        users = [s.id for s in state(backend).sessions.values() if s.traffic_mirror_target_id == target_id]
        if users:
            raise error("TrafficMirrorTargetInUseException", f"The traffic mirror target '{target_id}' is in use by {users[0]}.")
        del backend.traffic_mirror_targets[target_id]
        backend.tags.pop(target_id, None)
        return target_id
