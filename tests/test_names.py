"""Every physical name built from NamePrefix fits its resource, for every prefix the parameter admits (issue 21
finding 6 and "What to build" item 2): a property test over the parameter's own pattern and length, against the
resource schemas cfn-lint ships (pattern, minLength, maxLength) and, where a schema states no limit, the limit the
service documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import regex  # the schemas' patterns use \\p{...} classes, which re lacks (cfn-lint depends on regex)
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from hypothesis import example, given, settings
from hypothesis import strategies as st

from templates_src import render
from templates_src.common import NAME_PREFIX_LENGTH, NAME_PREFIX_PATTERN

FILES = {name: json.loads(text) for name, text in render.render().items()}
REGION = "ap-northeast-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
# (type, property path) -> (pattern, max length) documented by the service where the resource schema has none.
DOCUMENTED: dict[tuple[str, str], tuple[str, int]] = {
    # "a maximum of 32 characters, must contain only alphanumeric characters or hyphens, must not begin or end with
    # a hyphen" (the schema's own description; https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/
    # API_CreateLoadBalancer.html)
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): (
        r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$",
        32,
    ),
    # "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens" (schema descriptions;
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html, API_CreateCluster.html)
    ("AWS::ECS::Service", "ServiceName"): (r"^[A-Za-z0-9_-]+$", 255),
    ("AWS::ECS::Cluster", "ClusterName"): (r"^[A-Za-z0-9_-]+$", 255),
    ("AWS::ECS::TaskDefinition", "Family"): (r"^[A-Za-z0-9_-]+$", 255),
    # "A-Z, a-z, 0-9, "-", and "_"", 1-255 (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
    # API_PutDashboard.html)
    ("AWS::CloudWatch::Dashboard", "DashboardName"): (r"^[A-Za-z0-9_-]+$", 255),
    # The ECR API's own pattern is stricter than the CloudFormation schema's: a separator is one character
    # (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html, repositoryName)
    ("AWS::ECR::Repository", "RepositoryName"): (
        r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$",
        256,
    ),
}


def _schema_at(type_: str, path: list[str]) -> dict[str, Any]:
    """The schema of the property at ``path`` (keys; list positions as digits), following $ref."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, type_).schema
    node: dict[str, Any] = schema
    for key in path:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        node = node.get("items", {}) if key.isdigit() else node.get("properties", {}).get(key, {})
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _subs(node: Any, path: list[str]) -> Iterator[tuple[list[str], str]]:
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            yield path, node["Fn::Sub"]
            return
        for key, value in node.items():
            yield from _subs(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _subs(value, [*path, str(i)])


def named_from_prefix() -> list[tuple[str, str, str, str]]:
    """(template, type, property path, Fn::Sub text) of every property built from NamePrefix."""
    out = []
    for file_name, template in FILES.items():
        for body in template.get("Resources", {}).values():
            for path, text in _subs(body.get("Properties", {}), []):
                if "${NamePrefix}" in text:
                    out.append((file_name, body["Type"], ".".join(path), text))
    return out


NAMED = named_from_prefix()


def refusals(values: dict[str, str]) -> list[str]:
    """Every name the templates would build from ``values`` that its resource refuses."""
    out = []
    known = {**PSEUDO, **values}
    for _, type_, dotted, text in NAMED:
        name = re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m[1], "x"), text)
        schema = _schema_at(type_, dotted.split("."))
        pattern, max_len = DOCUMENTED.get((type_, dotted), (schema.get("pattern"), schema.get("maxLength")))
        if pattern and not regex.search(pattern, name):
            out.append(f"{type_} {dotted} {name!r}: pattern {pattern}")
        if (max_len is not None and len(name) > int(max_len)) or len(name) < int(schema.get("minLength", 0)):
            out.append(f"{type_} {dotted} {name!r}: length {len(name)}")
    return out


def _admitted(pattern: str) -> st.SearchStrategy[str]:
    lo, hi = NAME_PREFIX_LENGTH
    return st.from_regex(pattern, fullmatch=True).filter(lambda s: lo <= len(s) <= hi)


ENVIRONMENT_PATTERN = FILES[render.ROOT_FILE]["Parameters"]["EnvironmentName"]["AllowedPattern"]


def test_names_from_the_prefix_are_found_in_every_kind_of_resource():
    types = {type_ for _, type_, _, _ in NAMED}
    assert {"AWS::ECR::Repository", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::Logs::LogGroup"} <= types
    assert ("AWS::WAFv2::WebACL", "VisibilityConfig.MetricName") in {(t, p) for _, t, p, _ in NAMED}


@settings(max_examples=300, deadline=None)
@given(prefix=_admitted(NAME_PREFIX_PATTERN), environment=st.from_regex(ENVIRONMENT_PATTERN, fullmatch=True))
@example(prefix="a" * NAME_PREFIX_LENGTH[1], environment="e" * 20)
@example(prefix="a1-b", environment="dev")
def test_every_name_built_from_an_admitted_prefix_fits_its_resource(prefix: str, environment: str) -> None:
    assert refusals({"NamePrefix": prefix, "EnvironmentName": environment}) == []


def test_the_old_prefix_pattern_admitted_names_ecr_refuses():
    """Issue 21 finding 6 as it was: ^[a-z][a-z0-9-]{1,19}$ admitted cy- and cy--x."""
    old = r"^[a-z][a-z0-9-]{1,19}$"
    for prefix in ("cy-", "cy--x"):
        assert re.fullmatch(old, prefix) and not re.fullmatch(NAME_PREFIX_PATTERN, prefix)
        assert any(r.startswith("AWS::ECR::Repository RepositoryName") for r in refusals({"NamePrefix": prefix}))
