"""The AWS::Serverless-2016-10-31 transform, run the way CloudFormation runs it: on the template a stack or
change set receives, with the stack's parameter values, before anything is parsed or created."""
from __future__ import annotations

import json
import os
from typing import Any

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform as sam_transform
from samtranslator.yaml_helper import yaml_parse

SERVERLESS = "AWS::Serverless-2016-10-31"

# The AWS managed policies SAM attaches by name; CloudFormation's transform looks their ARNs up in IAM.
_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSLambdaVPCAccessExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}


class TransformError(ValueError):
    """The transform refused the template; the message is what CloudFormation would answer."""


class _PolicyLoader:
    def load(self) -> dict[str, str]:
        return _MANAGED_POLICIES


def parse(template: str) -> dict[str, Any]:
    """A template body, JSON or YAML with CloudFormation's short-form tags."""
    try:
        return json.loads(template)
    except ValueError:
        return yaml_parse(template)


def declares_serverless(document: dict[str, Any]) -> bool:
    declared = document.get("Transform")
    names = declared if isinstance(declared, list) else [declared]
    return SERVERLESS in names


def apply(template: str | dict, parameters: dict[str, Any], region: str) -> str:
    """The template as CloudFormation processes it: unchanged unless it declares the SAM transform, else the
    transform's output as JSON. Any other transform is refused, as this local cloud cannot run it."""
    document = parse(template) if isinstance(template, str) else template
    if not isinstance(document, dict) or "Transform" not in document:
        return template if isinstance(template, str) else json.dumps(template)
    declared = document["Transform"]
    names = declared if isinstance(declared, list) else [declared]
    unknown = [n for n in names if n != SERVERLESS]
    if unknown:
        raise TransformError(f"Transform {unknown[0]} is not supported by the local cloud (only {SERVERLESS}).")
    # samtranslator reads the Region for the ARNs it builds from the environment.
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        output = sam_transform(document, dict(parameters), _PolicyLoader())
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TransformError(f"Transform {SERVERLESS} failed with: {causes}") from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    return json.dumps(output)
