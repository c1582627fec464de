"""The local cloud's control state: throttling, fault injection, target health, clock and call counts.

Everything random draws from one seeded generator, in request order, so a sequential client sees
the same faults on every run with the same seed.
"""
from __future__ import annotations

import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .clock import ScaledClock
from .errors import SERVER_ERRORS, AwsError, named_error, throttling_error
from .throttling import BucketSpec, Throttler

HEALTH_STATES = ("initial", "healthy", "unhealthy", "unused", "draining", "unavailable")
_HEALTH_REASONS = {
    "initial": ("Elb.InitialHealthChecking", "Initial health checks in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "unused": ("Target.NotRegistered", "Target is not registered to the target group"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unavailable": ("Elb.InternalError", "Health checks are unavailable"),
    "healthy": (None, None),
}


class ConfigError(ValueError):
    """A control request carried a value the local cloud cannot use; answered with HTTP 400."""


@dataclass(frozen=True)
class ApiRequest:
    service: str
    region: str
    action: str
    protocol: str
    params: dict[str, str]

    def instance_ids(self) -> list[str]:
        # DescribeInstances/DescribeInstanceStatus name them InstanceId.N; CreateTags ResourceId.N.
        return [
            value for key, value in self.params.items()
            if key.startswith(("InstanceId.", "ResourceId.")) and value.startswith("i-")
        ]


@dataclass
class FaultSettings:
    seed: int = 0
    throttle_probability: float = 0.0
    server_error_probability: float = 0.0
    server_error_codes: list[str] = field(default_factory=lambda: ["InternalError", "Unavailable"])
    services: set[str] = field(default_factory=lambda: {"ec2", "elasticloadbalancing"})
    actions: set[str] | None = None  # None: every action of the listed services
    instance_not_found_seconds: float = 0.0
    instance_not_found_actions: set[str] = field(default_factory=lambda: {"DescribeInstances"})

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "throttleProbability": self.throttle_probability,
            "serverErrorProbability": self.server_error_probability,
            "serverErrorCodes": list(self.server_error_codes),
            "services": sorted(self.services),
            "actions": sorted(self.actions) if self.actions is not None else None,
            "instanceNotFoundSeconds": self.instance_not_found_seconds,
            "instanceNotFoundActions": sorted(self.instance_not_found_actions),
        }


@dataclass
class HealthOverride:
    unhealthy_calls: int
    then_state: str
    unhealthy_state: str
    target_ids: set[str] | None
    calls_seen: int = 0


