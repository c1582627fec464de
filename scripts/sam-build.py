#!/usr/bin/env python3
"""Builds template.yaml's artifacts the way `sam build` does for makefile builds, where the SAM CLI is not installed.

    python3 scripts/sam-build.py [LOGICAL_ID ...] [--template template.yaml] [--cached | --no-cached]

What it reproduces, read from aws-sam-cli (samcli/lib/build, samcli/commands/_utils/template.py) and
aws-lambda-builders (workflows/custom_make):
  * the build folder is emptied first (`sam build` always passes clean=True);
  * one build definition per resource to build; functions whose definitions are equal share one build whose
    artifact is copied to the others, but a makefile definition never equals another (each function is built);
  * every build copies its CodeUri/ContentUri folder (or Metadata ProjectRootDirectory) to a fresh scratch folder,
    skipping .aws-sam and .git at every depth, then runs
    `make --makefile <ContextPath or that folder>/Makefile build-<LogicalId>` with the scratch folder (or
    Metadata WorkingDirectory) as working directory and ARTIFACTS_DIR=.aws-sam/build/<LogicalId> added to the
    environment; make's output goes to stderr;
  * `cached` and `parallel` come from samconfig.toml's build parameters (next to the template); the cache keys each
    definition on a hash of its CodeUri/ContentUri folder alone. The hashes are kept in .aws-sam/cache/hashes.json
    rather than SAM's build.toml;
  * .aws-sam/build/template.yaml: built resources get their artifact folder as CodeUri/ContentUri and SamResourceId
    in their Metadata, then every relative local path (CodeUri, ContentUri, DefinitionUri, ...) is rewritten to be
    relative to .aws-sam/build; Globals stay as written.
Prints one line per artifact (logical id, path, files, bytes) and a final line; a failed make is named by logical id
and the exit code is 1.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from samtranslator.yaml_helper import yaml_parse

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
# samcli/lib/utils/resources.py RESOURCES_WITH_LOCAL_PATHS, for the resource types a SAM template of this kind holds.
LOCAL_PATH_PROPERTIES = {
    SERVERLESS_FUNCTION: ["CodeUri"],
    SERVERLESS_LAYER: ["ContentUri"],
    "AWS::Serverless::Api": ["DefinitionUri"],
    "AWS::Serverless::HttpApi": ["DefinitionUri"],
    "AWS::Serverless::StateMachine": ["DefinitionUri"],
    "AWS::Serverless::Application": ["Location"],
    "AWS::Lambda::Function": ["Code"],
    "AWS::Lambda::LayerVersion": ["Content"],
    "AWS::StepFunctions::StateMachine": ["DefinitionS3Location"],
    "AWS::CloudFormation::Stack": ["TemplateURL"],
}
SCRATCH_EXCLUDES = (".aws-sam", ".git")


class BuildFailed(Exception):
    pass


@dataclass
class Definition:
    """samcli.lib.build.build_graph's Function/LayerBuildDefinition, reduced to what a makefile build uses."""

    kind: str
    codeuri: str
    metadata: dict
    runtime: str | None
    architecture: str
    logical_ids: list[str] = field(default_factory=list)

    def same_build(self, other: Definition) -> bool:
        # FunctionBuildDefinition.__eq__: "each build with custom Makefile definition should be handled separately".
        if self.kind != "function" or other.kind != "function" or self.metadata.get("BuildMethod") == "makefile":
            return False
        return (self.runtime, self.codeuri, self.metadata, self.architecture) == (
            other.runtime, other.codeuri, other.metadata, other.architecture)


def read_build_parameters(template: Path) -> dict:
    config = template.parent / "samconfig.toml"
    if not config.exists():
        return {}
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    section = data.get("default", {})
    return {**section.get("global", {}).get("parameters", {}), **section.get("build", {}).get("parameters", {})}


