"""Cylink's custom checkov checks for CloudFormation: controls checkov 3.3 checks only for Terraform.

Loaded with ``checkov --external-checks-dir policies/checkov``. Each check has a failing fixture in
tests/policy_fixtures/ and must pass on the built templates (tests/test_policy_gate.py).
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

ROOT_USERS = {"", "root", "0", "0:0", "root:root"}


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _parameterised(value: Any) -> bool:
    """A Ref to a parameter: the environment decides (root defaults and prod values are tested)."""
    return isinstance(value, dict) and {k for k in value if not str(k).startswith("__")} == {
        "Ref"
    }  # checkov adds __startline__


def _containers(conf: dict[str, Any]) -> list[dict[str, Any]]:
    return conf.get("Properties", {}).get("ContainerDefinitions") or []


class _Check(BaseResourceCheck):
    """Declarative base: subclasses set ID, NAME, TYPES, CATEGORY and implement ``ok``."""

    ID = NAME = ""
    TYPES: tuple[str, ...] = ()
    CATEGORY = CheckCategories.GENERAL_SECURITY

    def __init__(self) -> None:
        super().__init__(name=self.NAME, id=self.ID, categories=[self.CATEGORY], supported_resources=list(self.TYPES))

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED if self.ok(conf.get("Properties") or {}, conf) else CheckResult.FAILED

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class AlbDeletionProtection(_Check):
    ID, NAME, TYPES = (
        "CKV_CYL_1",
        "Ensure the ALB has deletion protection",
        ("AWS::ElasticLoadBalancingV2::LoadBalancer",),
    )

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        attrs = {a.get("Key"): a.get("Value") for a in props.get("LoadBalancerAttributes") or []}
        value = attrs.get("deletion_protection.enabled")
        return _is_true(value) or _parameterised(value)


class EcsReadOnlyRoot(_Check):
    ID, NAME, TYPES = (
        "CKV_CYL_2",
        "Ensure ECS containers have a read-only root filesystem",
        ("AWS::ECS::TaskDefinition",),
    )

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        return bool(_containers(conf)) and all(_is_true(c.get("ReadonlyRootFilesystem")) for c in _containers(conf))


class EcsNonRootUser(_Check):
    ID, NAME, TYPES = "CKV_CYL_3", "Ensure ECS containers run as a non-root user", ("AWS::ECS::TaskDefinition",)

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        return bool(_containers(conf)) and all(
            str(c.get("User", "")).strip() not in ROOT_USERS for c in _containers(conf)
        )


class EcsNotPrivileged(_Check):
    ID, NAME, TYPES = "CKV_CYL_4", "Ensure ECS containers are not privileged", ("AWS::ECS::TaskDefinition",)

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        return not any(_is_true(c.get("Privileged")) for c in _containers(conf))


class EcsLogConfiguration(_Check):
    ID, NAME, TYPES = "CKV_CYL_5", "Ensure every ECS container has a log configuration", ("AWS::ECS::TaskDefinition",)
    CATEGORY = CheckCategories.LOGGING

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        return bool(_containers(conf)) and all(
            (c.get("LogConfiguration") or {}).get("LogDriver") for c in _containers(conf)
        )


class RedisAutomaticFailover(_Check):
    ID, NAME, TYPES = (
        "CKV_CYL_6",
        "Ensure ElastiCache replication groups fail over automatically",
        ("AWS::ElastiCache::ReplicationGroup",),
    )
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        value = props.get("AutomaticFailoverEnabled")
        if isinstance(value, dict) and "Fn::If" in value:  # on whenever the node count allows it
            return _is_true(value["Fn::If"][1])
        return _is_true(value)


class RedisSnapshotRetention(_Check):
    ID, NAME, TYPES = (
        "CKV_CYL_7",
        "Ensure ElastiCache keeps automatic snapshots",
        ("AWS::ElastiCache::ReplicationGroup",),
    )
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        value = props.get("SnapshotRetentionLimit")
        if _parameterised(value):
            return True
        try:
            return int(value) > 0
        except (TypeError, ValueError):
            return False


class SubnetNoPublicIp(_Check):
    ID, NAME, TYPES = "CKV_CYL_8", "Ensure subnets do not assign public IPs on launch", ("AWS::EC2::Subnet",)
    CATEGORY = CheckCategories.NETWORKING

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        return not _is_true(props.get("MapPublicIpOnLaunch"))


class S3TlsOnly(_Check):
    ID, NAME, TYPES = "CKV_CYL_9", "Ensure S3 bucket policies deny requests without TLS", ("AWS::S3::BucketPolicy",)
    CATEGORY = CheckCategories.ENCRYPTION

    def ok(self, props: dict[str, Any], conf: dict[str, Any]) -> bool:
        statements = (props.get("PolicyDocument") or {}).get("Statement") or []
        for s in statements if isinstance(statements, list) else [statements]:
            cond = (s.get("Condition") or {}).get("Bool") or {}
            if s.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport", "")).lower() == "false":
                return True
        return False


CHECKS = [
    c()
    for c in (
        AlbDeletionProtection,
        EcsReadOnlyRoot,
        EcsNonRootUser,
        EcsNotPrivileged,
        EcsLogConfiguration,
        RedisAutomaticFailover,
        RedisSnapshotRetention,
        SubnetNoPublicIp,
        S3TlsOnly,
    )
]
