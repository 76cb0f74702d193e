"""Change sets: what they list, and what executing one leaves on the stack."""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.models import Change, ChangeSet, CloudFormationBackend
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from ..registry import Patch, fix
from .cloudformation_parameters import effective_parameters


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
    old_active = (
        _activity(old_template, resource_map.input_parameters, self.stack)
        if old_template.get("Resources")
        else (lambda n: False)
    )
    new_active = _activity(self.template_dict, self.parameters, self.stack)
    by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
    changes = []
    for name in self.template_dict["Resources"]:
        was, now = name in old_template["Resources"] and old_active(name), new_active(name)
        action = (
            "Add"
            if now and not was
            else "Remove"
            if was and not now
            else "Modify"
            if now and name in by_action["Modify"]
            else None
        )
        if action:
            source = old_template if action == "Remove" else self.template_dict
            changes.append(
                Change(action=action, logical_resource_id=name, resource_type=source["Resources"][name]["Type"])
            )
    for name in by_action["Remove"]:
        if old_active(name):
            changes.append(
                Change(action="Remove", logical_resource_id=name, resource_type=old_template["Resources"][name]["Type"])
            )
    return changes


@fix
def change_set_lists_parameter_changes(patch: Patch) -> None:
    """moto's change sets diff templates only: a new parameter value (a new ImageTag) lists no change
    although executing it modifies resources, and resources whose Condition is false are listed as
    added. Diff with the parameters and the conditions they decide, as CloudFormation does."""
    patch(ChangeSet, "diff", _diff)


NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


def _empty_when_unchanged(original: Callable[..., tuple[str, str]]) -> Callable[..., tuple[str, str]]:
    def create_change_set(self: CloudFormationBackend, *args: Any, **kwargs: Any) -> tuple[str, str]:
        change_set_id, stack_id = original(self, *args, **kwargs)
        change_set = self.change_sets[change_set_id]
        stack = self.stacks[stack_id]
        if (
            change_set.change_set_type == "UPDATE"
            and change_set.status != "FAILED"
            and change_set.template_dict == stack.template_dict
            and effective_parameters(change_set.template_dict, change_set.parameters)
            == effective_parameters(stack.template_dict, stack.parameters or {})
        ):
            change_set.status, change_set.execution_status, change_set.status_reason = (
                "FAILED",
                "UNAVAILABLE",
                NO_CHANGES,
            )
            change_set.changes = []
        return change_set_id, stack_id

    return create_change_set


@fix
def unchanged_update_is_empty(patch: Patch) -> None:
    """moto calls an update a change when the parameters *passed* differ, so a parameter first left
    at its default and then kept (UsePreviousValue) makes an executable change set out of nothing.
    Compare the effective values (defaults included): the same template and values give the empty,
    FAILED change set CloudFormation gives."""
    patch(CloudFormationBackend, "create_change_set", _empty_when_unchanged(CloudFormationBackend.create_change_set))


def _tag_changes_count(original: Callable[..., tuple[str, str]]) -> Callable[..., tuple[str, str]]:
    def create_change_set(self: CloudFormationBackend, *args: Any, **kwargs: Any) -> tuple[str, str]:
        change_set_id, stack_id = original(self, *args, **kwargs)
        change_set, stack = self.change_sets[change_set_id], self.stacks[stack_id]
        if change_set.status_reason == NO_CHANGES and (change_set.tags or {}) != (stack.tags or {}):
            change_set.status, change_set.execution_status, change_set.status_reason = (
                "CREATE_COMPLETE",
                "AVAILABLE",
                None,
            )
            resources: list[Any] = list(stack.stack_resources)  # moto's parser sets these two on each
            change_set.changes = [
                Change(action="Modify", logical_resource_id=r.logical_resource_id, resource_type=r.cf_resource_type)
                for r in resources
                if hasattr(r, "logical_resource_id")
            ]
        return change_set_id, stack_id

    return create_change_set


@fix
def tag_only_update_is_a_change(patch: Patch) -> None:
    """moto compares only the template and parameters, so an update that changes only the stack's tags
    (a tag edited in the parameter file) is the empty "didn't contain changes" change set and the new
    tags never reach the stack. CloudFormation propagates stack tags to the resources and lists them as
    Modify (ResourceChange ``Scope``: "a change in the resource attribute's Metadata, Properties, or
    Tags", https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html);
    here every resource of the stack is listed."""
    patch(CloudFormationBackend, "create_change_set", _tag_changes_count(CloudFormationBackend.create_change_set))


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


def _obsoleting_others(backend: CloudFormationBackend, stack_id: str, keep: ChangeSet | None = None) -> None:
    for other in backend.change_sets.values():
        if other is not keep and other.stack_id == stack_id and other.execution_status == "AVAILABLE":
            other.execution_status = "OBSOLETE"


def _executing_only_available(original: Callable[..., None]) -> Callable[..., None]:
    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.stack_id}] cannot be executed in its current execution status of "
                f"[{change_set.execution_status}]"
            )
        original(self, change_set_name, stack_name)
        _obsoleting_others(self, change_set.stack_id, keep=change_set)

    return execute_change_set


def _update_obsoleting(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_stack(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        stack = original(self, name, *args, **kwargs)
        _obsoleting_others(self, stack.stack_id)
        return stack

    return update_stack


@fix
def stale_change_sets_become_obsolete(patch: Patch) -> None:
    """moto keeps every change set executable, so an old one can be executed over a newer update (and
    one already executed can run again). CloudFormation marks a stack's other change sets OBSOLETE
    once one is executed or the stack is updated, and refuses to execute any change set that is not
    AVAILABLE with InvalidChangeSetStatus."""
    patch(
        CloudFormationBackend, "execute_change_set", _executing_only_available(CloudFormationBackend.execute_change_set)
    )
    patch(CloudFormationBackend, "update_stack", _update_obsoleting(CloudFormationBackend.update_stack))


def _list_change_sets(self: CloudFormationResponse) -> ActionResult:
    # ListChangeSets: "Returns the ID and status of each active change set for a stack" -- StackName
    # (name or ID) is required. https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListChangeSets.html
    stack = self._get_param("StackName")
    summaries = [cs for cs in self.cloudformation_backend.list_change_sets() if stack in (cs.stack_name, cs.stack_id)]
    return ActionResult({"Summaries": summaries})


@fix
def list_change_sets_of_one_stack(patch: Patch) -> None:
    """``ListChangeSets --stack-name X`` returns every stack's change sets, so a deploy of one stack saw
    another stack's change set under review as its own. List only that stack's, as CloudFormation does."""
    patch(CloudFormationResponse, "list_change_sets", _list_change_sets)
