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
class Following:
    """A stack operation was sent and its events are followed from now on until ``Settled``: the resource
    changes expected in each stack, by logical path (``root``, ``root/KeysStack``), where the change set knows."""

    stack: str
    started: datetime
    totals: dict[str, int]


@dataclass(frozen=True)
class StackEvent:
    """One new stack event while an operation runs, with the progress counter, the operation's start and
    the logical path of the stack it belongs to (``root/KeysStack``; "": only its physical name is known)."""

    event: StackEventTypeDef
    progress: str
    started: datetime
    stack_path: str = ""


@dataclass(frozen=True)
class Settled:
    """The followed operation ended with the root stack in ``status``."""

    stack: str
    status: str


@dataclass(frozen=True)
class Waiting:
    """A wait with nothing to show until it ends (lint, uploads, a rollout): a spinner on a terminal, nothing
    in the plain log. It lasts until the next line or view."""

    what: str


@dataclass(frozen=True)
class NewZone:
    """A hosted zone the deploy created: set its name servers at the registrar now (the certificate waits)."""

    delegation: Delegation


@dataclass(frozen=True)
class RootCause:
    """The first failure that is not merely a consequence of another, and where (``root/KeysStack``; "": only
    the physical stack name is known)."""

    event: StackEventTypeDef
    stack_path: str = ""


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