class Controller:
    def __init__(self, startup: dict | None = None) -> None:
        self._lock = threading.RLock()
        self._startup = startup or {}
        self.clock = ScaledClock()
        self._reset_locked()

    # ----- lifecycle -----------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the start-up configuration (command line / environment), counters zeroed."""
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.throttler = Throttler()
        self.faults = FaultSettings()
        self._rng = random.Random(0)
        self._scripted: dict[str, deque[str]] = {}
        self._launches: dict[str, float] = {}
        self._health: dict[str, HealthOverride] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.throttled: Counter[tuple[str, str]] = Counter()
        self.faulted: Counter[tuple[str, str]] = Counter()
        self.clock.set_scale(float(self._startup.get("timeScale", 1.0)))
        if "throttling" in self._startup:
            self.configure_throttling(self._startup["throttling"])
        if "faults" in self._startup:
            self.configure_faults(self._startup["faults"])
        else:
            self._rng = random.Random(self.faults.seed)

    # ----- configuration -------------------------------------------------------------------
    def configure_throttling(self, body: dict) -> dict:
        with self._lock:
            enabled = bool(body.get("enabled", True))
            specs = {}
            for name, spec in (body.get("buckets") or {}).items():
                if name not in self.throttler.specs:
                    raise ConfigError(f"unknown bucket category '{name}' (use {sorted(self.throttler.specs)})")
                capacity = _number(spec, "capacity", minimum=1)
                refill = _number(spec, "refillPerSecond", minimum=0)
                specs[name] = BucketSpec(capacity, refill)
            actions = {
                action: BucketSpec(_number(spec, "capacity", minimum=1), _number(spec, "refillPerSecond", minimum=0))
                for action, spec in (body.get("actions") or {}).items()
            }
            services = set(body.get("services") or ["ec2"])
            self.throttler.configure(enabled, specs, services, actions)
            if "timeScale" in body:
                self.clock.set_scale(_number(body, "timeScale", minimum=0))
            return self.throttler.to_json()

    def configure_faults(self, body: dict) -> dict:
        with self._lock:
            settings = FaultSettings()
            settings.seed = int(body.get("seed", 0))
            settings.throttle_probability = _probability(body, "throttleProbability")
            settings.server_error_probability = _probability(body, "serverErrorProbability")
            codes = body.get("serverErrorCodes") or settings.server_error_codes
            unknown = [code for code in codes if code not in SERVER_ERRORS]
            if unknown:
                raise ConfigError(f"unknown server error codes {unknown} (use {sorted(SERVER_ERRORS)})")
            settings.server_error_codes = list(codes)
            if body.get("services"):
                settings.services = set(body["services"])
            if body.get("actions") is not None:
                settings.actions = set(body["actions"])
            settings.instance_not_found_seconds = _number(body, "instanceNotFoundSeconds", minimum=0, default=0)
            if body.get("instanceNotFoundActions"):
                settings.instance_not_found_actions = set(body["instanceNotFoundActions"])
            self.faults = settings
            self._rng = random.Random(settings.seed)
            return settings.to_json()

    def script_errors(self, action: str, codes: list[str]) -> dict:
        """The next len(codes) calls of `action` fail with these codes, in order."""
        if not action or not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
            raise ConfigError("body must be {\"action\": \"Name\", \"errors\": [\"Code\", ...]}")
        with self._lock:
            self._scripted.setdefault(action, deque()).extend(codes)
            return {action: list(self._scripted[action])}

    def configure_clock(self, body: dict) -> dict:
        with self._lock:
            if "scale" in body:
                self.clock.set_scale(_number(body, "scale", minimum=0))
            if "advanceSeconds" in body:
                self.clock.advance(_number(body, "advanceSeconds", minimum=0))
            return {"scale": self.clock.scale, "now": self.clock.now()}

    def set_target_health(self, body: dict) -> dict:
        arn = body.get("targetGroupArn")
        if not isinstance(arn, str) or not arn:
            raise ConfigError("targetGroupArn is required")
        with self._lock:
            if body.get("clear"):
                self._health.pop(arn, None)
                return {"targetGroupArn": arn, "cleared": True}
            fixed = body.get("state")
            then_state = body.get("thenState", "healthy")
            unhealthy_state = body.get("unhealthyState", "unhealthy")
            for name, value in (("state", fixed), ("thenState", then_state), ("unhealthyState", unhealthy_state)):
                if value is not None and value not in HEALTH_STATES:
                    raise ConfigError(f"{name} must be one of {HEALTH_STATES}")
            unhealthy_calls = int(_number(body, "unhealthyCalls", minimum=0, default=0))
            if fixed is not None:
                # A fixed state is "0 calls of anything else, then this state forever".
                unhealthy_calls, then_state = 0, fixed
            targets = set(body["targetIds"]) if body.get("targetIds") else None
            self._health[arn] = HealthOverride(unhealthy_calls, then_state, unhealthy_state, targets)
            return {"targetGroupArn": arn, "unhealthyCalls": unhealthy_calls, "thenState": then_state}

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "throttling": self.throttler.to_json(),
                "faults": self.faults.to_json(),
                "scriptedErrors": {action: list(codes) for action, codes in self._scripted.items() if codes},
                "clock": {"scale": self.clock.scale, "now": self.clock.now()},
                "targetHealth": {
                    arn: {"unhealthyCalls": o.unhealthy_calls, "thenState": o.then_state, "callsSeen": o.calls_seen}
                    for arn, o in self._health.items()
                },
            }

    # ----- request path --------------------------------------------------------------------
    def admit(self, request: ApiRequest) -> AwsError | None:
        """Counts the call and decides whether the local cloud refuses it before moto sees it."""
        with self._lock:
            key = (request.service, request.action)
            self.calls[key] += 1
            error = self._decide(request)
            if error is not None:
                bucket = self.throttled if error.code in ("RequestLimitExceeded", "Throttling") else self.faulted
                bucket[key] += 1
            return error

    def _decide(self, request: ApiRequest) -> AwsError | None:
        scripted = self._scripted.get(request.action)
        if scripted:
            return named_error(request.service, scripted.popleft())
        if not self.throttler.admit(request.service, request.region, request.action, self.clock.now()):
            return throttling_error(request.service)
        faults = self.faults
        if request.service in faults.services and (faults.actions is None or request.action in faults.actions):
            # Always draw all three numbers so changing one probability never shifts the others' draws.
            throttle_draw, error_draw, pick = self._rng.random(), self._rng.random(), self._rng.random()
            if throttle_draw < faults.throttle_probability:
                return throttling_error(request.service)
            if error_draw < faults.server_error_probability:
                code = faults.server_error_codes[int(pick * len(faults.server_error_codes))]
                return SERVER_ERRORS[code]
        if (
            faults.instance_not_found_seconds > 0
            and request.service == "ec2"
            and request.action in faults.instance_not_found_actions
        ):
            now = self.clock.now()
            young = [
                iid for iid in request.instance_ids()
                if iid in self._launches and now - self._launches[iid] < faults.instance_not_found_seconds
            ]
            if young:
                return _instance_not_found(young)
        return None

    def note_launch(self, instance_id: str) -> None:
        with self._lock:
            self._launches[instance_id] = self.clock.now()

    def health_override(self, target_group_arn: str, target_id: str) -> str | None:
        """The state to report for this target, or None to keep moto's own answer."""
        override = self._health.get(target_group_arn)
        if override is None or (override.target_ids is not None and target_id not in override.target_ids):
            return None
        return override.unhealthy_state if override.calls_seen < override.unhealthy_calls else override.then_state

    def note_health_call(self, target_group_arn: str) -> None:
        override = self._health.get(target_group_arn)
        if override is not None:
            override.calls_seen += 1

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def call_counts(self) -> dict:
        with self._lock:
            return {
                "calls": _nest(self.calls),
                "throttled": _nest(self.throttled),
                "faulted": _nest(self.faulted),
                "total": sum(self.calls.values()),
            }

    def reset_call_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled.clear()
            self.faulted.clear()


def health_reason(state: str) -> tuple[str | None, str | None]:
    return _HEALTH_REASONS[state]


def _instance_not_found(ids: list[str]) -> AwsError:
    if len(ids) == 1:
        return AwsError("InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist", 400)
    return AwsError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(ids)}' do not exist", 400)


def _nest(counter: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (service, action), count in sorted(counter.items()):
        nested.setdefault(service, {})[action] = count
    return nested


def _number(body: dict, name: str, minimum: float, default: float | None = None) -> float:
    if name not in body:
        if default is None:
            raise ConfigError(f"{name} is required")
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"{name} must be a number >= {minimum}")
    return float(value)


def _probability(body: dict, name: str) -> float:
    value = _number(body, name, minimum=0, default=0)
    if value > 1:
        raise ConfigError(f"{name} must be between 0 and 1")
    return value
