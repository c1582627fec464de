"""EC2-shaped request throttling: one token bucket per API action, sized by the action's category.

AWS evaluates each API individually ("request rate limiting"); the bucket size and refill rate
depend on the category: non-mutating (Describe*, ...) 100 / 20 per s, mutating 50 / 5,
CreateTags/DeleteTags 100 / 10 (EC2 developer guide, "Request throttling for the Amazon EC2 API").
"""
from __future__ import annotations

from dataclasses import dataclass

NON_MUTATING = "nonMutating"
MUTATING = "mutating"
TAGS = "tags"

DEFAULT_BUCKETS = {
    NON_MUTATING: (100.0, 20.0),
    MUTATING: (50.0, 5.0),
    TAGS: (100.0, 10.0),
}

_NON_MUTATING_PREFIXES = ("Describe", "Get", "List", "Search")


def ec2_category(action: str) -> str:
    if action in ("CreateTags", "DeleteTags"):
        return TAGS
    if action.startswith(_NON_MUTATING_PREFIXES):
        return NON_MUTATING
    return MUTATING


@dataclass
class BucketSpec:
    capacity: float
    refill_per_second: float

    def to_json(self) -> dict:
        return {"capacity": self.capacity, "refillPerSecond": self.refill_per_second}


class TokenBucket:
    def __init__(self, spec: BucketSpec, now: float) -> None:
        self.spec = spec
        self.tokens = spec.capacity
        self.updated = now

    def try_take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.spec.capacity, self.tokens + elapsed * self.spec.refill_per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttler:
    """Not thread-safe on its own: the controller calls it under its lock."""

    def __init__(self) -> None:
        self.enabled = False
        self.services: set[str] = {"ec2"}
        self.specs = {name: BucketSpec(*sizes) for name, sizes in DEFAULT_BUCKETS.items()}
        self.action_specs: dict[str, BucketSpec] = {}  # per-action sizes, e.g. a tiny CreateTrafficMirrorSession bucket
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def configure(
        self, enabled: bool, specs: dict[str, BucketSpec], services: set[str], action_specs: dict[str, BucketSpec] | None = None
    ) -> None:
        self.enabled = enabled
        self.specs.update(specs)
        self.action_specs = dict(action_specs or {})
        self.services = services
        self._buckets.clear()  # new sizes start full, as a fresh account would

    def admit(self, service: str, region: str, action: str, now: float) -> bool:
        if not self.enabled or service not in self.services:
            return True
        key = (service, region, action)
        bucket = self._buckets.get(key)
        if bucket is None:
            spec = self.action_specs.get(action) or self.specs[ec2_category(action)]
            bucket = TokenBucket(spec, now)
            self._buckets[key] = bucket
        return bucket.try_take(now)

    def to_json(self) -> dict:
        return {
            "enabled": self.enabled,
            "services": sorted(self.services),
            "buckets": {name: spec.to_json() for name, spec in self.specs.items()},
            "actions": {name: spec.to_json() for name, spec in sorted(self.action_specs.items())},
        }
