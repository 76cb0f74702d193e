"""AWS Control Tower's proactive controls (cfn-guard rules) on the templates as each environment deploys them.

cfn-guard cannot evaluate intrinsic functions, so the gate never shows it the built templates: it shows it
each environment's stacks resolved offline (``cylink_deploy.resolve`` via ``cost.env_stacks``: parameters
substituted, conditions evaluated, false resources dropped, a domain set outside dev), adapted in two ways
that CloudFormation itself applies at deploy time:

- a Ref to a parameter that a sibling stack's output fills becomes what that output will be: an ARN of the
  right form when the output is a KMS key's or certificate's ARN (account ``123456789012``, a placeholder
  ID), else ``Fn::GetAtt [Stack, Outputs.X]`` (the rules cannot follow a reference into another stack);
- a parameter string in a property the resource schema types as integer, number or boolean gets that type
  (CloudFormation converts ``"90"`` to ``90`` before it calls the resource handler).

Rules that do not apply are exempted in one place, ``policies/guard/exemptions.yaml``, each with its reason,
per environment and per resource; an exemption that matches nothing is itself an error (it would hide a
future failure). Pure except for :func:`run` (the binary) and :func:`write_environment` (files).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from cylink_deploy.preflight.resolve import ResolvedStack, Unknown

_CONTROL = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]")
_RESOURCE = re.compile(r"^/Resources/([^/\[]+)")


@dataclass(frozen=True, order=True)
class Failure:
    """One Control Tower control failing on one resource of one stack in one environment."""

    env: str
    stack: str  # resolved stack path: "root", "CacheStack", ...
    control: str  # "CT.KMS.PR.3"
    rule: str  # the guard rule's name
    resource: str  # logical ID ("" when guard names none)


@dataclass(frozen=True)
class Exemption:
    """A control that does not apply to some resources, and why."""

    control: str
    resources: tuple[str, ...]  # "Stack/LogicalId"
    environments: tuple[str, ...]
    reason: str

    def covers(self, failure: Failure) -> bool:
        return (
            failure.control == self.control
            and failure.env in self.environments
            and f"{failure.stack}/{failure.resource}" in self.resources
        )


# -- templates for guard ---------------------------------------------------------------------------------


# Placeholders for values only AWS knows, shaped as AWS will return them, so that rules matching an ARN's
# form (e.g. an ACM certificate on an HTTPS listener, a KMS key on a log group) judge the real wiring:
# (type of the sibling's resource, Ref or attribute) -> format. Anything else stays a GetAtt of the output.
ACCOUNT = "123456789012"
PLACEHOLDER_ID = "11111111-2222-3333-4444-555555555555"
_ARNS = {
    ("AWS::KMS::Key", "Arn"): "arn:{partition}:kms:{region}:{account}:key/{id}",
    ("AWS::CertificateManager::Certificate", "Ref"): "arn:{partition}:acm:{region}:{account}:certificate/{id}",
}


def _output_value(stacks: Mapping[str, ResolvedStack], path: str, source: str, region: str) -> Any:
    """What a sibling's output (``source``: "KeysStack.Outputs.DataKeyArn") will be, as guard should see it."""
    sibling, _, output = source.partition(".")
    parent = path.rpartition("/")[0]
    origin = stacks.get(f"{parent}/{sibling}" if parent else sibling)
    value = origin.template.get("Outputs", {}).get(output.removeprefix("Outputs."), {}).get("Value") if origin else None
    if isinstance(value, dict) and len(value) == 1:
        ref = value.get("Ref")
        target, attribute = (ref, "Ref") if isinstance(ref, str) else (value.get("Fn::GetAtt") or [None, None])[:2]
        resource = origin.template.get("Resources", {}).get(target) if origin and isinstance(target, str) else None
        arn = _ARNS.get((resource["Type"], attribute)) if resource else None
        if arn:
            partition = "aws-cn" if region.startswith("cn-") else "aws"
            return arn.format(partition=partition, region=region, account=ACCOUNT, id=PLACEHOLDER_ID)
    return {"Fn::GetAtt": [sibling, output]}


