"""An environment's identity: which environment and NamePrefix a stack is, and which physical names it owns.

A stack records both when it is created, as its root parameters ``EnvironmentName`` (always the ``--env`` it was
deployed with: ``preflight/params.py`` refuses a file that says otherwise) and ``NamePrefix``; ``describe-stacks``
shows them. Every command on one environment's stack checks the recorded environment against ``--env`` before
anything else (``require_env``, called in one place: ``commands/base.py``), so ``deploy --env staging
--stack-name cylink-dev`` can never turn dev into staging.

Physical names (cluster, topic, alarms, repositories, log groups, WAF, dashboard...) come from ``NamePrefix``
and must be unique in an account and region: ``named`` lists them from the resolved templates, so a deploy can
refuse one that would take over a name another live stack owns (``collisions``), on create and on update.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cylink_deploy.aws import error_code
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import StackStateError
from cylink_deploy.preflight.resolve import ResolveError, resolve

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackTypeDef

ENV_PARAMETER = "EnvironmentName"
PREFIX_PARAMETER = "NamePrefix"
ROOT_STACK_NAME = re.compile(r"^cylink-[a-z0-9-]{1,100}$")  # the names deploy.py accepts (--stack-name)
MASKED = "****"
# Stacks that hold no resources: deleted, or a failed first create (rolled back; deploy deletes it before a retry).
OWNS_NOTHING = ("DELETE_COMPLETE", "ROLLBACK_COMPLETE")  # how CloudFormation shows a NoEcho parameter's value
# Types whose physical name the templates fix and which AWS keeps unique per account and region, with the
# property that names them (a second stack with the same name would fail, or worse, update the first's).
NAMED = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::WAFv2::WebACL": "Name",
}


@dataclass(frozen=True)
class Identity:
    """What a stack records about itself (None: a stack from before the parameter existed)."""

    stack: str
    env: str | None
    prefix: str | None
    parameters: dict[str, str]


@dataclass(frozen=True, order=True)
class Named:
    """One fixed physical name, where it is declared (``path`` as in ``resolve``: ``MonitoringStack``)."""

    path: str
    logical_id: str
    resource_type: str
    name: str


def of(described: StackTypeDef) -> Identity:
    """The identity a described stack records."""
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    return Identity(described["StackName"], values.get(ENV_PARAMETER), values.get(PREFIX_PARAMETER), values)


def require_env(cfn: CloudFormationClient, stack: str, env: str) -> Identity | None:
    """The stack's identity (None: no such stack), refusing a stack that records another environment."""
    described = st.describe(cfn, stack)
    if described is None or described["StackStatus"] == "DELETE_COMPLETE":
        return None
    found = of(described)
    if found.env and found.env != env:
        raise StackStateError(
            f"stack {stack} is environment {found.env} (its {ENV_PARAMETER}), not --env {env}: nothing was done; "
            f"use --env {found.env} for it, or another --stack-name for {env}"
        )
    return found


def named(files: Mapping[str, str], parameters: Mapping[str, str], region: str) -> list[Named]:
    """Every fixed physical name the stack would have with these parameters (sorted; unknown values skipped)."""
    found = []
    for stack in resolve(files, parameters, region=region).values():
        for resource_type, prop in NAMED.items():
            for logical_id, body in stack.resources(resource_type).items():
                name = body.get("Properties", {}).get(prop)
                if isinstance(name, str):
                    found.append(Named(stack.path, logical_id, resource_type, name))
    return sorted(found)


def renames(before: list[Named], after: list[Named]) -> list[tuple[str, str]]:
    """Pure: (old, new) for every named resource whose name differs (a new name means a new resource)."""
    old = {(n.path, n.logical_id): n.name for n in before}
    return [(old[(n.path, n.logical_id)], n.name) for n in after if old.get((n.path, n.logical_id), n.name) != n.name]


def live_stacks(cfn: CloudFormationClient, stack: str) -> tuple[list[Identity], list[str]]:
    """The other root stacks deploy.py made in this account and region, with what they record; and those this
    caller may not describe (a GitHub role of one environment sees only its own stack). ListStacks needs no
    resource-level permission, so every caller sees the names
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStacks.html)."""
    found, hidden = [], []
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page.get("StackSummaries", []):
            name = summary["StackName"]
            if name == stack or summary["StackStatus"] in OWNS_NOTHING or not is_root(name, summary):
                continue
            try:
                described = st.describe(cfn, name)
            except ClientError as exc:
                if error_code(exc) not in ("AccessDenied", "AccessDeniedException"):
                    raise
                hidden.append(name)
                continue
            if described is not None and of(described).prefix:
                found.append(of(described))
    return found, hidden


def is_root(name: str, summary: Mapping[str, Any]) -> bool:
    """A stack deploy.py names (cylink-<lower case>), not a nested one: AWS says ParentId; a nested stack's name
    also carries its logical ID (``cylink-dev-NetworkStack-1AB2``), upper case, which holds where ParentId is
    missing (the emulator)."""
    return not summary.get("ParentId") and ROOT_STACK_NAME.fullmatch(name) is not None


def names_of(other: Identity, files: Mapping[str, str], root_parameters: Mapping[str, Any], region: str) -> list[Named]:
    """The fixed names a live stack owns, computed from its recorded parameters with these templates (an
    approximation for a stack deployed from older templates: its NamePrefix-derived names stay the same)."""
    given = {k: v for k, v in other.parameters.items() if k in root_parameters and v != MASKED}
    try:
        return named(files, given, region)
    except ResolveError:
        return []


def collisions(
    mine: list[Named], my_prefix: str, others: Mapping[str, tuple[str, list[Named]]]
) -> dict[str, list[str]]:
    """Pure: for each other stack (name -> (its prefix, its names)), the names of ``mine`` it already owns; the
    same NamePrefix always collides (the names are all derived from it)."""
    wanted = {(n.resource_type, n.name) for n in mine}
    found = {}
    for stack, (prefix, theirs) in sorted(others.items()):
        shared = sorted({n.name for n in theirs if (n.resource_type, n.name) in wanted})
        if shared or prefix == my_prefix:
            found[stack] = shared or [f"NamePrefix {prefix}"]
    return found


def collision_error(stack: str, clashes: dict[str, list[str]], others: Mapping[str, Identity]) -> StackStateError:
    """One line: whose names, which ones, and what to do."""
    owner, names = next(iter(clashes.items()))
    who = others[owner]
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return StackStateError(
        f"{stack} would take over names that live stack {owner} (environment {who.env}, NamePrefix {who.prefix}) "
        f"owns: {shown}; nothing was changed. Give {stack} a NamePrefix of its own (--parameter NamePrefix=... "
        "when it is created; see docs/parameters.md, 'Environments side by side')"
    )
