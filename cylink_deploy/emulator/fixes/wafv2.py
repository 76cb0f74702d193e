"""WAFv2: the web ACL, its association with the ALB, and its logging."""

from __future__ import annotations

from typing import Any

from moto.wafv2.models import wafv2_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


class WebAcl(CompatModel):
    TYPE = "AWS::WAFv2::WebACL"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        acl = wafv2_backends[account_id][region_name].create_web_acl(
            p.get("Name") or name,
            p["VisibilityConfig"],
            p["DefaultAction"],
            p["Scope"],
            p.get("Description", ""),
            [],
            p.get("Rules", []),
            None,
            None,
            None,
            None,
            None,
        )
        return cls(f"{acl.name}|{acl.id}|{p['Scope']}", {"Arn": acl.arn, "Id": acl.id})

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        name, acl_id, scope = physical_id.split("|")
        backend = wafv2_backends[account_id][region_name]
        acl = backend.get_web_acl(None, name, acl_id)
        backend.delete_web_acl(name, scope, acl_id, acl.lock_token)  # a re-created stack can use the name again


class WebAclAssociation(CompatModel):
    TYPE = "AWS::WAFv2::WebACLAssociation"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        wafv2_backends[account_id][region_name].associate_web_acl(p["WebACLArn"], p["ResourceArn"])
        return cls(f"{p['WebACLArn']}|{p['ResourceArn']}")

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        wafv2_backends[account_id][region_name].disassociate_web_acl(physical_id.split("|", 1)[1])


class LoggingConfiguration(CompatModel):
    TYPE = "AWS::WAFv2::LoggingConfiguration"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        wafv2_backends[account_id][region_name].put_logging_configuration(
            p["ResourceArn"], p["LogDestinationConfigs"], None, False, {}
        )
        return cls(p["ResourceArn"])

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = wafv2_backends[account_id][region_name]
        if backend.logging_configurations.get(physical_id):
            backend.delete_logging_configuration(physical_id)


@fix
def wafv2_web_acl(patch: Patch) -> None:
    """``AWS::WAFv2::WebACL``, ``WebACLAssociation`` and ``LoggingConfiguration`` are ignored: created
    (and, when the stack goes, deleted) in moto's WAFv2 backend."""
    register_models(patch, WebAcl, WebAclAssociation, LoggingConfiguration)
