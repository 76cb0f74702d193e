"""CloudFormation steps: stack state, change sets (nested included), execution, events, outputs,
deletion. Each step takes the CloudFormation client and returns data or raises a named error;
nothing here prints (progress goes through callbacks). Pages are read with boto3's paginators."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import yaml
from botocore.exceptions import ClientError

from cylink_deploy.aws import error_code, is_missing_stack
from cylink_deploy.cfn.changes import STATEFUL_TYPES, ChangeSetNode, Row, removed_nested_stacks
from cylink_deploy.errors import DeploymentFailed, NoChanges, StackStateError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
CLEAN_UP_FIRST = {"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}  # a failed first create: nothing to keep
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}  # how executing a change set may end well
RETAINED_POLICIES = ("Retain", "Snapshot", "RetainExceptOnCreate")
RECOVERY = {
    "UPDATE_ROLLBACK_FAILED": "aws cloudformation continue-update-rollback --stack-name {s} "
    "(add --resources-to-skip LOGICAL_ID for resources that cannot roll back), then deploy again",
    "ROLLBACK_FAILED": (
        "inspect the failed resources, then aws cloudformation delete-stack --stack-name {s} and deploy again"
    ),
    "DELETE_FAILED": "fix what blocked deletion (see the stack events), then aws cloudformation delete-stack "
    "--stack-name {s} (or --retain-resources LOGICAL_ID)",
    "CREATE_FAILED": "aws cloudformation delete-stack --stack-name {s}, then deploy again",
    "UPDATE_FAILED": "aws cloudformation rollback-stack --stack-name {s}, then deploy again",
    "IMPORT_ROLLBACK_FAILED": "aws cloudformation continue-update-rollback --stack-name {s}, then deploy again",
}


class Sleep(Protocol):
    def __call__(self, seconds: float, /) -> None: ...


def backoff(first: float = 1.0, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Polling intervals: about 1 s, growing to a few seconds (never the 30 s waiter default)."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * factor)


def now() -> datetime:
    return datetime.now(timezone.utc)


def change_set_name(stack: str, at: datetime | None = None) -> str:
    """Unique per run (time to the second plus a random suffix): two deploys never collide."""
    return f"{stack}-{(at or now()).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def console_url(region: str, stack_id: str, change_set_id: str) -> str:
    """Where a reviewer sees the change set in the AWS console."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/changesets/changes?{urlencode({'stackId': stack_id, 'changeSetId': change_set_id}, quote_via=quote)}"
    )


def describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack's description, or None when it does not exist."""
    try:
        return dict(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    except ClientError as exc:
        if is_missing_stack(exc):
            return None
        raise


def stack_status(cfn: Any, stack: str) -> str | None:
    """Current status of ``stack``, or None when it does not exist."""
    described = describe(cfn, stack)
    return str(described["StackStatus"]) if described else None


@dataclass(frozen=True)
class Plan:
    """What the stack's state means for this deploy."""

    change_set_type: str  # CREATE or UPDATE
    clean_up_first: bool = False  # delete a stack left behind by a failed first create
    status: str | None = None

    @property
    def why_clean_up(self) -> str:
        if self.status == "REVIEW_IN_PROGRESS":
            return "a change set was created but never executed"
        return "its first create failed and rolled back"


def plan(status: str | None, stack: str) -> Plan:
    """Decide from a *settled* status; stuck states stop with the exact recovery step."""
    if status is None:
        return Plan("CREATE")
    if status in CLEAN_UP_FIRST:
        return Plan("CREATE", clean_up_first=True, status=status)
    if status in UPDATABLE:
        return Plan("UPDATE", status=status)
    step = RECOVERY.get(status, "inspect it in the console and bring it to a *_COMPLETE state")
    raise StackStateError(f"stack {stack} is {status}: {step.format(s=stack)}")


def wait_settled(
    cfn: Any,
    stack: str,
    sleep: Sleep = time.sleep,
    on_wait: Callable[[str], None] | None = None,
    timeout: float = 3 * 3600,
) -> str | None:
    """Wait while another operation is in progress (never start a second one); return the final status."""
    start, delays = time.monotonic(), backoff(cap=10.0)
    while True:
        status = stack_status(cfn, stack)
        if status is None or not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return status
        if on_wait:
            on_wait(status)
        if time.monotonic() - start > timeout:
            raise StackStateError(
                f"stack {stack} has been {status} for over {timeout / 3600:g} h: check it in the console"
            )
        sleep(next(delays))


def delete_and_wait(cfn: Any, stack: str, sleep: Sleep = time.sleep, role_arn: str | None = None) -> str:
    """Delete ``stack`` and wait for the outcome (DELETE_COMPLETE, or the failure status)."""
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id, **({"RoleARN": role_arn} if role_arn else {}))
    delays = backoff()
    while True:
        status = stack_status(cfn, stack_id) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        sleep(next(delays))


