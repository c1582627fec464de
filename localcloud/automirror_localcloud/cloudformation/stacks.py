"""How stacks are created and deleted in the local cloud: the parts of CloudFormation's behaviour that moto 5.2.1
lacks and that template.yaml depends on.

- The SAM transform runs on the template a stack or change set receives (CloudFormation runs it server-side).
- Parameters are checked as CloudFormation checks them (AllowedValues, AllowedPattern, lengths, bounds, AWS-specific
  types that must exist), an SSM parameter type resolves the value given (moto looks up the Default even when a value
  is passed), and the template's Rules are evaluated; a violation refuses the request with the rule's message.
- Resources are created in dependency order (DependsOn, Ref, GetAtt, Sub), each with its events; a resource that
  fails, or whose type the local cloud cannot create, fails the stack, which rolls back to ROLLBACK_COMPLETE.
  moto skips unknown types with a log line, which would let a !Ref to them resolve to nothing.
- A CreationPolicy with ResourceSignal waits for SignalResource calls (Count SUCCESS signals within Timeout, in the
  local clock's seconds); a FAILURE signal or the timeout fails the resource.
- Creation runs in the background, as on AWS: CreateStack and ExecuteChangeSet answer at once, and clients wait on
  DescribeStacks.
- Deletion runs in reverse dependency order (moto deletes in any order and retries), custom resources are sent their
  Delete, and a resource that cannot be deleted leaves the stack DELETE_FAILED with the reason.
"""
from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Event, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import EmptyResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.core import TaggedEC2Resource
from moto.ssm import ssm_backends

from ..control import Controller
from . import transform
from .custom import CustomResourceModel

log = logging.getLogger("automirror.cloudformation")

_PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix", "AWS::NoValue",
           "AWS::Partition", "AWS::NotificationARNs"}

_installed = False


def install(controller: Controller) -> None:
    global _installed
    if _installed:
        raise RuntimeError("the local CloudFormation is already installed in this process")
    _installed = True
    _install_transform_and_parameters()
    _install_unknown_types_fail()
    _install_background_create(controller)
    _install_delete(controller)
    _install_signal_resource()
    _install_template_body_limit()


# ----- templates and parameters -----------------------------------------------------------------
def _install_transform_and_parameters() -> None:
    original_stack_init = Stack.__init__
    original_change_set_init = ChangeSet.__init__
    original_create_stack = CloudFormationBackend.create_stack
    original_create_change_set = CloudFormationBackend.create_change_set

    def processed(template: Any, parameters: dict[str, Any], region: str) -> Any:
        if not template:
            return template
        try:
            return transform.apply(template, parameters, region)
        except transform.TransformError as exc:
            raise ValidationError(message=str(exc)) from exc

    def stack_init(self: Stack, stack_id: str, name: str, template: Any, parameters: dict, account_id: str,
                   region_name: str, *args: Any, **kwargs: Any) -> None:
        original_stack_init(self, stack_id, name, processed(template, parameters, region_name), parameters,
                            account_id, region_name, *args, **kwargs)

    def change_set_init(self: ChangeSet, *args: Any, **kwargs: Any) -> None:
        stack = kwargs["stack"]
        kwargs["template"] = processed(kwargs["template"], kwargs.get("parameters") or {}, stack.region_name)
        original_change_set_init(self, *args, **kwargs)

    def create_stack(self: CloudFormationBackend, name: str, template: str, parameters: dict, *args: Any, **kwargs: Any) -> Any:
        _validate_request(template, parameters, self.account_id, self.region_name)
        return original_create_stack(self, name, template, parameters, *args, **kwargs)

    def create_change_set(self: CloudFormationBackend, stack_name: str, change_set_name: str, template: str,
                          parameters: dict, *args: Any, **kwargs: Any) -> Any:
        _validate_request(template, parameters, self.account_id, self.region_name)
        return original_create_change_set(self, stack_name, change_set_name, template, parameters, *args, **kwargs)

    Stack.__init__ = stack_init
    ChangeSet.__init__ = change_set_init
    CloudFormationBackend.create_stack = create_stack
    CloudFormationBackend.create_change_set = create_change_set

    def parse_ssm_parameter(self: parsing.ResourceMap, value: str, value_type: str) -> Any:
        parameter = ssm_backends[self._account_id][self._region_name].get_parameter(value)
        if parameter is None:
            raise ValidationError(message=f"Unable to fetch parameters [{value}] from parameter store for this account.")
        return parameter.value.split(",") if "List" in value_type else parameter.value

    def load_parameters(self: parsing.ResourceMap) -> None:
        # moto resolves an SSM-typed parameter's Default even when a value is given; resolve only the value in effect.
        slots = self._template.get("Parameters", {})
        given = self.input_parameters
        for name, slot in slots.items():
            value_type = slot.get("Type", "String")
            if value_type.startswith("AWS::SSM::Parameter::Value<"):
                value = given.get(name, slot.get("Default"))
                given[name] = self.parse_ssm_parameter(value, value_type) if value is not None else None
                slot["Type"] = "String"  # already resolved: moto must not resolve it again
                slot.pop("Default", None)
        original_load_parameters(self)
        # A Number parameter is checked as a number but, as CloudFormation documents, referenced as a string.
        for name, slot in slots.items():
            value = self.resolved_parameters.get(name)
            if slot.get("Type") == "Number" and isinstance(value, (int, float)):
                self.resolved_parameters[name] = self._parsed_resources[name] = str(value)
            elif slot.get("Type") == "List<Number>" and isinstance(value, list):
                self.resolved_parameters[name] = self._parsed_resources[name] = [str(v) for v in value]

    original_load_parameters = parsing.ResourceMap.load_parameters
    parsing.ResourceMap.parse_ssm_parameter = parse_ssm_parameter
    parsing.ResourceMap.load_parameters = load_parameters


