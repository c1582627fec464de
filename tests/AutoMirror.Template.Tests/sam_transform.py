"""Runs template.yaml through aws-sam-translator's transform, as CloudFormation does on deploy.

Usage: python3 sam_transform.py TEMPLATE [OUTPUT.json]

Local artifact paths (CodeUri, ContentUri, DefinitionUri) are first replaced by s3:// locations, which is what
`sam package` does before the transform runs; every other part of the template goes through unchanged. Exits
non-zero, printing the translator's errors, when the transform rejects the template.
"""
import importlib.util
import json
import os
import pathlib
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

def _local_cloud_transform():
    """The local cloud's transform module (its managed-policy table), loaded by path: importing its package would
    load moto, which this script does not need."""
    path = pathlib.Path(__file__).resolve().parents[2] / "localcloud/automirror_localcloud/cloudformation/transform.py"
    spec = importlib.util.spec_from_file_location("automirror_transform", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


_PolicyLoader = _local_cloud_transform()._PolicyLoader


def _packaged(path):
    return "s3://automirror-artifacts/" + path.strip("/").replace("/", "-")


def package_like_sam(template):
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = _packaged(function_globals["CodeUri"])
    for resource in template.get("Resources", {}).values():
        prop = ARTIFACT_PROPERTIES.get(resource.get("Type"))
        properties = resource.get("Properties", {})
        if prop and isinstance(properties.get(prop), str) and not properties[prop].startswith("s3://"):
            properties[prop] = _packaged(properties[prop])
    return template


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    # The transform needs a Region for the pseudo parameters it resolves (arn partition); any valid one does.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(argv[1], encoding="utf-8") as f:
        template = package_like_sam(yaml_parse(f.read()))
    try:
        output = transform(template, {}, _PolicyLoader(), Parser())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"transform error: {cause.message}", file=sys.stderr)
        return 1
    text = json.dumps(output, indent=1, sort_keys=True, default=str)
    if len(argv) > 2:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
