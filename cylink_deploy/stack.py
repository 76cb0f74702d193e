"""CloudFormation steps: stack state, change sets (nested included), execution, events, outputs,
deletion. Each step takes the CloudFormation client and returns data or raises a named error;
nothing here prints (progress goes through callbacks)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from .errors import DeploymentFailed, NoChanges, StackStateError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
CLEAN_UP_FIRST = {"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}  # a failed first create: nothing to keep
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
RECOVERY = {
    "UPDATE_ROLLBACK_FAILED": "aws cloudformation continue-update-rollback --stack-name {s} "
    "(add --resources-to-skip LOGICAL_ID for resources that cannot roll back), then deploy again",
    "ROLLBACK_FAILED": "inspect the failed resources, then aws cloudformation delete-stack --stack-name {s} and deploy again",
    "DELETE_FAILED": "fix what blocked deletion (see the stack events), then aws cloudformation delete-stack --stack-name {s} "
    "(or --retain-resources LOGICAL_ID)",
    "CREATE_FAILED": "aws cloudformation delete-stack --stack-name {s}, then deploy again",
    "UPDATE_FAILED": "aws cloudformation rollback-stack --stack-name {s}, then deploy again",
    "IMPORT_ROLLBACK_FAILED": "aws cloudformation continue-update-rollback --stack-name {s}, then deploy again",
}

Sleep = Callable[[float], None]


def backoff(first: float = 1.0, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Polling intervals: about 1 s, growing to a few seconds (never the 30 s waiter default)."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * factor)


def stack_status(cfn: Any, stack: str) -> str | None:
    """Current status of ``stack``, or None when it does not exist."""
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise


@dataclass(frozen=True)
class Plan:
    """What the stack's state means for this deploy."""

    change_set_type: str  # CREATE or UPDATE
    clean_up_first: bool = False  # delete a stack left behind by a failed first create
    status: str | None = None


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


def wait_settled(cfn: Any, stack: str, sleep: Sleep = time.sleep, on_wait: Callable[[str], None] | None = None, timeout: float = 3 * 3600) -> str | None:
    """Wait while another operation is in progress (never start a second one); return the final status."""
    start = time.monotonic()
    for delay in backoff(cap=10.0):
        status = stack_status(cfn, stack)
        if status is None or not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return status
        if on_wait:
            on_wait(status)
        if time.monotonic() - start > timeout:
            raise StackStateError(f"stack {stack} has been {status} for over {timeout / 3600:.0f} h: check it in the console")
        sleep(delay)
    return None  # unreachable


def delete_and_wait(cfn: Any, stack: str, sleep: Sleep = time.sleep, role_arn: str | None = None) -> str:
    """Delete ``stack`` and wait for the outcome (DELETE_COMPLETE, or the failure status)."""
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id, **({"RoleARN": role_arn} if role_arn else {}))
    for delay in backoff():
        status = stack_status(cfn, stack_id) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        sleep(delay)
    return "DELETE_COMPLETE"  # unreachable


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
    return cfn.create_change_set(
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


def wait_change_set(cfn: Any, change_set_id: str, sleep: Sleep = time.sleep, timeout: float = 900.0) -> dict[str, Any]:
    """Wait until the change set is computed; NoChanges when empty, DeploymentFailed when it failed or
    is still not computed after ``timeout`` seconds of waiting."""
    waited = 0.0
    for delay in backoff():
        cs = cfn.describe_change_set(ChangeSetName=change_set_id)
        status = cs["Status"]
        if status == "CREATE_COMPLETE":
            return cs
        if status == "FAILED":
            reason = cs.get("StatusReason", "")
            if any(r in reason for r in NO_CHANGE_REASONS):
                raise NoChanges(reason)
            raise DeploymentFailed(f"change set {cs['ChangeSetName']} failed: {reason}")
        if waited >= timeout:
            raise DeploymentFailed(f"change set {cs['ChangeSetName']} is still {status} after {waited:.0f} s: check it in the console")
        sleep(delay)
        waited += delay
    return {}  # unreachable


@dataclass
class ChangeSetNode:
    """One change set of the tree (the root's, or a nested stack's) with all its pages merged."""

    path: str  # "" for the root, "ServicesStack" or "A/B" for nested ones
    description: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)
    previous_parameters: dict[str, str] | None = None  # None: the stack does not exist yet


def describe_tree(cfn: Any, change_set_id: str, path: str = "") -> list[ChangeSetNode]:
    """The change set and every nested change set under it, each with all pages (NextToken)."""
    first = cfn.describe_change_set(ChangeSetName=change_set_id)
    node = ChangeSetNode(path, first, list(first.get("Changes", [])))
    token = first.get("NextToken")
    while token:
        page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
        node.changes += page.get("Changes", [])
        token = page.get("NextToken")
    node.previous_parameters = _deployed_parameters(cfn, first.get("StackId"))
    nodes = [node]
    for change in node.changes:
        rc = change.get("ResourceChange", {})
        if rc.get("ChangeSetId"):
            child = f"{path}/{rc['LogicalResourceId']}" if path else rc["LogicalResourceId"]
            nodes += describe_tree(cfn, rc["ChangeSetId"], child)
    return nodes


def _deployed_parameters(cfn: Any, stack_id: str | None) -> dict[str, str] | None:
    if not stack_id:
        return None
    try:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    except ClientError:
        return None
    if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def execute_change_set(cfn: Any, change_set_id: str) -> None:
    cfn.execute_change_set(ChangeSetName=change_set_id)


