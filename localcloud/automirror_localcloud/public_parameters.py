"""AWS's public SSM parameters that AutoMirror's template reads, which moto does not ship.

On AWS, /aws/service/canonical/... is published by Canonical and readable by every account; nobody can write under
/aws/. The local cloud answers the same names with images moto has (an Ubuntu image stands in for the current one),
so a template parameter of type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>, or `resolve:ssm:` at launch, works
the same way here.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from moto.core.utils import utcnow
from moto.ssm.models import Parameter, ParameterDict

UBUNTU_IMAGE = "ami-785db401"  # ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server, in moto's image list
PUBLIC_PARAMETERS = {
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id": UBUNTU_IMAGE,
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id": UBUNTU_IMAGE,
}

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    original = ParameterDict._check_loading_status

    def check_loading_status(self: Any, key: str) -> None:
        original(self, key)
        name = str(key or "")
        if name in PUBLIC_PARAMETERS and not dict.__contains__(self, name):
            defaultdict.__getitem__(self, name).append(Parameter(
                account_id=self.account_id, name=name, value=PUBLIC_PARAMETERS[name], parameter_type="String",
                description="public parameter (local stand-in)", allowed_pattern=None, keyid=None,
                last_modified_date=utcnow(), version=1, data_type="aws:ec2:image"))

    ParameterDict._check_loading_status = check_loading_status
