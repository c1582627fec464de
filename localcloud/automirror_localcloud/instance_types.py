"""Which EC2 instance types can be a Traffic Mirroring source, and how many sources an ENI target takes.

The lists live in data/mirror-source-instance-types.json so the C# side can read the same facts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "mirror-source-instance-types.json"


@dataclass(frozen=True)
class SourceSupport:
    supported: bool
    reason: str


@lru_cache(maxsize=1)
def _data() -> dict:
    with DATA_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


def mirror_source_support(instance_type: str) -> SourceSupport:
    """Decides as AWS documents it: bare metal never, listed Nitro families never, only a few Xen families."""
    family, _, size = instance_type.lower().partition(".")
    data = _data()
    if size.startswith(data["bareMetalSizePrefix"]):
        return SourceSupport(False, f"bare metal instance type {instance_type}")
    if family in data["unsupportedNitroFamilies"]:
        return SourceSupport(False, f"Nitro family {family} does not support Traffic Mirroring")
    if family in data["supportedXenFamilies"]:
        return SourceSupport(True, f"Xen family {family} is one of the supported non-Nitro families")
    if family in data["unsupportedXenFamilies"]:
        return SourceSupport(False, f"Xen family {family} does not support Traffic Mirroring")
    return SourceSupport(True, f"Nitro family {family}")


def eni_target_source_limit(target_instance_type: str | None) -> int:
    limits = _data()["eniTargetSources"]
    if target_instance_type and target_instance_type.lower() in limits["largeTypes"]:
        return int(limits["large"])
    return int(limits["default"])
