"""S3 bucket policies: their conditions, and the CloudFormation resource."""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket, s3_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models

# What the emulator knows of each request: it stands in for AWS's HTTPS endpoints, so it counts as TLS.
REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _conditions_hold(condition: dict[str, Any] | None) -> bool:
    """Evaluate Bool/StringEquals conditions against REQUEST_CONTEXT (other operators: not holding)."""
    for operator, checks in (condition or {}).items():
        if operator not in ("Bool", "StringEquals"):
            return False
        for key, expected in checks.items():
            values = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if REQUEST_CONTEXT.get(key.lower()) not in values:
                return False
    return True


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    applicable = [
        {k: v for k, v in s.items() if k != "Condition"} for s in statements if _conditions_hold(s.get("Condition"))
    ]
    if not applicable:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**doc, "Statement": applicable})).is_action_permitted(action, resource)


@fix
def bucket_policy_conditions(patch: Patch) -> None:
    """moto ignores Conditions in bucket policies and treats a conditional statement as applying
    always, so a TLS-only policy (Deny when aws:SecureTransport is false) denies every request:
    apply a statement only when its condition holds."""
    patch(FakeBucket, "get_permission", _get_permission)


class BucketPolicy(CompatModel):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        document = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
        s3_backends[account_id]["aws"].put_bucket_policy(p["Bucket"], document.encode())
        return cls(p["Bucket"])

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = s3_backends[account_id]["aws"]
        if physical_id in backend.buckets:
            backend.delete_bucket_policy(physical_id)


@fix
def s3_bucket_policy(patch: Patch) -> None:
    """``AWS::S3::BucketPolicy`` is ignored: the bucket keeps no policy."""
    register_models(patch, BucketPolicy)
