"""CloudFormation stack state: describe, settle (wait out other operations), plan CREATE or UPDATE or
the recovery step, delete, the nested-stack walker, outputs and what deletion retains. Steps take the
client and return data or raise named errors; nothing here prints."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml
from botocore.exceptions import ClientError

from cylink_deploy import polling
from cylink_deploy.aws import is_missing_stack
from cylink_deploy.errors import StackStateError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import DeleteStackInputTypeDef, StackResourceSummaryTypeDef, StackTypeDef

ChangeSetKind = Literal["CREATE", "UPDATE"]

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


def describe(cfn: CloudFormationClient, stack: str) -> StackTypeDef | None:
    """The stack's description, or None when it does not exist."""
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if is_missing_stack(exc):
            return None
        raise


def stack_status(cfn: CloudFormationClient, stack: str) -> str | None:
    """Current status of ``stack``, or None when it does not exist."""
    described = describe(cfn, stack)
    return str(described["StackStatus"]) if described else None


@dataclass(frozen=True)
class Plan:
    """What the stack's state means for this deploy."""

    change_set_type: ChangeSetKind
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
    raise StackStateError(f"stack {stack} is {status}: {step.format(s=shlex.quote(stack))}")


def wait_settled(
    cfn: CloudFormationClient,
    stack: str,
    sleep: polling.Sleep = time.sleep,
    on_wait: Callable[[str], None] | None = None,
    timeout: float = 3 * 3600,
) -> str | None:
    """Wait while another operation is in progress (never start a second one); return the final status."""
    start, delays = time.monotonic(), polling.backoff(cap=10.0)
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


def start_delete(cfn: CloudFormationClient, stack_id: str, role_arn: str | None = None) -> None:
    """Send the delete of ``stack_id`` (its ARN: once deleted, DescribeStacks and DescribeStackEvents answer for
    a stack by its unique ID only, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html),
    as ``role_arn`` when given."""
    request: DeleteStackInputTypeDef = {"StackName": stack_id}
    if role_arn:
        request["RoleARN"] = role_arn
    cfn.delete_stack(**request)


def delete_and_wait(
    cfn: CloudFormationClient, stack: str, sleep: polling.Sleep = time.sleep, role_arn: str | None = None
) -> str:
    """Delete ``stack`` and wait for the outcome (DELETE_COMPLETE, or the failure status)."""
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    start_delete(cfn, stack_id, role_arn)
    delays = polling.backoff()
    while True:
        status = stack_status(cfn, stack_id) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        sleep(next(delays))


def deployed_parameters(cfn: CloudFormationClient, stack_id: str | None) -> dict[str, str] | None:
    """The parameters the stack runs with now (None: it does not exist yet, or only under review)."""
    if not stack_id:
        return None
    stack = describe(cfn, stack_id)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


@dataclass(frozen=True)
class NestedStack:
    path: str  # "CacheStack", or "A/B" deeper down
    logical_id: str
    physical_id: str


def nested_stacks(cfn: CloudFormationClient, stack: str, path: str = "") -> Iterator[NestedStack]:
    """Every nested stack under ``stack``, depth first: the one walker of the tree (retained resources,
    protection and event following all use it)."""
    for res in resource_summaries(cfn, stack):
        if res["ResourceType"] == "AWS::CloudFormation::Stack" and res.get("PhysicalResourceId"):
            child = f"{path}/{res['LogicalResourceId']}" if path else res["LogicalResourceId"]
            yield NestedStack(child, res["LogicalResourceId"], res["PhysicalResourceId"])
            yield from nested_stacks(cfn, res["PhysicalResourceId"], child)


def resource_summaries(cfn: CloudFormationClient, stack: str) -> list[StackResourceSummaryTypeDef]:
    """Every resource of one stack (all pages)."""
    return [
        s
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        for s in page.get("StackResourceSummaries", [])
    ]


def outputs(cfn: CloudFormationClient, stack: str) -> dict[str, str]:
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
    physical_id: str = ""  # what stays in the account after the delete (a log group's name, a key's ID)

    def document(self) -> dict[str, str]:
        """As ``delete --json`` lists it (docs/json.md)."""
        return {
            "stackPath": self.stack,
            "logicalId": self.logical_id,
            "physicalId": self.physical_id,
            "resourceType": self.resource_type,
            "deletionPolicy": self.policy,
        }


def retained_resources(cfn: CloudFormationClient, stack: str) -> list[Retained]:
    """Every resource under ``stack`` (nested included) that deletion keeps."""
    found: list[Retained] = []
    for path, stack_name in [("(root)", stack), *((n.path, n.physical_id) for n in nested_stacks(cfn, stack))]:
        template = processed_template(cfn, stack_name)
        existing = {
            s["LogicalResourceId"]: s["PhysicalResourceId"]
            for s in resource_summaries(cfn, stack_name)
            if s.get("PhysicalResourceId")
        }
        for logical_id, res in sorted(template.get("Resources", {}).items()):
            if (
                res.get("DeletionPolicy") in RETAINED_POLICIES
                and logical_id in existing
                and res["Type"] != "AWS::CloudFormation::Stack"
            ):
                found.append(Retained(path, logical_id, res["Type"], res["DeletionPolicy"], existing[logical_id]))
    return found


def processed_template(cfn: CloudFormationClient, stack: str) -> dict[str, Any]:
    """The stack's processed template. botocore parses a JSON body; a YAML one stays text (the stubs say
    dict only)."""
    body: dict[str, Any] | str = cfn.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    return body if isinstance(body, dict) else parse_template(body)


def parse_template(text: str) -> dict[str, Any]:
    try:
        return dict(json.loads(text))
    except ValueError:
        return dict(yaml.safe_load(text))