def definitions_of(template: dict, wanted: set[str]) -> list[Definition]:
    globals_function = template.get("Globals", {}).get("Function", {})
    definitions: list[Definition] = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        if kind not in (SERVERLESS_FUNCTION, SERVERLESS_LAYER) or (wanted and logical_id not in wanted):
            continue
        properties = resource.get("Properties", {})
        metadata = dict(resource.get("Metadata") or {})
        if kind == SERVERLESS_FUNCTION:
            if properties.get("PackageType", globals_function.get("PackageType", "Zip")) != "Zip" or "InlineCode" in properties:
                continue
            codeuri = properties.get("CodeUri", globals_function.get("CodeUri"))
            architectures = properties.get("Architectures", globals_function.get("Architectures", ["x86_64"]))
            definition = Definition("function", codeuri, metadata, properties.get("Runtime", globals_function.get("Runtime")), architectures[0])
        else:
            codeuri = properties.get("ContentUri")
            definition = Definition("layer", codeuri, metadata, None, metadata.get("BuildArchitecture", "x86_64"))
        if not isinstance(codeuri, str) or codeuri.startswith("s3://"):
            continue
        if metadata.get("BuildMethod") != "makefile":
            raise BuildFailed(f"{logical_id}: only makefile builds are reproduced here (BuildMethod is {metadata.get('BuildMethod')!r})")
        same = next((d for d in definitions if d.same_build(definition)), None)
        if same is None:
            definitions.append(definition)
            same = definition
        same.logical_ids.append(logical_id)
    missing = wanted - {i for d in definitions for i in d.logical_ids}
    if missing:
        raise BuildFailed(f"no function or layer to build named {', '.join(sorted(missing))}")
    return definitions


def dir_checksum(directory: Path) -> str:
    """samcli.lib.utils.hash.dir_checksum as the cache calls it: every file below, .aws-sam skipped, links followed."""
    files = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != ".aws-sam"]
        files.extend(os.path.join(dirpath, f) for f in filenames if f != ".aws-sam")
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(os.path.relpath(file, directory).encode())
        with open(file, "rb") as handle:
            digest.update(hashlib.md5(handle.read()).hexdigest().encode())
    return digest.hexdigest()


def run_make(definition: Definition, base: Path, artifacts: Path) -> None:
    logical_id = definition.logical_ids[0]
    metadata = definition.metadata
    code_dir = (base / definition.codeuri).resolve()
    if metadata.get("ProjectRootDirectory"):
        code_dir = (base / metadata["ProjectRootDirectory"]).resolve()
    makefile = (base / metadata["ContextPath"]).resolve() / "Makefile" if metadata.get("ContextPath") else code_dir / "Makefile"
    if not makefile.exists():
        raise BuildFailed(f"{logical_id}: Makefile not found at {makefile}")
    with tempfile.TemporaryDirectory(prefix="sam-build-scratch-") as scratch_root:
        scratch = Path(scratch_root) / "source"
        shutil.copytree(code_dir, scratch, ignore=shutil.ignore_patterns(*SCRATCH_EXCLUDES), symlinks=False)
        working_directory = scratch
        if metadata.get("WorkingDirectory"):
            working_directory = (base / metadata["WorkingDirectory"]).resolve()
            if os.path.commonpath([code_dir, working_directory]) == str(code_dir):
                working_directory = scratch / working_directory.relative_to(code_dir)
        artifacts.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
        print(f"sam-build: {logical_id}: make --makefile {makefile} build-{logical_id}", file=sys.stderr, flush=True)
        result = subprocess.run(["make", "--makefile", str(makefile), f"build-{logical_id}"],
                                cwd=working_directory, env=environment, stdout=sys.stderr, check=False)
        if result.returncode != 0:
            raise BuildFailed(f"{logical_id}: make build-{logical_id} failed (exit {result.returncode})")


def build_definition(definition: Definition, base: Path, build_dir: Path, cache_dir: Path, hashes: dict | None) -> None:
    first = build_dir / definition.logical_ids[0]
    if hashes is None:
        run_make(definition, base, first)
    else:
        key = definition.logical_ids[0]
        source_hash = dir_checksum((base / definition.codeuri).resolve())
        cached = cache_dir / key
        if not cached.is_dir() or hashes.get(key) != source_hash:
            run_make(definition, base, first)
            shutil.rmtree(cached, ignore_errors=True)
            shutil.copytree(first, cached, symlinks=True)
            hashes[key] = source_hash
        else:
            print(f"sam-build: {key}: valid cache found, copying the previous build", file=sys.stderr, flush=True)
            shutil.copytree(cached, first, symlinks=True, dirs_exist_ok=True)
    for other in definition.logical_ids[1:]:
        shutil.copytree(first, build_dir / other, symlinks=True, dirs_exist_ok=True)


