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
            p.get("Name") or name, p["VisibilityConfig"], p["DefaultAction"], p["Scope"], p.get("Description", ""),
            [], p.get("Rules", []), None, None, None, None, None,
        )
        return cls(f"{acl.name}|{acl.id}|{p['Scope']}", {"Arn": acl.arn, "Id": acl.id})


class WebAclAssociation(CompatModel):
    TYPE = "AWS::WAFv2::WebACLAssociation"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        wafv2_backends[account_id][region_name].associate_web_acl(p["WebACLArn"], p["ResourceArn"])
        return cls(f"{p['WebACLArn']}|{p['ResourceArn']}")


class LoggingConfiguration(CompatModel):
    TYPE = "AWS::WAFv2::LoggingConfiguration"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        wafv2_backends[account_id][region_name].put_logging_configuration(p["ResourceArn"], p["LogDestinationConfigs"], None, False, {})
        return cls(p["ResourceArn"])


@fix
def wafv2_web_acl(patch: Patch) -> None:
    """``AWS::WAFv2::WebACL``, ``WebACLAssociation`` and ``LoggingConfiguration`` are ignored."""
    register_models(patch, WebAcl, WebAclAssociation, LoggingConfiguration)
