"""KMS keys."""

from __future__ import annotations

import json
from typing import Any

from moto.kms.models import Key

from ..registry import Patch, fix
from ._models import wrap_classmethod


def _key_with_policy_text(
    original: Any,
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    props = cloudformation_json["Properties"]
    if isinstance(props.get("KeyPolicy"), dict):
        props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
    return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


@fix
def kms_key_policy_object(patch: Patch) -> None:
    """A KMS key whose KeyPolicy is a JSON object (as templates write it) is stored as a dict, which
    breaks DescribeKey/GetKeyPolicy: store it as the JSON text KMS keeps."""
    wrap_classmethod(patch, Key, "create_from_cloudformation_json", _key_with_policy_text)


def _key_with_kms_tags(
    original: Any,
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    props = cloudformation_json["Properties"]
    if props.get("Tags"):
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t for t in props["Tags"]]
    return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


@fix
def kms_key_tags(patch: Patch) -> None:
    """A KMS key with Tags (CloudFormation's Key/Value) fails to create: moto hands them to KMS's tagger,
    which expects TagKey/TagValue. Translate them, so the key carries its tags as in AWS."""
    wrap_classmethod(patch, Key, "create_from_cloudformation_json", _key_with_kms_tags)
