"""Change sets: what they list, and what executing one leaves on the stack."""
from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation.models import Change, ChangeSet, CloudFormationBackend
from moto.cloudformation.parsing import ResourceMap

from ..registry import Patch, fix


def _refreshing(original: Callable[..., None]) -> Callable[..., None]:
    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = change_set.parameters
        if change_set.tags is not None:
            stack.tags = change_set.tags
        stack.output_map = stack._create_output_map()

    return execute_change_set


@fix
def change_set_refreshes_stack(patch: Patch) -> None:
    """Executing a change set leaves the stack's template, parameters, tags and Outputs stale (or empty,
    for a CREATE): refresh them from the change set, as CloudFormation does."""
    patch(CloudFormationBackend, "execute_change_set", _refreshing(CloudFormationBackend.execute_change_set))


def _activity(template: dict[str, Any], parameters: dict[str, Any], stack: Any) -> Callable[[str], bool]:
    """Whether each resource of ``template`` exists with these parameters (its Condition holds)."""
    rm = ResourceMap(stack.stack_id, stack.name, parameters, {}, stack.region_name, stack.account_id, template, None)
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()

    def is_active(name: str) -> bool:
        condition = template["Resources"][name].get("Condition")
        return not condition or bool(rm.lazy_condition_map[condition])

    return is_active


def _diff(self: ChangeSet) -> list[Change]:
    resource_map = self.stack.resource_map
    old_template = resource_map._template or {"Resources": {}}
    old_active = _activity(old_template, resource_map.input_parameters, self.stack) if old_template.get("Resources") else (lambda n: False)
    new_active = _activity(self.template_dict, self.parameters, self.stack)
    by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
    changes = []
    for name in self.template_dict["Resources"]:
        was, now = name in old_template["Resources"] and old_active(name), new_active(name)
        action = "Add" if now and not was else "Remove" if was and not now else "Modify" if now and name in by_action["Modify"] else None
        if action:
            source = old_template if action == "Remove" else self.template_dict
            changes.append(Change(action=action, logical_resource_id=name, resource_type=source["Resources"][name]["Type"]))
    for name in by_action["Remove"]:
        if old_active(name):
            changes.append(Change(action="Remove", logical_resource_id=name, resource_type=old_template["Resources"][name]["Type"]))
    return changes


@fix
def change_set_lists_parameter_changes(patch: Patch) -> None:
    """moto's change sets diff templates only: a new parameter value (a new ImageTag) lists no change
    although executing it modifies resources, and resources whose Condition is false are listed as
    added. Diff with the parameters and the conditions they decide, as CloudFormation does."""
    patch(ChangeSet, "diff", _diff)
