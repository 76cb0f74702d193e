"""Parameters as DescribeStacks and DescribeChangeSet list them."""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import ChangeSet, Stack

from ..registry import Patch, fix

MASK = "****"  # how CloudFormation shows a NoEcho parameter


def _text(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def effective_parameters(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """Every parameter of ``template`` with its value: the one given, else the Default."""
    values = {}
    for key, slot in (template.get("Parameters") or {}).items():
        value = given.get(key, slot.get("Default"))
        if value is not None:
            values[key] = _text(value)
    return values


def _shown(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """The effective parameters with NoEcho values masked."""
    slots = template.get("Parameters") or {}
    return {
        key: MASK if slots[key].get("NoEcho") else value for key, value in effective_parameters(template, given).items()
    }


def _stack_parameter_list(self: Stack) -> list[dict[str, str]]:
    return [
        {"ParameterKey": k, "ParameterValue": v} for k, v in _shown(self.template_dict, self.parameters or {}).items()
    ]


def _change_set_parameters_shown(self: ChangeSet) -> dict[str, str]:
    return _shown(self.template_dict, self.parameters or {})  # moto's DescribeChangeSet turns the dict into the list


class _ChangeSetMeta:
    serialization_aliases = {"Parameters": "parameters_shown"}


@fix
def parameters_listed_with_defaults(patch: Patch) -> None:
    """moto lists a stack's parameters from its resolved map (a NoEcho value shown in clear, numbers
    and lists as moto parsed them) and a change set's only as passed, so a defaulted parameter looks
    removed. CloudFormation lists every parameter of the template, defaults included, as text, NoEcho
    ones as ****: do the same in DescribeStacks and DescribeChangeSet."""
    patch(Stack, "parameter_list", property(_stack_parameter_list))
    patch(ChangeSet, "parameters_shown", property(_change_set_parameters_shown))
    patch(ChangeSet, "Meta", _ChangeSetMeta)