def resolve_relative_to(path: object, original_root: Path, new_root: Path) -> str | None:
    """samcli.commands._utils.template._resolve_relative_to."""
    if not isinstance(path, str) or path.startswith(("s3://", "http://", "https://")) or os.path.isabs(path):
        return None
    return os.path.relpath(os.path.normpath(os.path.join(original_root.resolve(), path)), new_root.resolve())


def built_template(template: dict, template_path: Path, build_dir: Path, built: dict[str, Path]) -> dict:
    original_root = template_path.parent
    for logical_id, resource in template.get("Resources", {}).items():
        if logical_id not in built:
            continue
        # ApplicationBuilder.update_template: the normalized Metadata, the artifact path relative to the template.
        resource["Metadata"] = {**(resource.get("Metadata") or {}), "SamResourceId": logical_id}
        relative = os.path.relpath(built[logical_id].resolve(), original_root.resolve())
        properties = resource.setdefault("Properties", {})
        properties["CodeUri" if resource["Type"] == SERVERLESS_FUNCTION else "ContentUri"] = relative
    # move_template: every relative local path, built or not, now relative to the build folder.
    for resource in template.get("Resources", {}).values():
        for name in LOCAL_PATH_PROPERTIES.get(resource.get("Type"), []):
            properties = resource.get("Properties", {})
            updated = resolve_relative_to(properties.get(name), original_root, build_dir)
            if updated is not None:
                properties[name] = updated
    return template


class CfnDumper(yaml.SafeDumper):
    """samcli.yamlhelper's dumper: no anchors, keys in template order, strings starting with 0 quoted."""

    def ignore_aliases(self, data):
        return True


CfnDumper.add_representer(dict, lambda dumper, data: dumper.represent_dict(data.items()))
CfnDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="'" if value.startswith("0") else None))


def summarize(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("resources", nargs="*", metavar="LOGICAL_ID", help="build only these (as `sam build ID`)")
    parser.add_argument("--template", default=str(Path(__file__).resolve().parent.parent / "template.yaml"))
    parser.add_argument("--cached", action=argparse.BooleanOptionalAction, default=None, help="override samconfig.toml")
    arguments = parser.parse_args()

    started = time.monotonic()
    template_path = Path(arguments.template).resolve()
    base = template_path.parent
    parameters = read_build_parameters(template_path)
    use_cache = parameters.get("cached", False) if arguments.cached is None else arguments.cached
    parallel = parameters.get("parallel", False)
    build_dir = base / ".aws-sam" / "build"
    cache_dir = base / ".aws-sam" / "cache"
    template = yaml_parse(template_path.read_text(encoding="utf-8"))

    try:
        definitions = definitions_of(template, set(arguments.resources))
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        hashes_file = cache_dir / "hashes.json"
        hashes = (json.loads(hashes_file.read_text()) if hashes_file.exists() else {}) if use_cache else None
        # BuildStrategy.build: the layers, then the functions; each group at once when parallel.
        for kind in ("layer", "function"):
            group = [d for d in definitions if d.kind == kind]
            if parallel:
                with concurrent.futures.ThreadPoolExecutor() as pool:
                    for future in [pool.submit(build_definition, d, base, build_dir, cache_dir, hashes) for d in group]:
                        future.result()
            else:
                for definition in group:
                    build_definition(definition, base, build_dir, cache_dir, hashes)
        if hashes is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            hashes_file.write_text(json.dumps(hashes, indent=2, sort_keys=True))
    except BuildFailed as failure:
        print(f"sam-build: FAILED {failure}", file=sys.stderr)
        return 1

    built = {i: build_dir / i for d in definitions for i in d.logical_ids}
    output = build_dir / "template.yaml"
    output.write_text(yaml.dump(built_template(template, template_path, build_dir, built), Dumper=CfnDumper, default_flow_style=False))
    for logical_id, path in built.items():
        files, size = summarize(path)
        print(f"{logical_id:<28} {os.path.relpath(path, base):<44} {files:>5} files {size:>12,} bytes")
    print(f"sam-build: {len(built)} artifacts from {len(definitions)} builds in {time.monotonic() - started:.1f} s "
          f"(cached={str(use_cache).lower()}, parallel={str(parallel).lower()}) -> {os.path.relpath(output, base)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
