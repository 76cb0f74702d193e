"""CloudFormation stack APIs and nested stacks."""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import get_stack_from_s3_url
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.utilities.utils import get_partition

from ..registry import Patch, fix
from ._models import wrap_classmethod


def _stack_get_cfn_attribute(self: Stack, attr: str) -> Any:
    if attr.startswith("Outputs."):
        output = self.output_map.get(attr.removeprefix("Outputs."))
        if output is not None:
            return output.value
    raise UnformattedGetAttTemplateException()


@fix
def nested_stack_outputs(patch: Patch) -> None:
    """``Fn::GetAtt [Child, Outputs.X]`` fails with HTTP 500: moto's Stack has no get_cfn_attribute."""
    patch(Stack, "get_cfn_attribute", _stack_get_cfn_attribute)


def _update_termination_protection(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
    return ActionResult({"StackId": stack.stack_id})


@fix
def update_termination_protection(patch: Patch) -> None:
    """The UpdateTerminationProtection API is missing (HTTP 500); deploy.py uses it for production."""
    patch(CloudFormationResponse, "update_termination_protection", _update_termination_protection)


def _update_nested_in_place(
    original: Any,
    cls: type,
    original_resource: Stack,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Stack:
    props = cloudformation_json["Properties"]
    template = get_stack_from_s3_url(props["TemplateURL"], account_id=account_id, partition=get_partition(region_name))
    original_resource.update(template, parameters=props.get("Parameters", {}))  # its events, resources, outputs, status
    return original_resource


@fix
def nested_stack_updates_in_place(patch: Patch) -> None:
    """moto updates a nested stack by deleting it and creating a new one: retained, named resources
    (log groups) survive the delete, the re-create fails with ResourceAlreadyExists and leaves an orphan
    CREATE_IN_PROGRESS stack that breaks every DescribeStacks. Update the child stack in place (its
    template, parameters and resources), keeping its stack ID, as CloudFormation does."""
    wrap_classmethod(patch, Stack, "update_from_cloudformation_json", _update_nested_in_place)


def _deleting_except_retained(original: Callable[[ResourceMap], None]) -> Callable[[ResourceMap], None]:
    def delete(self: ResourceMap) -> None:
        kept = [r for r in self._resource_json_map.values() if r.get("DeletionPolicy") == "RetainExceptOnCreate"]
        for resource in kept:  # moto keeps only "Retain": a completed stack's delete keeps these too
            resource["DeletionPolicy"] = "Retain"
        try:
            original(self)
        finally:
            for resource in kept:
                resource["DeletionPolicy"] = "RetainExceptOnCreate"

    return delete


@fix
def retain_except_on_create(patch: Patch) -> None:
    """``DeletionPolicy: RetainExceptOnCreate`` is ignored, so deleting a stack deletes the resource (its
    logs, its images): keep it, as CloudFormation does for every operation but a failed create."""
    patch(ResourceMap, "delete", _deleting_except_retained(ResourceMap.delete))


def _stamping_updates(original: Callable[..., None]) -> Callable[..., None]:
    def add_stack_event(self: Any, resource_status: str, *args: Any, **kwargs: Any) -> None:
        if resource_status == "UPDATE_IN_PROGRESS":
            # DescribeStacks serialises LastUpdatedTime from this attribute (botocore's name for it)
            self.last_updated_time = utcnow()
        original(self, resource_status, *args, **kwargs)

    return add_stack_event


@fix
def stacks_record_last_update(patch: Patch) -> None:
    """``LastUpdatedTime`` is never set, so ``status`` showed the creation time as the last update.
    CloudFormation sets it when an update starts ("The time the stack was last updated. This field will
    only be returned if the stack has been updated at least once",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html)."""
    patch(Stack, "_add_stack_event", _stamping_updates(Stack._add_stack_event))
