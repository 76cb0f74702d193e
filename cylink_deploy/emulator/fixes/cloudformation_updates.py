"""Stack updates: resources whose Condition decides whether they exist, and types moto cannot update."""

from __future__ import annotations

import re
from typing import Any, Callable

from moto.cloudformation import parsing
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import ResourceMap

from ..registry import Patch, fix


def _condition_aware(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: ResourceMap, account_id: str, region_name: str
    ) -> Any:
        condition = resource_json.get("Condition")
        existing = resources_map._parsed_resources.get(logical_id)
        if condition and not resources_map.lazy_condition_map[condition]:
            if existing is not None:  # its condition stopped holding: CloudFormation deletes it
                resources_map._delete_resource(existing, resource_json)
            return None  # false before and after: not a change
        if existing is None:  # its condition started holding: created, not updated
            return parsing.parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        model = parsing.resource_class_from_type(resource_json["Type"])
        if model is None or hasattr(model.update_from_cloudformation_json, "__isabstractmethod__"):
            return existing  # moto cannot update this type: keep the resource instead of dropping it
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    return parse_and_update_resource


def _reconciling_conditions(original: Callable[..., None]) -> Callable[..., None]:
    def update(self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        original(self, template, parameters)
        for name in [n for n, value in self._parsed_resources.items() if value is None and not n.startswith("AWS::")]:
            del self._parsed_resources[
                name
            ]  # a resource that does not exist is not listed as None (AWS::NoValue stays)
        for (
            name,
            resource_json,
        ) in self._resource_json_map.items():  # conditions flipped by a parameter no property uses
            condition = resource_json.get("Condition")
            if not condition:
                continue
            existing = self._parsed_resources.get(name)
            if self.lazy_condition_map[condition] and existing is None:
                _ = self[name]  # the lazy map creates it
            elif not self.lazy_condition_map[condition] and existing is not None:
                self._delete_resource(existing, resource_json)
                del self._parsed_resources[name]

    return update


def _existing_resources(self: Stack) -> list[Any]:
    return [resource for resource in self.resource_map.values() if resource is not None]


@fix
def updates_respect_conditions(patch: Patch) -> None:
    """moto updates every resource a changed parameter reaches, even one whose Condition is false and
    that was never created (its update gets ``original_resource=None``: HTTP 500, stack half updated);
    drops a resource whose type it cannot update (a log group) from the stack; and lists a resource
    whose Condition is false as a blank row. Update only what exists; create what a Condition turns on,
    delete what it turns off; keep what moto cannot update; list only what exists (``AWS::NoValue`` is a
    pseudo parameter, not a resource: it stays, so a later update can still resolve it)."""
    patch(parsing, "parse_and_update_resource", _condition_aware(parsing.parse_and_update_resource))
    patch(ResourceMap, "update", _reconciling_conditions(ResourceMap.update))
    patch(Stack, "stack_resources", property(_existing_resources))


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)[.}]")


def _references(node: Any) -> set[str]:
    """Names a template fragment uses: Ref, Fn::GetAtt and the ${Name} / ${Name.Attr} of Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= set(_SUB_NAME.findall(text)) if isinstance(text, str) else set()
                found |= _references(value[1]) if isinstance(value, list) and len(value) > 1 else set()
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _spread(diff: dict[str, Any], old: dict[str, Any], new: dict[str, Any], changed: set[str]) -> None:
    """Add to ``diff["Modify"]`` every resource that uses anything in ``changed``, transitively."""
    grew = True
    while grew:
        grew = False
        for name in new:
            if name in old and name not in changed and _references(new[name]) & changed:
                diff["Modify"].append(name)
                changed.add(name)
                grew = True


def _following_references(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def build_resource_diff(
        self: ResourceMap, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        diff = original(self, other_template, parameters)
        old, new = self._resource_json_map, other_template["Resources"]
        changed = (
            {p for p in parameters or {} if self.input_parameters.get(p) != (parameters or {})[p]}
            | set(diff["Modify"])
            | set(diff["Add"])
        )
        _spread(diff, old, new, changed)
        return diff

    return build_resource_diff


@fix
def changes_reach_dependents(patch: Patch) -> None:
    """moto sees a changed parameter only where a resource uses it through ``Ref``, and never updates
    what uses a changed resource: a new ImageTag written with ``Fn::Sub`` into a task definition
    changes nothing, and a service keeps the old task definition. Follow Ref, GetAtt and Fn::Sub,
    transitively, as CloudFormation's dependency graph does."""
    patch(ResourceMap, "build_resource_diff", _following_references(ResourceMap.build_resource_diff))


def _if_conditions(node: Any) -> set[str]:
    """The conditions a template fragment chooses by with ``Fn::If``."""
    if isinstance(node, list):
        return set().union(*(_if_conditions(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["Fn::If"][0]} if isinstance(node.get("Fn::If"), list) and node["Fn::If"] else set()
    return found.union(*(_if_conditions(value) for value in node.values()))


def _condition_values(resource_map: ResourceMap) -> dict[str, bool]:
    conditions = (resource_map._template or {}).get("Conditions") or {}
    return {name: bool(resource_map.lazy_condition_map[name]) for name in conditions}


def _new_condition_values(self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, bool]:
    stack_name = self._parsed_resources["AWS::StackName"]
    new = ResourceMap(self.stack_id, stack_name, parameters, {}, self._region_name, self._account_id, template, None)
    new.load_mapping()
    new.load_parameters()
    new.load_conditions()
    return _condition_values(new)


def _following_conditions(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def build_resource_diff(
        self: ResourceMap, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        diff = original(self, other_template, parameters)
        if not parameters or not getattr(self, "lazy_condition_map", None):
            return diff  # no values to evaluate with, or nothing created yet
        before = _condition_values(self)
        flipped = {
            name
            for name, value in _new_condition_values(self, other_template, parameters).items()
            if before.get(name) != value
        }
        old, new = self._resource_json_map, other_template["Resources"]
        changed = set(diff["Modify"]) | set(diff["Add"])
        for name in new:
            if name in old and name not in changed and _if_conditions(new[name]) & flipped:
                diff["Modify"].append(name)
                changed.add(name)
        _spread(diff, old, new, changed)
        return diff

    return build_resource_diff


@fix
def changes_follow_conditions(patch: Patch) -> None:
    """A property chosen with ``Fn::If`` on a condition that a new parameter value flips changes nothing:
    the first release of a stack created without an image tag left the monitoring stack's
    ``ServicesDeployed`` at ``false`` (the root's ``Fn::If [HasImageTag, ...]``), so the ECS alarms never
    appeared. CloudFormation evaluates ``Fn::If`` with the new values and updates what it changes."""
    patch(ResourceMap, "build_resource_diff", _following_conditions(ResourceMap.build_resource_diff))
