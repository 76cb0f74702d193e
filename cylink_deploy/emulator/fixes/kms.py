"""KMS keys."""

from __future__ import annotations

import json

from moto.kms.models import Key

from ..registry import Patch, fix
from ._models import Properties, before_create


def _policy_text(props: Properties) -> Properties:
    if isinstance(props.get("KeyPolicy"), dict):
        props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
    return props


@fix
def kms_key_policy_object(patch: Patch) -> None:
    """A KMS key whose KeyPolicy is a JSON object (as templates write it) is stored as a dict, which
    breaks DescribeKey/GetKeyPolicy: store it as the JSON text KMS keeps."""
    before_create(patch, Key, _policy_text)


def _kms_tags(props: Properties) -> Properties:
    if props.get("Tags"):
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t for t in props["Tags"]]
    return props


@fix
def kms_key_tags(patch: Patch) -> None:
    """A KMS key with Tags (CloudFormation's Key/Value) fails to create: moto hands them to KMS's tagger,
    which expects TagKey/TagValue. Translate them, so the key carries its tags as in AWS."""
    before_create(patch, Key, _kms_tags)
