"""Intrinsic functions."""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation import parsing
from moto.ec2.models import ec2_backends

from ..registry import Patch, fix


def _clean_json_with_azs(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and "Fn::GetAZs" in resource_json:
            region = resource_json["Fn::GetAZs"] or resources_map._region_name
            zones = ec2_backends[resources_map._account_id][region].describe_availability_zones()
            return sorted(z.name for z in zones)
        return original(resource_json, resources_map)

    return clean_json


@fix
def get_azs_lists_the_regions_zones(patch: Patch) -> None:
    """``Fn::GetAZs`` returns <region>a-d in moto, zones Tokyo does not have (1b) and EC2 then refuses;
    return the region's zones as EC2 reports them (ap-northeast-1a, 1c, 1d), as AWS does."""
    patch(
        parsing, "clean_json", _clean_json_with_azs(parsing.clean_json)
    )  # recursive calls look the name up in the module