def create_change_set(
    cfn: Any,
    stack: str,
    name: str,
    change_set_type: str,
    template_url: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    description: str,
    keep_previous: tuple[str, ...] = (),
    role_arn: str | None = None,
) -> dict[str, str]:
    """Create a change set including nested stacks; returns {"Id", "StackId"}.

    ``keep_previous`` names parameters that keep their deployed value when not given (on UPDATE).
    """
    params: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]
    if change_set_type == "UPDATE":
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in keep_previous if k not in parameters]
    created: dict[str, str] = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=change_set_type,
        TemplateURL=template_url,
        Parameters=params,
        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        Capabilities=CAPABILITIES,
        IncludeNestedStacks=True,
        Description=description[:1024],
        **({"RoleARN": role_arn} if role_arn else {}),
    )
    return created


def wait_change_set(
    cfn: Any, change_set_id: str, sleep: Sleep = time.sleep, timeout: float = 15 * 60.0
) -> dict[str, Any]:
    """Wait until the change set is computed; NoChanges when empty, DeploymentFailed when it failed or
    is still not computed after ``timeout`` seconds of waiting."""
    waited, delays = 0.0, backoff()
    while True:
        delay = next(delays)
        cs = cfn.describe_change_set(ChangeSetName=change_set_id)
        status = cs["Status"]
        if status == "CREATE_COMPLETE":
            return dict(cs)
        if status == "FAILED":
            reason = cs.get("StatusReason", "")
            if any(r in reason for r in NO_CHANGE_REASONS):
                raise NoChanges(reason)
            raise DeploymentFailed(f"change set {cs['ChangeSetName']} failed: {reason}")
        if waited >= timeout:
            raise DeploymentFailed(
                f"change set {cs['ChangeSetName']} is still {status} after {waited:.0f} s: check it in the console"
            )
        sleep(delay)
        waited += delay


def describe_tree(cfn: Any, change_set_id: str, path: str = "") -> list[ChangeSetNode]:
    """The change set and every nested change set under it, each with all pages merged."""
    pages = list(cfn.get_paginator("describe_change_set").paginate(ChangeSetName=change_set_id))
    first = dict(pages[0])
    node = ChangeSetNode(path, first, [c for page in pages for c in page.get("Changes", [])])
    node.previous_parameters = deployed_parameters(cfn, first.get("StackId"))
    nodes = [node]
    for change in node.changes:
        rc = change.get("ResourceChange", {})
        if rc.get("ChangeSetId"):
            child = f"{path}/{rc['LogicalResourceId']}" if path else rc["LogicalResourceId"]
            nodes += describe_tree(cfn, rc["ChangeSetId"], child)
    return nodes


def deployed_parameters(cfn: Any, stack_id: str | None) -> dict[str, str] | None:
    """The parameters the stack runs with now (None: it does not exist yet, or only under review)."""
    if not stack_id:
        return None
    stack = describe(cfn, stack_id)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def execute_change_set(cfn: Any, change_set_id: str) -> None:
    cfn.execute_change_set(ChangeSetName=change_set_id)


def delete_change_set(cfn: Any, change_set_id: str) -> None:
    cfn.delete_change_set(ChangeSetName=change_set_id)


def pending_change_sets(cfn: Any, stack: str) -> list[str]:
    """Names of the stack's change sets that someone could still execute (or that are being computed)."""
    summaries = [
        c for page in cfn.get_paginator("list_change_sets").paginate(StackName=stack) for c in page.get("Summaries", [])
    ]
    return [
        c["ChangeSetName"]
        for c in summaries
        if c.get("ExecutionStatus") in ("AVAILABLE", "UNAVAILABLE") and c.get("Status") != "FAILED"
    ]


