"""Pure views of change-set responses: rows to show, parameter diffs, and replacements.

Kept free of I/O so the rules are unit-tested against responses shaped like the AWS API reference.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cylink_deploy import documents
from cylink_deploy.errors import StackStateError, UnsafeChange

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import ChangeTypeDef, DescribeChangeSetOutputTypeDef

MASK = "****"

# Resource types that hold data or identity: never replaced or removed without an explicit allowance.
STATEFUL_TYPES = frozenset(
    {
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ECR::Repository",
        "AWS::Logs::LogGroup",
        "AWS::Route53::HostedZone",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
    }
)


@dataclass
class ChangeSetNode:
    """One change set of the tree (the root's, or a nested stack's) with all its pages merged."""

    path: str  # "" for the root, "ServicesStack" or "A/B" for nested ones
    description: DescribeChangeSetOutputTypeDef  # the first page (its Changes: see ``changes``)
    changes: list[ChangeTypeDef] = field(default_factory=list)
    previous_parameters: dict[str, str] | None = None  # None: the stack does not exist yet


@dataclass(frozen=True)
class Row:
    """One resource change, as shown to the reviewer."""

    stack: str  # "(root)" or the nested stack path
    action: str  # Add / Modify / Remove / Import / Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True / Conditional / False / "" (not applicable, e.g. Add)
    details: str  # which properties or parameters drive the change

    @property
    def destructive(self) -> bool:
        """Replacements and removals must stand out: they can lose data."""
        return self.action == "Remove" or self.replacement in ("True", "Conditional")

    @property
    def path(self) -> str:
        return self.logical_id if self.stack == "(root)" else f"{self.stack}/{self.logical_id}"

    @property
    def loses_data(self) -> bool:
        """A stateful resource replaced (even conditionally) or removed."""
        return self.destructive and self.resource_type in STATEFUL_TYPES


def rows(node: ChangeSetNode) -> list[Row]:
    """Rows of one change set (nested stacks appear as their own Modify row plus their own table)."""
    out = []
    for change in node.changes:
        rc = change.get("ResourceChange", {})
        targets = sorted(
            {d.get("Target", {}).get("Name") or d.get("Target", {}).get("Attribute", "") for d in rc.get("Details", [])}
            - {""}
        )
        out.append(
            Row(
                stack=node.path or "(root)",
                action=rc.get("Action", change.get("Type", "")),
                logical_id=rc.get("LogicalResourceId", ""),
                resource_type=rc.get("ResourceType", ""),
                replacement=str(rc.get("Replacement", "")) if rc.get("Action") == "Modify" else "",
                details=", ".join(targets),
            )
        )
    return out


def parameter_changes(node: ChangeSetNode) -> list[tuple[str, str, str]]:
    """(key, old, new) for parameters the change set changes; NoEcho values stay masked."""
    if node.previous_parameters is None:
        return []
    new = {p["ParameterKey"]: p.get("ParameterValue", "") for p in node.description.get("Parameters", []) or []}
    changed = []
    for key in sorted(set(new) | set(node.previous_parameters)):
        old_value, new_value = node.previous_parameters.get(key, "(unset)"), new.get(key, "(removed)")
        if old_value != new_value:  # a NoEcho value shows as MASK on either side: never show the other one
            if MASK in (old_value, new_value):
                old_value = new_value = MASK
            changed.append((key, old_value, new_value))
    return changed


def unsafe(
    nodes: list[ChangeSetNode],
    allowed: set[str] | frozenset[str] = frozenset(),
    inside: list[Row] | tuple[Row, ...] = (),
) -> list[Row]:
    """Stateful replacements/removals not allowed by ``--allow-replacement`` (logical ID or Stack/LogicalId).
    ``inside``: the stateful resources of nested stacks this change set removes (removed with them)."""
    return [
        r for r in [*all_rows(nodes), *inside] if r.loses_data and r.logical_id not in allowed and r.path not in allowed
    ]


NESTED_STACK = "AWS::CloudFormation::Stack"
SERVICES_STACK = "ServicesStack"


def removed_nested_stacks(nodes: list[ChangeSetNode]) -> list[tuple[ChangeSetNode, Row]]:
    """(the change set that removes it, its row) for every nested stack the change set deletes."""
    return [
        (node, row)
        for node in nodes
        for row in rows(node)
        if row.action == "Remove" and row.resource_type == NESTED_STACK
    ]


def removes_services(nodes: list[ChangeSetNode]) -> bool:
    """Whether the root change set removes the services (an emptied ImageTag): only ever on purpose."""
    return any(row.stack == "(root)" and row.logical_id == SERVICES_STACK for _, row in removed_nested_stacks(nodes))


def all_rows(nodes: list[ChangeSetNode]) -> list[Row]:
    return [row for node in nodes for row in rows(node)]


def summary(nodes: list[ChangeSetNode]) -> dict[str, Any]:
    """JSON-ready summary for --json and CI."""
    return {
        "changeSets": [
            {
                "stackPath": node.path or "(root)",
                "changeSetId": node.description.get("ChangeSetId"),
                "parameters": [{"key": k, "old": o, "new": n} for k, o, n in parameter_changes(node)],
                "changes": [change_document(row) for row in rows(node)],
            }
            for node in nodes
        ]
    }


def change_document(row: Row) -> dict[str, Any]:
    """One change as CI reads it (docs/json.md): ``stackPath`` is "(root)" or the nested stack's path."""
    fields = documents.fields(row)
    return {"stackPath": fields.pop("stack"), **fields, "destructive": row.destructive, "losesData": row.loses_data}


