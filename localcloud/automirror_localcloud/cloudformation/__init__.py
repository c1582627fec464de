"""CloudFormation for the local cloud: template.yaml is deployed here as on AWS (see stacks.py for what is added to
moto's CloudFormation and why)."""
from __future__ import annotations

from ..control import Controller
# Imported for their side effect before any stack is parsed: moto maps resource types to the CloudFormationModel
# subclasses that exist when it first looks, and these replace or add to moto's.
from . import custom, resources  # noqa: F401
from .custom import BROKER
from .stacks import install as _install_stacks


def install(controller: Controller) -> None:
    _install_stacks(controller)


__all__ = ["BROKER", "install"]