def find_change_set(cfn: Any, stack: str, name: str) -> dict[str, Any]:
    """A reviewed change set by name (or ARN) of ``stack``; it must still be executable."""
    try:
        cs = dict(cfn.describe_change_set(StackName=stack, ChangeSetName=name))
    except ClientError as exc:
        if error_code(exc) in ("ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"):
            raise StackStateError(
                f"no change set {name} on stack {stack}: list them with aws cloudformation list-change-sets "
                f"--stack-name {stack} --region {cfn.meta.region_name}"
            ) from None
        raise
    if cs.get("StackName") and cs["StackName"] != stack:
        raise StackStateError(
            f"change set {name} belongs to stack {cs.get('StackName')}, not {stack}: pass --stack-name "
            f"{cs.get('StackName')}"
        )
    if cs.get("ExecutionStatus") != "AVAILABLE":
        raise StackStateError(
            f"change set {name} is {cs.get('ExecutionStatus')} ({cs.get('StatusReason') or cs.get('Status')}), not "
            "AVAILABLE: create a new one with --no-execute"
        )
    return cs


@dataclass(frozen=True)
class NestedStack:
    path: str  # "CacheStack", or "A/B" deeper down
    logical_id: str
    physical_id: str


def nested_stacks(cfn: Any, stack: str, path: str = "") -> Iterator[NestedStack]:
    """Every nested stack under ``stack``, depth first: the one walker of the tree (retained resources,
    protection and event following all use it)."""
    for res in resource_summaries(cfn, stack):
        if res["ResourceType"] == "AWS::CloudFormation::Stack" and res.get("PhysicalResourceId"):
            child = f"{path}/{res['LogicalResourceId']}" if path else res["LogicalResourceId"]
            yield NestedStack(child, res["LogicalResourceId"], res["PhysicalResourceId"])
            yield from nested_stacks(cfn, res["PhysicalResourceId"], child)


def resource_summaries(cfn: Any, stack: str) -> list[dict[str, Any]]:
    """Every resource of one stack (all pages)."""
    return [
        s
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        for s in page.get("StackResourceSummaries", [])
    ]


def _new_events(cfn: Any, stack_id: str, since: datetime, seen: set[str]) -> list[dict[str, Any]]:
    """Events of one stack newer than ``since`` and not yet seen, oldest first (pages until older)."""
    fresh: list[dict[str, Any]] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page.get("StackEvents", []):
            if event["Timestamp"] < since:
                return list(reversed(fresh))
            if event["EventId"] not in seen:
                fresh.append(event)
    return list(reversed(fresh))


def existing_event_ids(cfn: Any, stack_id: str) -> set[str]:
    """IDs of the events a stack already has (the newest page): not news when following an operation."""
    return {e["EventId"] for e in cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])}


@dataclass
class Progress:
    """What an operation has done so far: the root's changes completed out of ``total``, and resources
    completed in all stacks (the root's own stack events are not resources)."""

    stack_id: str
    total: int
    root_done: set[str] = field(default_factory=set)
    resources_done: set[tuple[str, str]] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(self, event: dict[str, Any]) -> bool:
        """Count ``event``; False for events that belong to creating the change set, not executing it."""
        if event.get("ResourceStatus") == "REVIEW_IN_PROGRESS":
            return False
        self.events.append(event)
        logical, own_stack = event["LogicalResourceId"], event["StackName"]  # always given, as is StackId
        if str(event.get("ResourceStatus")).endswith("_COMPLETE") and logical != own_stack:
            self.resources_done.add((event["StackId"], logical))
            if event["StackId"] == self.stack_id:
                self.root_done.add(logical)
        return True

    def __str__(self) -> str:
        return f"{len(self.root_done):>2}/{self.total} | {len(self.resources_done):>3} resources"


