"""What a caller gives a job and gets back: the requests (each names its environment's stack) and the
result, whose ``document()`` is the ``--json`` form (its keys are an interface for CI)."""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass, field
from typing import Any

from cylink_deploy.aws import DEFAULT_REGION
from cylink_deploy.cfn import changes as ch
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.changes import ChangeSetNode


class Status(str, enum.Enum):
    NO_CHANGES = "NO_CHANGES"
    REVIEW = "REVIEW"
    DEPLOYED = "DEPLOYED"
    DELETED = "DELETED"
    NOTHING_TO_DELETE = "NOTHING_TO_DELETE"
    BOOTSTRAPPED = "BOOTSTRAPPED"
    BUILT = "BUILT"


def stack_name(env: str, override: str | None = None) -> str:
    """The stack an environment deploys to: cylink-ENV unless named explicitly."""
    return override or f"cylink-{env}"


@dataclass(frozen=True)
class StackRequest:
    """A job that needs only the environment's stack (delete, status, drift, rotate-redis-auth)."""

    env: str
    stack_name: str | None = None

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.stack_name)


DeleteRequest = StackRequest


@dataclass(frozen=True)
class DeployRequest:
    """A new change set for an environment, executed unless ``execute`` is False (review only)."""

    env: str
    stack_name: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    image_tag: str | None = None
    allow_replacement: frozenset[str] = frozenset()
    execute: bool = True
    remove_services: bool = False  # the only way a deploy removes the services (ImageTag emptied on purpose)
    allow_name_prefix_change: bool = False  # a stack keeps its NamePrefix unless this is given
    supersede: bool = False  # executing may make other change sets under review obsolete (--supersede)
    images_checked: bool = False  # the caller (release) has checked or pushed the image tag in ECR already
    image_tag_flag: str = "--image-tag"  # the flag that gave image_tag (release: --rollback-to), named in messages

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.stack_name)


@dataclass(frozen=True)
class ExecuteRequest:
    """Execute a change set that was reviewed earlier (``deploy --no-execute``)."""

    env: str
    change_set: str
    stack_name: str | None = None
    allow_replacement: frozenset[str] = frozenset()
    supersede: bool = False  # other change sets under review may become obsolete (--supersede)

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.stack_name)


def deploy_first(env: str, stack_name: str | None, region: str = DEFAULT_REGION) -> str:
    """What to run when the stack does not exist yet (the same --stack-name, or it deploys another stack; the same
    region, named when it is not the default)."""
    stack = ["--stack-name", stack_name] if stack_name else []
    where = ["--region", region] if region != DEFAULT_REGION else []
    return f"deploy it first ({shlex.join(['python', 'deploy.py', '--env', env, *stack, *where])})"


def missing_stack(stack: str, env: str, stack_name: str | None, region: str, then: str = "") -> str:
    """The one line for a stack that is not there. It names the region looked in: a stack deployed elsewhere and a
    wrong --region or AWS_REGION look the same (CloudFormation stacks are regional:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-create-stack.html)."""
    elsewhere = (
        f"; deployed in another region? check --region and AWS_REGION (default {DEFAULT_REGION})"
        if region != DEFAULT_REGION
        else ""
    )
    return f"stack {stack} does not exist in {region}: {deploy_first(env, stack_name, region)}{then}{elsewhere}"


@dataclass
class Result:
    """What a job did; ``document()`` is the ``--json`` form (its keys are an interface for CI)."""

    status: Status
    stack: str = ""
    change_set_name: str | None = None
    change_set_id: str | None = None
    nodes: list[ChangeSetNode] = field(default_factory=list)
    refused: list[ch.Row] = field(default_factory=list)
    uploaded: list[str] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    retained: list[st.Retained] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"status": self.status.value, **self.extra}
        if self.stack:
            doc["stackName"] = self.stack
        if self.change_set_name:
            doc["changeSetName"] = self.change_set_name
        if self.change_set_id:
            doc["changeSetId"] = self.change_set_id
        if self.uploaded is not None:
            doc["uploaded"] = self.uploaded
        if self.nodes:
            doc.update(ch.summary(self.nodes))
            doc["refused"] = [r.path for r in self.refused]
        if self.status in (Status.DEPLOYED, Status.NO_CHANGES, Status.REVIEW) and self.status != Status.REVIEW:
            doc["outputs"] = self.outputs
        if self.status == Status.DELETED:
            doc["retained"] = [k.document() for k in self.retained]
        return doc
