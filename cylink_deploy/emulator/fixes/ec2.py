"""EC2: subnets, security-group egress rules, and the egress a group declares."""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroup
from moto.ec2.models.subnets import Subnet

from ..registry import Patch, fix
from ._models import CompatModel, Properties, after_create, register_models


def _subnet_public_ip_setting(subnet: Subnet, props: Properties, account_id: str, region_name: str) -> None:
    subnet.map_public_ip_on_launch = str(props.get("MapPublicIpOnLaunch", False)).lower() == "true"


@fix
def subnet_public_ip_on_launch(patch: Patch) -> None:
    """moto ignores a subnet's MapPublicIpOnLaunch (it maps public IPs in the first subnet of an AZ
    instead); CloudFormation applies the property, default false."""
    after_create(patch, Subnet, _subnet_public_ip_setting)


def _egress(group_id: str, rule: dict[str, Any], account_id: str, region_name: str) -> None:
    """Authorize one egress rule written as CloudFormation writes it (CIDR or destination group)."""
    ranges = [{"CidrIp": rule["CidrIp"], "Description": rule.get("Description")}] if rule.get("CidrIp") else []
    groups = [{"GroupId": rule["DestinationSecurityGroupId"]}] if rule.get("DestinationSecurityGroupId") else []
    ec2_backends[account_id][region_name].authorize_security_group_egress(
        group_id, rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), ranges, source_groups=groups
    )


class SecurityGroupEgress(CompatModel):
    TYPE = "AWS::EC2::SecurityGroupEgress"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        _egress(p["GroupId"], p, account_id, region_name)
        return cls(f"{p['GroupId']}-egress-{p.get('FromPort')}")


@fix
def security_group_egress(patch: Patch) -> None:
    """``AWS::EC2::SecurityGroupEgress`` is ignored: the rule is never added to the group."""
    register_models(patch, SecurityGroupEgress)


def _declared_egress(group: SecurityGroup, props: Properties, account_id: str, region_name: str) -> None:
    declared = props.get("SecurityGroupEgress")
    if declared:
        # AWS::EC2::SecurityGroup, SecurityGroupEgress: "When you specify a VPC security group, Amazon EC2
        # creates a default egress rule that allows egress traffic on all ports and IP protocols to any
        # location. The default rule is removed only when you specify one or more egress rules."
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html
        group.egress_rules = []
        for rule in declared:
            _egress(group.id, rule, account_id, region_name)


@fix
def security_group_declared_egress(patch: Patch) -> None:
    """A group's own ``SecurityGroupEgress`` is ignored: moto keeps the default allow-all rule (0.0.0.0/0)
    and adds none of the declared ones, so a group declared with only the loopback rule ("no egress")
    shows allow-all. CloudFormation replaces the default rule by the declared ones."""
    after_create(patch, SecurityGroup, _declared_egress)
