"""Elastic Load Balancing v2: attributes given in templates."""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup, elbv2_backends

from ..registry import Patch, fix
from ._models import Properties, after_create, wrap_classmethod


def _get_cfn_attribute_with_zone(
    original: Callable[[FakeLoadBalancer, str], Any],
) -> Callable[[FakeLoadBalancer, str], Any]:
    def get_cfn_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "CanonicalHostedZoneID":
            return self.canonical_hosted_zone_id
        return original(self, attribute_name)

    return get_cfn_attribute


@fix
def alb_canonical_hosted_zone(patch: Patch) -> None:
    """``Fn::GetAtt [LoadBalancer, CanonicalHostedZoneID]`` is not implemented, so alias records get
    garbage: return the zone ID the emulated ALB itself reports."""
    patch(FakeLoadBalancer, "get_cfn_attribute", _get_cfn_attribute_with_zone(FakeLoadBalancer.get_cfn_attribute))


def _applying(prop: str, modify: str) -> Callable[[Any, Properties, str, str], None]:
    """After creation, apply the ``prop`` key/value list through the backend's ``modify``."""

    def apply(resource: Any, props: Properties, account_id: str, region_name: str) -> None:
        attrs = {a["Key"]: str(a["Value"]) for a in props.get(prop, [])}
        if attrs:
            getattr(elbv2_backends[account_id][region_name], modify)(resource.arn, attrs)

    return apply


@fix
def elbv2_attributes(patch: Patch) -> None:
    """moto ignores LoadBalancerAttributes and TargetGroupAttributes given in a template (access logs,
    deletion protection, idle timeout, stickiness, deregistration delay): apply them after creation."""
    after_create(patch, FakeLoadBalancer, _applying("LoadBalancerAttributes", "modify_load_balancer_attributes"))
    after_create(patch, FakeTargetGroup, _applying("TargetGroupAttributes", "modify_target_group_attributes"))


def _full_name_of_load_balancer(
    original: Callable[[FakeLoadBalancer, str], Any],
) -> Callable[[FakeLoadBalancer, str], Any]:
    def get_cfn_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]
        return original(self, attribute_name)

    return get_cfn_attribute


def _target_group_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
    if attribute_name == "TargetGroupFullName":
        return self.arn.rsplit(":", 1)[1]
    raise UnformattedGetAttTemplateException()  # moto's target group has no attributes at all


@fix
def elbv2_full_names(patch: Patch) -> None:
    """``Fn::GetAtt [LoadBalancer, LoadBalancerFullName]`` raises and target groups have no
    ``TargetGroupFullName``: return app/<name>/<id> and targetgroup/<name>/<id> from the ARNs, as AWS
    does (the CloudWatch dimensions the monitoring stack alarms on)."""
    patch(FakeLoadBalancer, "get_cfn_attribute", _full_name_of_load_balancer(FakeLoadBalancer.get_cfn_attribute))
    patch(FakeTargetGroup, "get_cfn_attribute", _target_group_attribute)


def _updating_attributes(
    original: Any,
    cls: type,
    original_resource: FakeLoadBalancer,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> FakeLoadBalancer:
    attrs = {a["Key"]: str(a["Value"]) for a in cloudformation_json["Properties"].get("LoadBalancerAttributes", [])}
    if attrs:
        elbv2_backends[account_id][region_name].modify_load_balancer_attributes(original_resource.arn, attrs)
    return original_resource


@fix
def elbv2_attribute_updates(patch: Patch) -> None:
    """moto has no update for a load balancer, so a stack update's LoadBalancerAttributes (lifting deletion
    protection before a delete: AlbDeletionProtection=false) never reach it: apply them to the load balancer,
    as CloudFormation does without replacing it (LoadBalancerAttributes: update requires no interruption)."""
    wrap_classmethod(patch, FakeLoadBalancer, "update_from_cloudformation_json", _updating_attributes)