def unused_allowances(
    nodes: list[ChangeSetNode], allowed: set[str] | frozenset[str], inside: list[Row] | tuple[Row, ...] = ()
) -> list[str]:
    """``--allow-replacement`` names that match nothing this change set replaces or removes: most
    likely a typo, which must be said rather than pass silently."""
    used = {key for r in [*all_rows(nodes), *inside] if r.loses_data for key in (r.logical_id, r.path)}
    return sorted(set(allowed) - used)


def unknown_allowances(
    nodes: list[ChangeSetNode],
    allowed: set[str] | frozenset[str],
    known: set[str] | frozenset[str],
    inside: list[Row] | tuple[Row, ...] = (),
) -> list[str]:
    """``--allow-replacement`` names that are no resource of this change set and no stateful resource of the
    templates (``known``: Stack/LogicalId paths): a typo, never a deliberate no-op."""
    named = {key for r in [*all_rows(nodes), *inside] for key in (r.logical_id, r.path)}
    return sorted(set(allowed) - named - set(known) - {k.rsplit("/", 1)[-1] for k in known})


def refusal(refused: list[Row]) -> UnsafeChange:
    """The one-line refusal, naming the exact flags that would allow it."""
    names = ", ".join(r.path for r in refused)
    flags = " ".join(f"--allow-replacement {r.path}" for r in refused)
    return UnsafeChange(
        f"refusing to replace or remove stateful resource(s) {names}: if that data may go, rerun with {flags}"
    )


def _failover(parameters: Mapping[str, str]) -> bool:
    """Whether the cache stack turns automatic failover / Multi-AZ on (templates_src/cache.py, condition Failover)."""
    return parameters.get("RedisNodeCount") != "1" and parameters.get("RedisFailover", "auto") == "auto"


def redis_refusal(previous: Mapping[str, str], new: Mapping[str, str], env: str) -> StackStateError | None:
    """An update AWS refuses half-way: the first replica added (or the last removed) in the same update that
    switches automatic failover and Multi-AZ ("must have at least one read replica to enable autofailover";
    "Must have at least 1 replica for Multi-AZ enabled": cloudformation-coverage-roadmap issue 383,
    https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/383). ``previous``: the running
    stack's parameters (an older stack has no RedisFailover: "auto"); ``new``: what this deploy sends, defaults
    included. Issue 21 finding 2."""
    before, after = previous.get("RedisNodeCount", "2"), new.get("RedisNodeCount", "2")
    if (before == "1") == (after == "1") or _failover(previous) == _failover(new):
        return None
    nodes = after if after != "1" else before
    overrides = ["--parameter", f"RedisNodeCount={nodes}", "--parameter", "RedisFailover=off"]
    first = shlex.join(["python", "deploy.py", "--env", env, *overrides])
    return StackStateError(
        f"RedisNodeCount {before} -> {after} switches Redis automatic failover in the same update, which AWS "
        f"refuses half-way; nothing was changed. Two deploys: first {first} (failover off, {nodes} nodes), then "
        "this deploy again"
    )
