"""Per-resource stack events."""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation import parsing
from moto.cloudformation.models import Event, cloudformation_backends

from ..registry import Patch, fix


def _record(
    resources_map: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    physical: Any = None,
    reason: str | None = None,
) -> None:
    backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
    stack = backend.stacks.get(resources_map.stack_id)
    if stack is None:
        return
    physical_id = getattr(physical, "physical_resource_id", None) or ""
    stack.events.append(Event(stack.stack_id, stack.name, logical_id, physical_id, resource_type, status, reason, None))


def _recording(original: Callable[..., Any], action: str) -> Callable[..., Any]:
    def wrapper(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        _record(resources_map, logical_id, resource_json["Type"], f"{action}_IN_PROGRESS")
        try:
            resource = original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            _record(resources_map, logical_id, resource_json["Type"], f"{action}_FAILED", reason=str(exc))
            raise
        _record(resources_map, logical_id, resource_json["Type"], f"{action}_COMPLETE", resource)
        return resource

    return wrapper


@fix
def resource_events(patch: Patch) -> None:
    """moto records only stack-level events, so nothing shows which resource of which nested stack is
    being created or updated: record CREATE/UPDATE IN_PROGRESS, COMPLETE and FAILED per resource, as
    CloudFormation does (a nested stack's events carry its physical ID, by which it is followed)."""
    patch(parsing, "parse_and_create_resource", _recording(parsing.parse_and_create_resource, "CREATE"))
    patch(parsing, "parse_and_update_resource", _recording(parsing.parse_and_update_resource, "UPDATE"))
