"""Following a stack operation: the events of the root and every nested stack (deduplicated, new
nested stacks found from the events), each stack's logical path, the progress counter, and the root cause
of a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from cylink_deploy import polling
from cylink_deploy.aws import is_missing_stack

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef


def _new_events(cfn: CloudFormationClient, stack_id: str, since: datetime, seen: set[str]) -> list[StackEventTypeDef]:
    """Events of one stack newer than ``since`` and not yet seen, oldest first (pages until older)."""
    fresh: list[StackEventTypeDef] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page.get("StackEvents", []):
            if event["Timestamp"] < since:
                return list(reversed(fresh))
            if event["EventId"] not in seen:
                fresh.append(event)
    return list(reversed(fresh))


def existing_event_ids(cfn: CloudFormationClient, stack_id: str) -> set[str]:
    """IDs of the events a stack already has (the newest page): not news when following an operation."""
    return {e["EventId"] for e in cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])}


ROOT = "root"  # the root stack in a logical path: root/KeysStack/DataKey
STACK = "AWS::CloudFormation::Stack"


def stack_paths(stack_id: str, nested: dict[str, str]) -> dict[str, str]:
    """Stack ID -> logical path, for the root and the nested stacks that exist (their paths below the root,
    as ``stacks.nested_stacks`` gives them: ``KeysStack``, ``A/B``)."""
    return {stack_id: ROOT} | {physical: f"{ROOT}/{path}" for physical, path in nested.items()}


@dataclass
class Progress:
    """What an operation has done so far: the root's changes completed out of ``total``, and resources
    completed in all stacks (the root's own stack events are not resources)."""

    stack_id: str
    total: int
    root_done: set[str] = field(default_factory=set)
    resources_done: set[tuple[str, str]] = field(default_factory=set)
    events: list[StackEventTypeDef] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)  # stack ID -> logical path (stack_paths), grows

    def record(self, event: StackEventTypeDef) -> bool:
        """Count ``event``; False for events that belong to creating the change set, not executing it."""
        status: str | None = event.get("ResourceStatus")  # a stack's own events carry stack statuses too
        if status == "REVIEW_IN_PROGRESS":  # (the stubs' ResourceStatusType lacks this one)
            return False
        self.events.append(event)
        logical, own_stack = event["LogicalResourceId"], event["StackName"]  # always given, as is StackId
        child = event.get("PhysicalResourceId")
        if event.get("ResourceType") == STACK and logical != own_stack and child and child not in self.paths:
            self.paths[child] = f"{self.stack_path(event)}/{logical}"  # the parent names its child logically
        if str(status).endswith("_COMPLETE") and logical != own_stack:
            self.resources_done.add((event["StackId"], logical))
            if event["StackId"] == self.stack_id:
                self.root_done.add(logical)
        return True

    def stack_path(self, event: StackEventTypeDef) -> str:
        """The logical path of the stack ``event`` belongs to (``root``, ``root/KeysStack``); a stack not
        seen being created by its parent keeps its physical name."""
        return self.paths.get(event["StackId"]) or self.paths.get(event["StackName"]) or event["StackName"]

    def __str__(self) -> str:
        return f"{len(self.root_done):>2}/{self.total} | {len(self.resources_done):>3} resources"


def follow(
    cfn: CloudFormationClient,
    stack_id: str,
    since: datetime,
    on_event: Callable[[StackEventTypeDef], None],
    sleep: polling.Sleep = time.sleep,
    seen: set[str] | None = None,
    nested: list[str] | None = None,
    on_poll: Callable[[], None] | None = None,
) -> str:
    """Stream events of the root and every nested stack (deduplicated) until the root settles.

    ``seen`` holds event IDs that predate the operation; ``nested`` the nested stacks that already exist
    (new ones are found from the events); a nested stack that vanished (replaced and deleted) simply
    stops being followed. ``on_poll`` runs after every sweep (the ECS rollout view of a release)."""
    seen = set(seen or ())
    stacks = [stack_id, *(nested or [])]
    gone: set[str] = set()
    delays = polling.backoff(first=1.0, cap=3.0)
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        settled = not status.endswith("_IN_PROGRESS")
        batch: list[StackEventTypeDef] = []
        for sid in stacks:  # grows while iterating: a nested stack found now is polled in this sweep
            if sid in gone:
                continue
            try:
                fresh = _new_events(cfn, sid, since, seen)
            except ClientError as exc:
                if sid == stack_id or not is_missing_stack(exc):
                    raise
                gone.add(sid)
                continue
            for event in fresh:
                seen.add(event["EventId"])
                child = event.get("PhysicalResourceId")
                # a stack's own events name it as their resource too, but it is already in the list
                if event.get("ResourceType") == "AWS::CloudFormation::Stack" and child and child not in stacks:
                    stacks.append(child)
                batch.append(event)
        for event in in_time_order(batch):
            on_event(event)
        if on_poll:
            on_poll()
        if settled:
            return str(status)
        sleep(next(delays))


def _names_child(event: StackEventTypeDef) -> str | None:
    """The nested stack a parent's event names (its physical ID), if it is one. A nested stack's physical ID is
    its stack ID ("Ref returns the stack ID": https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
    aws-resource-cloudformation-stack.html), the StackId of its own events; moto gives its name (in_time_order
    matches either, as Progress.stack_path does)."""
    nested = event.get("ResourceType") == STACK and event["LogicalResourceId"] != event["StackName"]
    return event.get("PhysicalResourceId") or None if nested else None


def in_time_order(batch: list[StackEventTypeDef]) -> list[StackEventTypeDef]:
    """One sweep's events of every stack, oldest first (read stack by stack, they would come stack by stack),
    except that a nested stack's events never come before its parent's event that names it (the logical path
    comes from that event; a child's first event can be stamped a moment before it)."""
    named_here = {child for e in batch if (child := _names_child(e))}
    held: dict[str, list[StackEventTypeDef]] = {}
    ordered: list[StackEventTypeDef] = []

    def emit(event: StackEventTypeDef) -> None:
        ordered.append(event)
        child = _names_child(event)
        if child in named_here:
            named_here.discard(child)
            for waiting in held.pop(child, []):
                emit(waiting)

    for event in sorted(batch, key=lambda e: e["Timestamp"]):
        key = next((k for k in (event["StackId"], event["StackName"]) if k in named_here), None)  # (as stack_path)
        if key:
            held.setdefault(key, []).append(event)
        else:
            emit(event)
    return ordered + [e for events in held.values() for e in events]  # (a name never emitted: at the end)


CONSEQUENCES = (
    "The following resource(s) failed",  # a stack failing because of its resources
    "Embedded stack",  # a nested stack failing because of its own
    "cancelled",  # Resource creation/update cancelled: stopped because something else failed
)


def root_cause(events: list[StackEventTypeDef]) -> StackEventTypeDef | None:
    """The first failure that is not merely a consequence of another (usually deep in a nested stack)."""
    failed = [e for e in events if str(e.get("ResourceStatus")).endswith("_FAILED")]
    failed.sort(key=lambda e: e["Timestamp"])
    for event in failed:
        if not any(c in str(event.get("ResourceStatusReason")) for c in CONSEQUENCES):
            return event
    return failed[0] if failed else None
