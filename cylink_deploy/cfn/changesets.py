"""CloudFormation change sets: create (nested stacks included), wait, describe the whole tree, execute,
delete, find a reviewed one, and what a removed nested stack takes with it. Steps take the client and
return data or raise named errors; nothing here prints."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from botocore.exceptions import ClientError

from cylink_deploy import polling
from cylink_deploy.aws import error_code
from cylink_deploy.cfn.changes import STATEFUL_TYPES, ChangeSetNode, Row, removed_nested_stacks
from cylink_deploy.cfn.stacks import (
    ChangeSetKind,
    deployed_parameters,
    nested_stacks,
    processed_template,
    resource_summaries,
)
from cylink_deploy.errors import DeploymentFailed, NoChanges, StackStateError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import CapabilityType
    from mypy_boto3_cloudformation.type_defs import (
        CreateChangeSetInputTypeDef,
        CreateChangeSetOutputTypeDef,
        DescribeChangeSetOutputTypeDef,
        ParameterTypeDef,
    )

CAPABILITIES: list[CapabilityType] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")


def change_set_name(stack: str, at: datetime | None = None) -> str:
    """Unique per run (time to the second plus a random suffix): two deploys never collide."""
    return f"{stack}-{(at or polling.now()).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def console_url(region: str, stack_id: str, change_set_id: str) -> str:
    """Where a reviewer sees the change set in the AWS console."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/changesets/changes?{urlencode({'stackId': stack_id, 'changeSetId': change_set_id}, quote_via=quote)}"
    )


def keepable(keep_previous: tuple[str, ...], deployed: dict[str, str] | None) -> tuple[str, ...]:
    """The parameters of ``keep_previous`` the deployed stack has: UsePreviousValue on a parameter the
    previous template did not have fails the whole change set ("Cannot specify usePreviousValue as true for a
    parameter key not in the previous template": github.com/rackerlabs/ebs_snapper/issues/56, the API's
    Parameter type: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html),
    as it would on the first deploy of templates that add one (the event slots)."""
    return tuple(k for k in keep_previous if deployed is not None and k in deployed)


def create_change_set(
    cfn: CloudFormationClient,
    stack: str,
    name: str,
    change_set_type: ChangeSetKind,
    template_url: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    description: str,
    keep_previous: tuple[str, ...] = (),
    role_arn: str | None = None,
) -> CreateChangeSetOutputTypeDef:
    """Create a change set including nested stacks; returns its "Id" and "StackId".

    ``keep_previous`` names parameters that keep their deployed value when not given (on UPDATE).
    """
    params: list[ParameterTypeDef] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]
    if change_set_type == "UPDATE":
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in keep_previous if k not in parameters]
    request: CreateChangeSetInputTypeDef = {
        "StackName": stack,
        "ChangeSetName": name,
        "ChangeSetType": change_set_type,
        "TemplateURL": template_url,
        "Parameters": params,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        "Capabilities": CAPABILITIES,
        "IncludeNestedStacks": True,
        "Description": description[:1024],
    }
    if role_arn:
        request["RoleARN"] = role_arn
    return cfn.create_change_set(**request)


def wait_change_set(
    cfn: CloudFormationClient, change_set_id: str, sleep: polling.Sleep = time.sleep, timeout: float = 15 * 60.0
) -> DescribeChangeSetOutputTypeDef:
    """Wait until the change set is computed; NoChanges when empty, DeploymentFailed when it failed or
    is still not computed after ``timeout`` seconds of waiting."""
    waited, delays = 0.0, polling.backoff()
    while True:
        delay = next(delays)
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
            raise DeploymentFailed(
                f"change set {cs['ChangeSetName']} is still {status} after {waited:.0f} s: check it in the console"
            )
        sleep(delay)
        waited += delay


def describe_tree(cfn: CloudFormationClient, change_set_id: str, path: str = "") -> list[ChangeSetNode]:
    """The change set and every nested change set under it, each with all pages merged."""
    pages = list(cfn.get_paginator("describe_change_set").paginate(ChangeSetName=change_set_id))
    first = pages[0]
    node = ChangeSetNode(path, first, [c for page in pages for c in page.get("Changes", [])])
    node.previous_parameters = deployed_parameters(cfn, first.get("StackId"))
    nodes = [node]
    for change in node.changes:
        rc = change.get("ResourceChange", {})
        if rc.get("ChangeSetId"):
            child = f"{path}/{rc['LogicalResourceId']}" if path else rc["LogicalResourceId"]
            nodes += describe_tree(cfn, rc["ChangeSetId"], child)
    return nodes


def execute_change_set(cfn: CloudFormationClient, change_set_id: str) -> None:
    cfn.execute_change_set(ChangeSetName=change_set_id)


def delete_change_set(cfn: CloudFormationClient, change_set_id: str) -> None:
    cfn.delete_change_set(ChangeSetName=change_set_id)


def pending_change_sets(cfn: CloudFormationClient, stack: str) -> list[str]:
    """Names of the stack's change sets that someone could still execute (or that are being computed). Only
    this stack's: a summary naming another stack (the emulator lists every stack's) is not this one's review."""
    summaries = [
        c for page in cfn.get_paginator("list_change_sets").paginate(StackName=stack) for c in page.get("Summaries", [])
    ]
    return [
        c["ChangeSetName"]
        for c in summaries
        if c.get("ExecutionStatus") in ("AVAILABLE", "UNAVAILABLE")
        and c.get("Status") != "FAILED"
        and c.get("StackName", stack) == stack
    ]


def find_change_set(cfn: CloudFormationClient, stack: str, name: str) -> DescribeChangeSetOutputTypeDef:
    """A reviewed change set by name (or ARN) of ``stack``; it must still be executable."""
    try:
        cs = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
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


def stateful_inside_removed(cfn: CloudFormationClient, nodes: list[ChangeSetNode]) -> list[Row]:
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
            template = processed_template(cfn, stack_id)
            existing = {
                s["LogicalResourceId"] for s in resource_summaries(cfn, stack_id) if s.get("PhysicalResourceId")
            }
            for logical_id, res in sorted(template.get("Resources", {}).items()):
                if res["Type"] in STATEFUL_TYPES and logical_id in existing:
                    found.append(
                        Row(path, "Remove", logical_id, res["Type"], "", f"removed with nested stack {row.path}")
                    )
    return found
