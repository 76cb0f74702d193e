"""What the stack jobs show while they run, as typed values: ``Reporter.show`` takes them and
``output/stacks.py`` formats each one (the day-2 views live beside their jobs in ``ops/``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cylink_deploy.cfn.changes import ChangeSetNode, Row
from cylink_deploy.cfn.delegation import Delegation
from cylink_deploy.cfn.ecs_verdict import ReleaseRollback
from cylink_deploy.cfn.stacks import Retained

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef


@dataclass(frozen=True)
class ChangeSets:
    """The change set and every nested change set under it, as reviewed before execution."""

    nodes: list[ChangeSetNode]


@dataclass(frozen=True)
class Refused:
    """Stateful replacements or removals the tool refuses to execute (may be empty)."""

    rows: list[Row]


@dataclass(frozen=True)
class StackEvent:
    """One new stack event while an operation runs, with the progress counter and the operation's start."""

    event: StackEventTypeDef
    progress: str
    started: datetime


@dataclass(frozen=True)
class NewZone:
    """A hosted zone the deploy created: set its name servers at the registrar now (the certificate waits)."""

    delegation: Delegation


@dataclass(frozen=True)
class RootCause:
    """The first failure that is not merely a consequence of another."""

    event: StackEventTypeDef


@dataclass(frozen=True)
class ReleaseRolledBack:
    """A release ECS refused (deployment alarm or circuit breaker), with what ECS said."""

    rollback: ReleaseRollback
    ecs_events: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetainedResources:
    """What deleting the stack keeps (DeletionPolicy Retain/Snapshot)."""

    kept: list[Retained]


@dataclass(frozen=True)
class Review:
    """Where to review a change set and how to execute it (``deploy --no-execute``)."""

    fields: dict[str, str]


@dataclass(frozen=True)
class Outputs:
    """The root stack's outputs after a deploy."""

    outputs: dict[str, str]
