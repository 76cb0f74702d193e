"""CloudFormation stack APIs and nested stacks."""
from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from ..registry import Patch, fix


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