def follow(
    cfn: Any,
    stack_id: str,
    since: datetime,
    on_event: Callable[[dict[str, Any]], None],
    sleep: Sleep = time.sleep,
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
    delays = backoff(first=1.0, cap=3.0)
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        settled = not status.endswith("_IN_PROGRESS")
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
                on_event(event)
        if on_poll:
            on_poll()
        if settled:
            return str(status)
        sleep(next(delays))


CONSEQUENCES = (
    "The following resource(s) failed",  # a stack failing because of its resources
    "Embedded stack",  # a nested stack failing because of its own
    "cancelled",  # Resource creation/update cancelled: stopped because something else failed
)


def root_cause(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first failure that is not merely a consequence of another (usually deep in a nested stack)."""
    failed = [e for e in events if str(e.get("ResourceStatus")).endswith("_FAILED")]
    failed.sort(key=lambda e: e["Timestamp"])
    for event in failed:
        if not any(c in str(event.get("ResourceStatusReason")) for c in CONSEQUENCES):
            return event
    return failed[0] if failed else None


# How CloudFormation reports an ECS service whose deployment ECS itself failed (circuit breaker, or a
# deployment alarm in ALARM) and rolled back to the last completed deployment (aws/containers-roadmap#1205):
# the resource fails with this handler message and the stack then rolls back.
ECS_DEPLOYMENT_FAILED = "ECS Deployment Circuit Breaker was triggered"
# What ECS itself says in the service's events (DescribeServices) when it does so.
ECS_FAILURE_EVENTS = ("deployment failed", "rolling back to deployment", "circuit breaker")


@dataclass(frozen=True)
class ReleaseRollback:
    """A release ECS refused: which service, in which stack, and what CloudFormation said."""

    stack: str
    logical_id: str
    service_arn: str
    reason: str


def release_rollback(cause: dict[str, Any] | None, final_status: str) -> ReleaseRollback | None:
    """The root cause read as a release ECS rolled back: an ECS service update ECS failed (its
    deployment alarms or circuit breaker), after which the stack rolled back too."""
    if not cause or cause.get("ResourceType") != "AWS::ECS::Service" or "ROLLBACK" not in final_status:
        return None
    reason = str(cause.get("ResourceStatusReason"))
    if ECS_DEPLOYMENT_FAILED.lower() not in reason.lower():
        return None
    return ReleaseRollback(cause["StackName"], cause["LogicalResourceId"], cause.get("PhysicalResourceId", ""), reason)


def ecs_failure_events(ecs: Any, service_arn: str, limit: int = 5) -> list[str]:
    """ECS's own account of a failed deployment (newest first): e.g. 'deployment failed: alarm
    detected' and 'rolling back to deployment ...'. The cluster is read from the service ARN."""
    parts = service_arn.split("/")  # arn:...:service/<cluster>/<name>
    if len(parts) != 3:
        return []
    described = ecs.describe_services(cluster=parts[1], services=[service_arn]).get("services", [])
    events = described[0].get("events", []) if described else []
    return [e["message"] for e in events if any(m in e["message"] for m in ECS_FAILURE_EVENTS)][:limit]


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    """Root stack outputs by key."""
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


@dataclass(frozen=True)
class Retained:
    """A resource that deleting the stack keeps (DeletionPolicy Retain/Snapshot)."""

    stack: str  # "(root)" or the nested stack path
    logical_id: str
    resource_type: str
    policy: str


def retained_resources(cfn: Any, stack: str) -> list[Retained]:
    """Every resource under ``stack`` (nested included) that deletion keeps."""
    found: list[Retained] = []
    for path, stack_name in [("(root)", stack), *((n.path, n.physical_id) for n in nested_stacks(cfn, stack))]:
        body = cfn.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
        template = body if isinstance(body, dict) else _parse_template(body)
        existing = {s["LogicalResourceId"] for s in resource_summaries(cfn, stack_name) if s.get("PhysicalResourceId")}
        for logical_id, res in sorted(template.get("Resources", {}).items()):
            if (
                res.get("DeletionPolicy") in RETAINED_POLICIES
                and logical_id in existing
                and res["Type"] != "AWS::CloudFormation::Stack"
            ):
                found.append(Retained(path, logical_id, res["Type"], res["DeletionPolicy"]))
    return found


def _parse_template(text: str) -> dict[str, Any]:
    try:
        return dict(json.loads(text))
    except ValueError:
        return dict(yaml.safe_load(text))


def stateful_inside_removed(cfn: Any, nodes: list[ChangeSetNode]) -> list[Row]:
    """The stateful resources that go with every nested stack the change set removes: CloudFormation
    deletes everything inside a removed nested stack, which its own Remove row does not show."""
    found: list[Row] = []
    for node, row in removed_nested_stacks(nodes):
        parent = str(node.description.get("StackId") or "")
        physical = (
            {s["LogicalResourceId"]: str(s.get("PhysicalResourceId") or "") for s in resource_summaries(cfn, parent)}
            if parent
            else {}
        )
        removed = physical.get(row.logical_id)
        if not removed:
            continue
        stacks = [(row.path, removed), *((f"{row.path}/{n.path}", n.physical_id) for n in nested_stacks(cfn, removed))]
        for path, stack_id in stacks:
            body = cfn.get_template(StackName=stack_id, TemplateStage="Processed")["TemplateBody"]
            template = body if isinstance(body, dict) else _parse_template(body)
            existing = {
                s["LogicalResourceId"] for s in resource_summaries(cfn, stack_id) if s.get("PhysicalResourceId")
            }
            for logical_id, res in sorted(template.get("Resources", {}).items()):
                if res["Type"] in STATEFUL_TYPES and logical_id in existing:
                    found.append(
                        Row(path, "Remove", logical_id, res["Type"], "", f"removed with nested stack {row.path}")
                    )
    return found