def _substitute(value: Any, known: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_substitute(v, known) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in known:
        return known[value["Ref"]]
    return {k: _substitute(v, known) for k, v in value.items()}


def _typed(value: Any, schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> Any:
    """``value`` with parameter strings converted where ``schema`` types them (follows local $refs)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        schema = definitions.get(ref.rsplit("/", 1)[-1], {})
    kind = schema.get("type")
    if isinstance(value, str) and kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if isinstance(value, str) and kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_typed(v, schema["items"], definitions) for v in value]
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        return {k: _typed(v, props[k], definitions) if k in props else v for k, v in value.items()}
    return value


def _resource_schema(type_: str, region: str) -> Mapping[str, Any]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema: Mapping[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_).schema
    return schema


def for_guard(stacks: Mapping[str, ResolvedStack], path: str, region: str) -> dict[str, Any]:
    """The resolved template of ``stacks[path]`` as cfn-guard should see it (see the module docstring)."""
    stack = stacks[path]
    known = {
        name: _output_value(stacks, path, value.source, region)
        for name, value in stack.parameters.items()
        if isinstance(value, Unknown) and ".Outputs." in value.source
    }
    template: dict[str, Any] = _substitute(stack.template, known)
    for resource in template.get("Resources", {}).values():
        if "Properties" in resource and not resource["Type"].startswith("Custom::"):
            schema = _resource_schema(resource["Type"], region)
            resource["Properties"] = _typed(resource["Properties"], schema, schema.get("definitions", {}))
    return template


def write_environment(stacks: Mapping[str, ResolvedStack], directory: Path, region: str) -> list[Path]:
    """Write one file per resolved stack ("CacheStack.json", "root.json") for cfn-guard; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in stacks:
        target = directory / f"{path.replace('/', '.')}.json"
        target.write_text(json.dumps(for_guard(stacks, path, region), indent=1, sort_keys=True))
        paths.append(target)
    return paths


# -- guard's output --------------------------------------------------------------------------------------


def _walk(node: Any, controls: set[str], resources: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and (m := _RESOURCE.match(value)):
                resources.add(m.group(1))
            elif key == "custom_message" and isinstance(value, str) and (m := _CONTROL.search(value)):
                controls.add(m.group(1))
            else:
                _walk(value, controls, resources)
    elif isinstance(node, list):
        for item in node:
            _walk(item, controls, resources)


def failures(env: str, report: Sequence[Mapping[str, Any]]) -> list[Failure]:
    """Every (control, resource) that failed in cfn-guard's ``-o json -z`` report of one environment."""
    out = set()
    for document in report:
        stack = Path(document["name"]).stem.replace(".", "/")
        for rule in document.get("not_compliant", []):
            controls: set[str] = set()
            resources: set[str] = set()
            _walk(rule, controls, resources)
            name = rule["Rule"]["name"]
            for control in controls or {name}:
                for resource in resources or {""}:
                    out.add(Failure(env, stack, control, name, resource))
    return sorted(out)


def run(cfn_guard: Path, rules: Path, data: Path) -> list[dict[str, Any]]:
    """cfn-guard's structured JSON report of ``rules`` over every template in ``data``."""
    proc = subprocess.run(
        [str(cfn_guard), "validate", "-r", str(rules), "-d", str(data), "-o", "json", "-z", "-S", "none"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 0: all pass, 19: some rule failed; anything else is an error of cfn-guard itself
    if proc.returncode not in (0, 19):
        raise RuntimeError(f"cfn-guard exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


# -- exemptions ------------------------------------------------------------------------------------------


def load_exemptions(path: Path, environments: Iterable[str]) -> list[Exemption]:
    """The exemptions file: a list of {control, resources, environments (default: all), reason}."""
    every = tuple(environments)
    out = []
    for entry in yaml.safe_load(path.read_text()):
        out.append(
            Exemption(
                control=entry["control"],
                resources=tuple(entry["resources"]),
                environments=tuple(entry.get("environments", every)),
                reason=" ".join(entry["reason"].split()),
            )
        )
    return out


def unexempted(found: Iterable[Failure], exemptions: Iterable[Exemption]) -> list[Failure]:
    rules = list(exemptions)
    return [f for f in found if not any(e.covers(f) for e in rules)]


def unused(found: Iterable[Failure], exemptions: Iterable[Exemption]) -> list[str]:
    """Each exemption (control, env, resource) that covers no failure: stale, it would hide a future one."""
    seen = {(f.control, f.env, f"{f.stack}/{f.resource}") for f in found}
    return [
        f"{e.control} {env} {res}"
        for e in exemptions
        for env in e.environments
        for res in e.resources
        if (e.control, env, res) not in seen
    ]