def delete_change_set(cfn: Any, change_set_id: str) -> None:
    cfn.delete_change_set(ChangeSetName=change_set_id)


def find_change_set(cfn: Any, stack: str, name: str) -> dict[str, Any]:
    """A reviewed change set by name; it must still be executable."""
    try:
        cs = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"):
            raise StackStateError(f"no change set {name} on stack {stack}: list them with aws cloudformation list-change-sets --stack-name {stack}") from None
        raise
    if cs.get("ExecutionStatus") != "AVAILABLE":
        raise StackStateError(
            f"change set {name} is {cs.get('ExecutionStatus')} ({cs.get('StatusReason') or cs.get('Status')}), not AVAILABLE: create a new one with --no-execute"
        )
    return cs


def _new_events(cfn: Any, stack_id: str, since: datetime, seen: set[str]) -> list[dict[str, Any]]:
    """Events of one stack newer than ``since`` and not yet seen, oldest first (pages until older)."""
    fresh: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StackName": stack_id}
    while True:
        page = cfn.describe_stack_events(**kwargs)
        older = False
        for event in page.get("StackEvents", []):
            if event["Timestamp"] < since:
                older = True
                break
            if event["EventId"] not in seen:
                fresh.append(event)
        token = page.get("NextToken")
        if older or not token:
            break
        kwargs["NextToken"] = token
    return list(reversed(fresh))


def existing_event_ids(cfn: Any, stack_id: str) -> set[str]:
    """IDs of the events a stack already has (the newest page): not news when following an operation."""
    return {e["EventId"] for e in cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])}


def follow(
    cfn: Any,
    stack_id: str,
    since: datetime,
    on_event: Callable[[dict[str, Any]], None],
    sleep: Sleep = time.sleep,
    seen: set[str] | None = None,
) -> str:
    """Stream events of the root and every nested stack (deduplicated) until the root settles.

    ``seen`` holds event IDs that predate the operation; a nested stack that vanished (replaced and
    deleted) simply stops being followed."""
    seen = set(seen or ())
    stacks = [stack_id]
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
                if sid == stack_id or "does not exist" not in exc.response.get("Error", {}).get("Message", ""):
                    raise
                gone.add(sid)
                continue
            for event in fresh:
                seen.add(event["EventId"])
                nested = event.get("PhysicalResourceId")
                if event.get("ResourceType") == "AWS::CloudFormation::Stack" and nested and event.get("StackId") != nested and nested not in stacks:
                    stacks.append(nested)
                on_event(event)
        if settled:
            return status
        sleep(next(delays))

CONSEQUENCES = (
    "Resource creation cancelled",
    "Resource update cancelled",
    "The following resource(s) failed",
    "Embedded stack",
    "cancelled",
)


def root_cause(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first failure that is not merely a consequence of another (usually deep in a nested stack)."""
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("_FAILED")]
    failed.sort(key=lambda e: e["Timestamp"])
    for event in failed:
        if not any(c in (event.get("ResourceStatusReason") or "") for c in CONSEQUENCES):
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
    reason = cause.get("ResourceStatusReason") or ""
    if ECS_DEPLOYMENT_FAILED.lower() not in reason.lower():
        return None
    return ReleaseRollback(cause.get("StackName", ""), cause.get("LogicalResourceId", ""), cause.get("PhysicalResourceId", ""), reason)


def ecs_failure_events(ecs: Any, service_arn: str, limit: int = 5) -> list[str]:
    """ECS's own account of a failed deployment (newest first): e.g. 'deployment failed: alarm
    detected' and 'rolling back to deployment ...'. The cluster is read from the service ARN."""
    parts = service_arn.split(":", 5)[-1].split("/")  # service/<cluster>/<name>
    if len(parts) != 3:
        return []
    described = ecs.describe_services(cluster=parts[1], services=[service_arn]).get("services", [])
    events = described[0].get("events", []) if described else []
    return [e["message"] for e in events if any(m in e.get("message", "") for m in ECS_FAILURE_EVENTS)][:limit]


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    """Root stack outputs by key."""
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


def retained_resources(cfn: Any, stack: str) -> list[tuple[str, str, str, str]]:
    """(stack path, logical ID, type, policy) of every resource that deletion keeps (Retain/Snapshot)."""
    found: list[tuple[str, str, str, str]] = []

    def visit(stack_name: str, path: str) -> None:
        body = cfn.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
        template = body if isinstance(body, dict) else _parse_json(body)
        resources = template.get("Resources", {})
        physical = {}
        for summary in _resource_summaries(cfn, stack_name):
            physical[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId")
        for logical_id, res in sorted(resources.items()):
            if res["Type"] == "AWS::CloudFormation::Stack":
                if physical.get(logical_id):
                    visit(physical[logical_id], f"{path}/{logical_id}" if path else logical_id)
            elif res.get("DeletionPolicy") in ("Retain", "Snapshot", "RetainExceptOnCreate") and logical_id in physical:
                found.append((path or "(root)", logical_id, res["Type"], res["DeletionPolicy"]))

    visit(stack, "")
    return found


def _resource_summaries(cfn: Any, stack: str) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StackName": stack}
    while True:
        page = cfn.list_stack_resources(**kwargs)
        summaries += page.get("StackResourceSummaries", [])
        if not page.get("NextToken"):
            return summaries
        kwargs["NextToken"] = page["NextToken"]


def _parse_json(text: str) -> dict[str, Any]:
    import json

    import yaml

    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def now() -> datetime:
    return datetime.now(timezone.utc)