def _validate_request(template: str, parameters: dict[str, Any], account_id: str, region: str) -> None:
    """What CloudFormation refuses before it starts: a template it cannot process, parameter values outside their
    constraints, and Rules whose assertions fail (with the rule's AssertDescription)."""
    if not template:
        return
    try:
        document = transform.parse(template)
    except ValueError as exc:
        raise ValidationError(message=f"Template format error: {exc}") from exc
    slots = document.get("Parameters") or {}
    unknown = [name for name in parameters if name not in slots]
    if unknown:
        raise ValidationError(message=f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [name for name, slot in slots.items() if name not in parameters and "Default" not in slot]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    values = {name: parameters.get(name, slot.get("Default")) for name, slot in slots.items()}
    for name, slot in slots.items():
        _check_parameter(name, slot, values[name], account_id, region)
    _check_rules(document, slots, values, account_id, region)


def _check_parameter(name: str, slot: dict, raw: Any, account_id: str, region: str) -> None:
    value = "" if raw is None else str(raw)
    value_type = slot.get("Type", "String")

    def refuse(reason: str) -> None:
        description = slot.get("ConstraintDescription")
        message = f"Parameter '{name}' failed to satisfy constraint: {description}" if description else \
            f"Parameter '{name}' {reason}"
        raise ValidationError(message=message)

    items = [v.strip() for v in value.split(",")] if value_type.startswith("List") or value_type == "CommaDelimitedList" \
        else [value]
    if value_type == "Number" or value_type == "List<Number>":
        for item in items:
            try:
                number = float(item)
            except ValueError:
                refuse(f"must be a number, not '{item}'")
            if "MinValue" in slot and number < float(slot["MinValue"]):
                refuse(f"must be a number not less than {slot['MinValue']}")
            if "MaxValue" in slot and number > float(slot["MaxValue"]):
                refuse(f"must be a number not greater than {slot['MaxValue']}")
    if "AllowedValues" in slot and value not in [str(v) for v in slot["AllowedValues"]]:
        refuse("must be one of AllowedValues")
    if "AllowedPattern" in slot and value_type in ("String", "CommaDelimitedList") and \
            not all(re.fullmatch(slot["AllowedPattern"], item) for item in items):
        refuse(f"must match pattern {slot['AllowedPattern']}")
    if "MinLength" in slot and len(value) < int(slot["MinLength"]):
        refuse(f"must contain at least {slot['MinLength']} characters")
    if "MaxLength" in slot and len(value) > int(slot["MaxLength"]):
        refuse(f"must contain at most {slot['MaxLength']} characters")
    ec2 = ec2_backends[account_id][region]
    kind = value_type.removeprefix("List<").removesuffix(">")
    lookups = {
        "AWS::EC2::VPC::Id": lambda v: v in ec2.vpcs,
        "AWS::EC2::Subnet::Id": lambda v: _subnet(ec2, v) is not None,
        "AWS::EC2::SecurityGroup::Id": lambda v: any(g.id == v for g in ec2.describe_security_groups()),
    }
    if kind in lookups:
        for item in items:
            if not lookups[kind](item):
                raise ValidationError(
                    message=f"Parameter validation failed: parameter value {item} for parameter name {name} does not exist. "
                            "Rollback requested by user.")


def _subnet(ec2: Any, subnet_id: str) -> Any:
    for zone_subnets in ec2.subnets.values():
        if subnet_id in zone_subnets:
            return zone_subnets[subnet_id]
    return None


# ----- Rules ------------------------------------------------------------------------------------
def _check_rules(document: dict, slots: dict, values: dict[str, Any], account_id: str, region: str) -> None:
    ec2 = ec2_backends[account_id][region]

    def as_list(name: str) -> list[str]:
        slot_type = slots[name].get("Type", "String")
        raw = values[name]
        if isinstance(raw, list):
            return [str(v) for v in raw]
        if slot_type.startswith("List") or slot_type == "CommaDelimitedList":
            return [v.strip() for v in str(raw).split(",")] if str(raw) != "" else []
        return [str(raw)]

    def attribute(kind: str, resource_id: str, name: str) -> str:
        if kind == "AWS::EC2::Subnet::Id":
            subnet = _subnet(ec2, resource_id)
            if subnet is None:
                raise ValidationError(message=f"Template error: subnet {resource_id} does not exist")
            return {"AvailabilityZone": subnet.availability_zone, "VpcId": subnet.vpc_id}[name]
        if kind == "AWS::EC2::VPC::Id" and name == "DefaultNetworkAcl":
            raise ValidationError(message=f"Template error: Fn::ValueOf attribute {name} is not supported locally")
        raise ValidationError(message=f"Template error: Fn::ValueOf attribute {kind}.{name} is not supported by the local cloud")

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg not in slots:
                    raise ValidationError(message=f"Template error: Rules can only refer to parameters, not {arg}")
                kind = slots[arg].get("Type", "String")
                return as_list(arg) if kind.startswith("List") or kind == "CommaDelimitedList" else str(values[arg])
            if fn == "Fn::Equals":
                a, b = (evaluate(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not evaluate(arg[0])
            if fn == "Fn::And":
                return all(evaluate(x) for x in arg)
            if fn == "Fn::Or":
                return any(evaluate(x) for x in arg)
            if fn == "Fn::Contains":
                haystack, needle = evaluate(arg[0]), evaluate(arg[1])
                return needle in haystack
            if fn == "Fn::EachMemberEquals":
                members, value = evaluate(arg[0]), evaluate(arg[1])
                return all(m == value for m in members)
            if fn == "Fn::EachMemberIn":
                members, allowed = evaluate(arg[0]), evaluate(arg[1])
                return all(m in allowed for m in members)
            if fn == "Fn::RefAll":
                return [v for name, slot in slots.items() if slot.get("Type", "").removeprefix("List<").removesuffix(">") == arg
                        for v in as_list(name)]
            if fn == "Fn::ValueOf":
                name, attr = arg
                kind = slots[name].get("Type", "String").removeprefix("List<").removesuffix(">")
                found = [attribute(kind, v, attr) for v in as_list(name)]
                return found if slots[name].get("Type", "").startswith("List") else found[0]
            if fn == "Fn::ValueOfAll":
                kind, attr = arg
                return [attribute(kind, v, attr) for name, slot in slots.items()
                        if slot.get("Type", "").removeprefix("List<").removesuffix(">") == kind for v in as_list(name)]
            if fn == "Condition":
                raise ValidationError(message="Template error: Rules cannot refer to Conditions")
            raise ValidationError(message=f"Template error: {fn} is not supported in Rules")
        if isinstance(node, list):
            return [evaluate(x) for x in node]
        return node

    for rule_name, rule in (document.get("Rules") or {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions") or []:
            if not evaluate(assertion["Assert"]):
                description = assertion.get("AssertDescription") or f"Template error: rule {rule_name} failed"
                raise ValidationError(message=description)


# ----- creation ---------------------------------------------------------------------------------
def _install_unknown_types_fail() -> None:
    original_clean = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        # AWS::NoValue removes a list item (an !If with NoValue in a list of rules); moto leaves a None there.
        result = original_clean(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(result, list):
            return [item for item in result if item is not None]
        return result

    parsing.clean_json = clean_json
    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type.startswith("Custom::") or resource_type == CustomResourceModel.cloudformation_type():
            return CustomResourceModel
        found = original(resource_type)
        if found is None and resource_type not in parsing.NULL_MODELS:
            raise UnsupportedResourceType(resource_type)
        return found

    parsing.resource_class_from_type = resource_class_from_type


class UnsupportedResourceType(Exception):
    def __init__(self, resource_type: str) -> None:
        super().__init__(f"The local cloud cannot create resources of type {resource_type}: the stack fails, as an "
                         "unknown type does on AWS, instead of skipping it.")


def references(node: Any, logical_ids: set[str]) -> set[str]:
    """The resources a piece of template refers to (Ref, Fn::GetAtt, Fn::Sub variables)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                    found.add(target)
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) else inner
                    own = set(inner[1]) if isinstance(inner, list) and len(inner) > 1 and isinstance(inner[1], dict) else set()
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        name = name.split(".", 1)[0]
                        if name not in own:
                            found.add(name)
                    if isinstance(inner, list) and len(inner) > 1:
                        walk(inner[1])
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(node)
    return found & logical_ids


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Creation order: every resource after what it depends on. A cycle is a template error, as on AWS."""
    ids = set(resources)
    needs: dict[str, set[str]] = {}
    for logical, body in resources.items():
        depends = body.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else list(depends)
        missing = [d for d in depends if d not in ids]
        if missing:
            raise ValidationError(message=f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                                          "in the Resources block of the template")
        needs[logical] = references({k: v for k, v in body.items() if k != "DependsOn"}, ids) | set(depends)
        needs[logical].discard(logical)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValidationError(message=f"Circular dependency between resources: [{', '.join(path)}]")
        state[node] = 1
        for dependency in sorted(needs[node]):
            visit(dependency, path + [dependency])
        state[node] = 2
        order.append(node)

    for logical in resources:
        visit(logical, [logical])
    return order


def _event(stack: Stack, logical: str, physical: str | None, resource_type: str, status: str,
           reason: str | None = None) -> None:
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical,
                              physical_resource_id=physical or "", resource_type=resource_type,
                              resource_status=status, resource_status_reason=reason, resource_properties=None))


class StackCreation:
    """Creates one stack's resources in order on a worker thread, waiting for resource signals, rolling back on
    failure."""

    def __init__(self, stack: Stack, controller: Controller) -> None:
        self.stack = stack
        self.controller = controller

    def start(self) -> None:
        self.stack.status = "CREATE_IN_PROGRESS"
        self.stack._signals = {}  # type: ignore[attr-defined]
        self.stack._signal_lock = threading.Condition()  # type: ignore[attr-defined]
        threading.Thread(target=self.run, name=f"cfn-create-{self.stack.name}", daemon=True).start()

    def run(self) -> None:
        stack = self.stack
        resource_map = stack.resource_map
        template = stack.template_dict
        resources = template.get("Resources") or {}
        resource_map._template = template
        resource_map._resource_json_map = resources
        resource_map.tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id})
        created: list[str] = []
        try:
            order = dependency_order(resources)
        except ValidationError as exc:
            self._fail(None, str(exc.message if hasattr(exc, "message") else exc), created)
            return
        for logical in order:
            body = resources[logical]
            condition = body.get("Condition")
            if condition and not resource_map.lazy_condition_map[condition]:
                continue
            resource_type = body["Type"]
            _event(stack, logical, None, resource_type, "CREATE_IN_PROGRESS")
            try:
                instance = resource_map[logical]
                if instance is None and resource_type not in parsing.NULL_MODELS:
                    raise RuntimeError(f"{resource_type} {logical} was not created")
                # CloudFormation tags what it creates with the stack's name, id and the resource's logical id.
                if isinstance(instance, TaggedEC2Resource) or resource_type.startswith("AWS::EC2::TrafficMirror"):
                    ec2 = ec2_backends[stack.account_id][stack.region_name]
                    ec2.create_tags([instance.physical_resource_id],
                                    {**resource_map.tags, "aws:cloudformation:logical-id": logical})
                created.append(logical)
                if instance is not None and hasattr(instance, "wait_until_created"):
                    instance.wait_until_created()
                self._wait_for_signals(logical, body)
            except Exception as exc:  # any failure of any resource fails the stack, with its reason
                reason = _reason(exc)
                log.info("stack %s: %s %s failed: %s", stack.name, resource_type, logical, reason)
                log.debug("%s", traceback.format_exc())
                _event(stack, logical, _physical(resource_map, logical), resource_type, "CREATE_FAILED", reason)
                self._fail(logical, reason, created)
                return
            _event(stack, logical, _physical(resource_map, logical), resource_type, "CREATE_COMPLETE")
        try:
            stack.output_map = stack._create_output_map()
            for output in stack.output_map.values():
                if output is not None and output.value is None:
                    raise RuntimeError(f"output {output.key} did not resolve")
        except Exception as exc:
            self._fail(None, f"Outputs: {_reason(exc)}", created)
            return
        stack.status = "CREATE_COMPLETE"
        stack._add_stack_event("CREATE_COMPLETE")

    def _wait_for_signals(self, logical: str, body: dict) -> None:
        policy = (body.get("CreationPolicy") or {}).get("ResourceSignal")
        if not policy:
            return
        policy = parsing.clean_json(policy, self.stack.resource_map)  # Count may be a !Ref to a parameter
        count = int(policy.get("Count", 1))
        timeout = iso_duration_seconds(policy.get("Timeout", "PT5M"))
        deadline = self.controller.clock.now() + timeout
        condition = self.stack._signal_lock  # type: ignore[attr-defined]
        with condition:
            self.stack._signals.setdefault(logical, [])  # type: ignore[attr-defined]
            while True:
                signals = self.stack._signals[logical]  # type: ignore[attr-defined]
                failed = [s for s in signals if s[1] == "FAILURE"]
                if failed:
                    raise RuntimeError(f"Received FAILURE signal with UniqueId {failed[0][0]}")
                if len({s[0] for s in signals if s[1] == "SUCCESS"}) >= count:
                    return
                if self.controller.clock.now() >= deadline:
                    got = len({s[0] for s in signals if s[1] == "SUCCESS"})
                    raise RuntimeError(f"Failed to receive {count} resource signal(s) within the specified duration "
                                       f"(received {got})")
                condition.wait(timeout=0.1)

    def _fail(self, logical: str | None, reason: str, created: list[str]) -> None:
        stack = self.stack
        stack.status = "ROLLBACK_IN_PROGRESS"
        stack._add_stack_event("ROLLBACK_IN_PROGRESS",
                               resource_status_reason=f"The following resource(s) failed to create: [{logical}]. {reason}"
                               if logical else reason)
        failures = delete_resources(stack, self.controller, list(reversed(created)), request_type="Delete")
        stack.status = "ROLLBACK_FAILED" if failures else "ROLLBACK_COMPLETE"
        stack._add_stack_event(stack.status, resource_status_reason=reason)


def iso_duration_seconds(text: str) -> float:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text)
    if not match or not any(match.groups()):
        raise ValueError(f"Timeout {text!r} is not an ISO 8601 duration such as PT15M")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _physical(resource_map: Any, logical: str) -> str | None:
    instance = resource_map._parsed_resources.get(logical)
    return getattr(instance, "physical_resource_id", None) if instance is not None else None


def _reason(exc: BaseException) -> str:
    for attribute in ("message", "description"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
            return f"{value} (Error code: {code})" if isinstance(code, str) else value
    return f"{type(exc).__name__}: {exc}"


def _install_background_create(controller: Controller) -> None:
    original_outputs = Stack.outputs

    def outputs(self: Stack) -> Any:
        # Outputs resolve once the stack exists; moto would create missing resources while answering DescribeStacks.
        if self.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
            return None
        return original_outputs.fget(self)

    Stack.outputs = property(outputs)

    def stack_resources(self: Stack) -> list[Any]:
        # Only what exists: moto's lazy map would create a resource while answering DescribeStackResources, racing
        # the creation thread into a second copy of it.
        resource_map = self.resource_map
        return [resource_map._parsed_resources[logical] for logical in resource_map._resource_json_map
                if logical in resource_map._parsed_resources
                and not isinstance(resource_map._parsed_resources[logical], (str, int, float, list))
                and resource_map._parsed_resources[logical] is not None]

    Stack.stack_resources = property(stack_resources)

    def create_resources(self: Stack) -> None:
        StackCreation(self, controller).start()

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name
             and (stack_name is None or c.stack_name == stack_name)), None)
        if change_set is None:
            raise ValidationError(stack_name or change_set_name)
        if change_set.change_set_type != "CREATE":
            return original_execute(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        # The stack was made empty when the change set was; it takes the change set's template and parameters now.
        stack.template = change_set.template
        stack.parameters = change_set.parameters
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        change_set.execution_status = "EXECUTE_COMPLETE"
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        StackCreation(stack, controller).start()

    original_execute = CloudFormationBackend.execute_change_set
    Stack.create_resources = create_resources
    CloudFormationBackend.execute_change_set = execute_change_set


# ----- deletion ---------------------------------------------------------------------------------
def delete_resources(stack: Stack, controller: Controller, logical_ids: list[str], request_type: str) -> list[str]:
    """Deletes the given resources in the order given, skipping what a failed resource depends on (CloudFormation
    keeps those). Returns the logical ids that could not be deleted."""
    resource_map = stack.resource_map
    resources = stack.template_dict.get("Resources") or {}
    failed: list[str] = []
    keep: set[str] = set()
    for logical in logical_ids:
        instance = resource_map._parsed_resources.get(logical)
        body = resources.get(logical, {})
        if instance is None or isinstance(instance, str) or logical in keep:
            continue
        if body.get("DeletionPolicy") == "Retain":
            resource_map._parsed_resources.pop(logical, None)
            continue
        resource_type = body.get("Type", "")
        _event(stack, logical, _physical(resource_map, logical), resource_type, "DELETE_IN_PROGRESS")
        try:
            if hasattr(instance, "delete_for_stack"):
                instance.delete_for_stack(stack, request_type)
            elif resource_type == "AWS::ElasticLoadBalancingV2::Listener":
                parsing.resource_class_from_type(resource_type).delete_from_cloudformation_json(
                    instance.physical_resource_id, body, stack.account_id, stack.region_name)
            else:
                resource_map._delete_resource(instance, body)
        except Exception as exc:
            reason = _reason(exc)
            log.info("stack %s: deleting %s failed: %s", stack.name, logical, reason)
            _event(stack, logical, _physical(resource_map, logical), resource_type, "DELETE_FAILED", reason)
            failed.append(logical)
            keep |= references(body, set(resources)) | set(
                [body["DependsOn"]] if isinstance(body.get("DependsOn"), str) else body.get("DependsOn") or [])
            continue
        resource_map._parsed_resources.pop(logical, None)
        _event(stack, logical, None, resource_type, "DELETE_COMPLETE")
    return failed


def _install_delete(controller: Controller) -> None:
    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return  # AWS answers success for a stack that does not exist
        if stack.status == "DELETE_IN_PROGRESS" or getattr(stack, "_deleting", False):
            return
        if stack.status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
            raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
        stack._deleting = True
        stack.status = "DELETE_IN_PROGRESS"
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")

        def run() -> None:
            try:
                resources = stack.template_dict.get("Resources") or {}
                order = list(reversed(dependency_order(resources))) if resources else []
                failed = delete_resources(stack, controller, order, request_type="Delete")
            except Exception as exc:  # the stack must never be left IN_PROGRESS
                failed = [f"{type(exc).__name__}: {exc}"]
            stack._deleting = False
            if failed:
                stack.status = "DELETE_FAILED"
                stack._add_stack_event("DELETE_FAILED", resource_status_reason=
                                       f"The following resource(s) failed to delete: [{', '.join(failed)}].")
                return
            stack.status = "DELETE_COMPLETE"
            stack._add_stack_event("DELETE_COMPLETE")
            for export in stack.exports:
                self.exports.pop(export.name, None)
            self.stacks.pop(stack.stack_id, None)
            self.deleted_stacks[stack.stack_id] = stack

        threading.Thread(target=run, name=f"cfn-delete-{stack.name}", daemon=True).start()

    CloudFormationBackend.delete_stack = delete_stack


# ----- SignalResource ---------------------------------------------------------------------------
def _install_template_body_limit() -> None:
    """CloudFormation takes at most 51,200 bytes of TemplateBody; a larger template must come by TemplateURL."""
    for action in ("create_stack", "create_change_set", "update_stack", "validate_template"):
        original = getattr(CloudFormationResponse, action)

        def guarded(self: CloudFormationResponse, _original: Any = original) -> Any:
            body = self._get_param("TemplateBody")
            if body is not None and len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
                raise ValidationError(message=f"1 validation error detected: Value at 'templateBody' failed to satisfy "
                                              f"constraint: Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}")
            return _original(self)

        setattr(CloudFormationResponse, action, guarded)


TEMPLATE_BODY_LIMIT = 51_200


def _install_signal_resource() -> None:
    def signal_resource(self: CloudFormationResponse) -> Any:
        stack_name = self._get_param("StackName")
        logical = self._get_param("LogicalResourceId")
        unique_id = self._get_param("UniqueId")
        status = self._get_param("Status")
        if status not in ("SUCCESS", "FAILURE"):
            raise ValidationError(message=f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
                                          "constraint: Member must satisfy enum value set: [SUCCESS, FAILURE]")
        if not unique_id or len(unique_id) > 64:
            raise ValidationError(message="UniqueId must be 1 to 64 characters")
        stack = next((s for s in self.cloudformation_backend.stacks.values()
                      if s.name == stack_name or s.stack_id == stack_name), None)
        if stack is None:
            raise ValidationError(message=f"Stack with id {stack_name} does not exist")
        resources = stack.template_dict.get("Resources") or {}
        if logical not in resources:
            raise ValidationError(message=f"Resource {logical} does not exist for stack {stack.name}")
        lock = getattr(stack, "_signal_lock", None)
        waiting = lock is not None and logical in stack._signals and stack.status == "CREATE_IN_PROGRESS"
        if not waiting:
            raise ValidationError(message=f"Resource {logical} is in {_resource_status(stack, logical)} state and can "
                                          "not be signaled")
        with lock:
            stack._signals[logical].append((unique_id, status))
            lock.notify_all()
        return EmptyResult()

    CloudFormationResponse.signal_resource = signal_resource


def _resource_status(stack: Stack, logical: str) -> str:
    for event in reversed(stack.events):
        if event.logical_resource_id == logical:
            return event.resource_status
    return "CREATE_PENDING"

