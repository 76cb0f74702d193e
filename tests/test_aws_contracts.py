"""Offline checks of what AWS itself would do with the templates (issue 21, "What to build" item 2): faults that
moto, Stubber and cfn-lint all pass, but that break a real first deploy or silently disable a feature.

- every CloudWatch alarm's dimensions are the watched resource's own identity, for every environment;
- every alarm that can exist before its metric treats missing data as not breaching;
- every region the tool accepts resolves every mapping, or the tool refuses it up front;
- every name built from NamePrefix fits its resource's schema for every prefix the parameter admits
  (``tests/test_names.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import cfnlint
from hypothesis import given, settings
from hypothesis import strategies as st

from cylink_deploy import aws
from cylink_deploy.preflight import params
from cylink_deploy.preflight.resolve import ResolvedStack, ResolveError, Unknown, resolve, unmapped_region
from templates_src import render

REPO = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
# The default prefix hides a name fixed in one place and built from NamePrefix in another (the WAF metric was
# "cylink-alb" while its alarm watched "${NamePrefix}-alb": equal only for the default): check another one too.
PREFIXES = ("cylink", "zz9-other")
FULL = {"ImageTag": "v1", "DomainName": "example.com", "WafEnabled": "true"}

Token = tuple[Any, ...]


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render.render()


def env_stacks(
    files: dict[str, str], env: str, region: str = "ap-northeast-1", **overrides: str
) -> dict[str, ResolvedStack]:
    root = json.loads(files[render.ROOT_FILE])
    d = params.resolve(env, REPO / "params" / f"{env}.yaml", root["Parameters"], overrides, deploying=False)
    return resolve(files, d.parameters, region=region)


# -- alarm dimensions -----------------------------------------------------------------------------------------------

# Dimension name -> (resource type, how CloudWatch names that resource in the dimension). Sources:
# ALB/target group: app/<name>/<id>, targetgroup/<name>/<id> = LoadBalancerFullName / TargetGroupFullName
#   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html);
# ECS: the cluster's and the service's names (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
#   available-metrics.html); NAT: the gateway ID (https://docs.aws.amazon.com/vpc/latest/userguide/
#   metrics-dimensions-nat-gateway.html); ElastiCache: a node's cache cluster ID, <group>-001...
#   (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.WhichShouldIMonitor.html);
# WAF: the WebACL dimension is VisibilityConfig.MetricName (https://docs.aws.amazon.com/AWSCloudFormation/latest/
#   UserGuide/aws-properties-wafv2-webacl-visibilityconfig.html), with Region and Rule (ALL: every rule)
#   (https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html).
IDENTITY: dict[str, tuple[str, str]] = {
    "LoadBalancer": ("AWS::ElasticLoadBalancingV2::LoadBalancer", "GetAtt:LoadBalancerFullName"),
    "TargetGroup": ("AWS::ElasticLoadBalancingV2::TargetGroup", "GetAtt:TargetGroupFullName"),
    "ClusterName": ("AWS::ECS::Cluster", "Ref"),
    "ServiceName": ("AWS::ECS::Service", "Property:ServiceName"),
    "NatGatewayId": ("AWS::EC2::NatGateway", "Ref"),
    "CacheClusterId": ("AWS::ElastiCache::ReplicationGroup", "Ref"),
    "WebACL": ("AWS::WAFv2::WebACL", "Property:VisibilityConfig.MetricName"),
}
NODE_SUFFIX = re.compile(r"^-\d{3}$")


def _property(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body.get("Properties", {})
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def identities(stacks: dict[str, ResolvedStack], dimension: str) -> set[Token]:
    """Every way the templates name a resource of the dimension's type, as tokens comparable with ``source``."""
    type_, how = IDENTITY[dimension]
    out: set[Token] = set()
    for stack in stacks.values():
        for logical_id, body in stack.resources(type_).items():
            kind, _, arg = how.partition(":")
            if kind == "Ref":
                out.add(("ref", stack.path, logical_id))
            elif kind == "GetAtt":
                out.add(("getatt", stack.path, logical_id, arg))
            else:
                out.add(("literal", json.dumps(_property(body, arg), sort_keys=True)))
    return out


