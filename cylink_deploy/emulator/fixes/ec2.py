"""EC2: subnets and security-group egress rules."""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.subnets import Subnet

from ..registry import Patch, fix
from ._models import CompatModel, register_models, wrap_classmethod


def _subnet_with_public_ip_setting(
    original: Any,
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    subnet = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    value = cloudformation_json["Properties"].get("MapPublicIpOnLaunch", False)
    subnet.map_public_ip_on_launch = str(value).lower() == "true"
    return subnet


@fix
def subnet_public_ip_on_launch(patch: Patch) -> None:
    """moto ignores a subnet's MapPublicIpOnLaunch (it maps public IPs in the first subnet of an AZ
    instead); CloudFormation applies the property, default false."""
    wrap_classmethod(patch, Subnet, "create_from_cloudformation_json", _subnet_with_public_ip_setting)


class SecurityGroupEgress(CompatModel):
    TYPE = "AWS::EC2::SecurityGroupEgress"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        ranges = [{"CidrIp": p["CidrIp"], "Description": p.get("Description")}] if p.get("CidrIp") else []
        groups = [{"GroupId": p["DestinationSecurityGroupId"]}] if p.get("DestinationSecurityGroupId") else []
        ec2_backends[account_id][region_name].authorize_security_group_egress(
            p["GroupId"], p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), ranges, source_groups=groups
        )
        return cls(f"{p['GroupId']}-egress-{p.get('FromPort')}")


@fix
def security_group_egress(patch: Patch) -> None:
    """``AWS::EC2::SecurityGroupEgress`` is ignored: the rule is never added to the group."""
    register_models(patch, SecurityGroupEgress)