def _output_token(stacks: dict[str, ResolvedStack], unknown: Unknown) -> Token:
    """A sibling stack's output (``X.Outputs.Y``) as the reference inside X it stands for."""
    child, _, output = unknown.source.partition(".Outputs.")
    value = stacks[child].template["Outputs"][output]["Value"]
    if isinstance(value, dict) and "Ref" in value:
        return ("ref", child, value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return ("getatt", child, *value["Fn::GetAtt"])
    return ("literal", json.dumps(value, sort_keys=True))


def source(stacks: dict[str, ResolvedStack], stack: ResolvedStack, value: Any) -> tuple[Token, str]:
    """What a dimension value refers to, and any literal suffix after it (a Redis node's -001)."""
    if isinstance(value, str):
        return ("literal", json.dumps(value)), ""
    if isinstance(value, dict) and "Ref" in value and isinstance(stack.parameters.get(value["Ref"]), Unknown):
        return _output_token(stacks, stack.parameters[value["Ref"]]), ""  # type: ignore[arg-type]
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        found = re.fullmatch(r"\$\{([A-Za-z0-9]+)\}(.*)", value["Fn::Sub"])
        if found and isinstance(stack.parameters.get(found[1]), Unknown):
            return _output_token(stacks, stack.parameters[found[1]]), found[2]  # type: ignore[arg-type]
    return ("unresolved", json.dumps(value, sort_keys=True)), ""


def alarm_dimensions(stack: ResolvedStack) -> list[tuple[str, str, Any]]:
    """(alarm, dimension name, value) of every metric every alarm of the stack watches."""
    out = []
    for logical_id, body in stack.resources("AWS::CloudWatch::Alarm").items():
        props = body["Properties"]
        metrics = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
        for dims in [props.get("Dimensions", []), *(m.get("Dimensions", []) for m in metrics)]:
            out += [(logical_id, d["Name"], d["Value"]) for d in dims]
    return out


def wrong_dimensions(stacks: dict[str, ResolvedStack], region: str) -> list[str]:
    """Every alarm dimension that is not its resource's own identity (empty: all watch what exists)."""
    wrong = []
    for stack in stacks.values():
        for alarm, name, value in alarm_dimensions(stack):
            if name == "Region":
                ok = value == region
            elif name == "Rule":
                ok = value == "ALL"
            elif name in IDENTITY:
                token, suffix = source(stacks, stack, value)
                suffix_ok = bool(NODE_SUFFIX.match(suffix)) if name == "CacheClusterId" else suffix == ""
                ok = token in identities(stacks, name) and suffix_ok
            else:
                ok = False  # a new kind of dimension: add how AWS names that resource to IDENTITY
            if not ok:
                wrong.append(f"{stack.path}/{alarm}: {name}={json.dumps(value)}")
    return wrong


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_watches_its_resources_own_identity(files: dict[str, str], env: str, prefix: str) -> None:
    stacks = env_stacks(files, env, NamePrefix=prefix, **FULL)
    assert sum(len(alarm_dimensions(s)) for s in stacks.values()) > 20
    assert wrong_dimensions(stacks, "ap-northeast-1") == []


def test_the_dimension_check_catches_a_waf_metric_fixed_in_one_place(files: dict[str, str]) -> None:
    """Issue 21 finding 3 as it was: the WebACL's metric fixed at cylink-alb, its alarm built from NamePrefix."""
    broken = dict(files)
    (name,) = [n for n in files if n.startswith("loadbalancer-")]
    broken[name] = files[name].replace(
        '"MetricName": {\n            "Fn::Sub": "${NamePrefix}-alb"\n          }', '"MetricName": "cylink-alb"'
    )
    assert broken[name] != files[name]
    stacks = env_stacks(broken, "prod", NamePrefix="zz9", **FULL)
    assert wrong_dimensions(stacks, "ap-northeast-1") == ['MonitoringStack/WafBlockedRequestsAlarm: WebACL="zz9-alb"']


# -- missing data ---------------------------------------------------------------------------------------------------

# Every alarm here can exist before its metric: the monitoring stack is created before the services (they roll
# back on its alarms), ECS reports nothing for a service without a RUNNING task, and the ALB, NAT, WAF and
# ElastiCache publish only with traffic or nodes. Missing data then must not be "breaching", or the alarm pages at
# once on every fresh deploy (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
# AlarmThatSendsEmail.html#alarms-and-missing-data). Issue 21 finding 10.
NOT_BREACHING = ("notBreaching", "ignore", "missing")


def breaching_when_missing(stacks: dict[str, ResolvedStack]) -> list[str]:
    return [
        f"{stack.path}/{logical_id}"
        for stack in stacks.values()
        for logical_id, body in stack.resources("AWS::CloudWatch::Alarm").items()
        if body["Properties"].get("TreatMissingData", "missing") not in NOT_BREACHING
    ]


@pytest.mark.parametrize("env", ENVS)
def test_no_alarm_that_exists_before_its_metric_pages_for_missing_data(files: dict[str, str], env: str) -> None:
    stacks = env_stacks(files, env, **FULL)
    order = [s.path for s in stacks.values()]
    assert order.index("MonitoringStack") < order.index("ServicesStack")  # the alarms come first
    assert breaching_when_missing(stacks) == []


def test_the_missing_data_check_catches_a_breaching_alarm(files: dict[str, str]) -> None:
    broken = dict(files)
    (name,) = [n for n in files if n.startswith("monitoring-")]
    broken[name] = files[name].replace('"TreatMissingData": "notBreaching"', '"TreatMissingData": "breaching"', 1)
    assert len(breaching_when_missing(env_stacks(broken, "dev", **FULL))) == 1


# -- regions --------------------------------------------------------------------------------------------------------

# Every region cfn-lint ships resource schemas for (its provider files are named after them): the regions a user
# might pass to --region.
KNOWN_REGIONS = sorted(p.stem for p in (Path(cfnlint.__file__).parent / "data/schemas/providers").glob("*-[0-9].json"))
FILES = render.render()


def accepted_but_unresolvable(files: dict[str, str], region: str) -> list[str]:
    """Environments the tool would start deploying to ``region`` that CloudFormation cannot resolve."""
    if unmapped_region(files, region) is not None:
        return []  # refused before any AWS call (deploy: BadInput, exit 2)
    broken = []
    for env in ENVS:
        try:
            env_stacks(files, env, region, **FULL)
        except ResolveError as exc:
            broken.append(f"{env}: {exc}")
    return broken


def test_every_region_the_tool_accepts_resolves_every_mapping(files: dict[str, str]) -> None:
    assert len(KNOWN_REGIONS) > 30 and "ap-northeast-1" in KNOWN_REGIONS
    for region in KNOWN_REGIONS:
        assert accepted_but_unresolvable(files, region) == [], region
    assert unmapped_region(files, "ap-northeast-1") is None
    refused = unmapped_region(files, "eu-central-1")
    assert refused and refused.startswith("region eu-central-1 is not supported: mapping ElbLogAccount")


@settings(max_examples=60, deadline=None)
@given(region=st.from_regex(aws.REGION, fullmatch=True))
def test_any_region_name_is_refused_or_resolves(region: str) -> None:
    assert accepted_but_unresolvable(FILES, region) == []


def test_the_region_check_catches_a_region_the_mapping_lacks(files: dict[str, str], monkeypatch) -> None:
    """Issue 21 finding 5 as it was: the tool accepted any region; 10 were mapped."""
    monkeypatch.setattr(f"{__name__}.unmapped_region", lambda files, region: None)
    assert accepted_but_unresolvable(files, "eu-central-1")
