"""IAM: service-linked roles."""

from __future__ import annotations

from typing import Any

from moto.iam.exceptions import InvalidInput
from moto.iam.models import IAMBackend, Role

from ..registry import Patch, fix

# AWS's own names for the service-linked roles the stacks need; moto derives a name from the service principal
# (AWSServiceRoleForecs, AWSServiceRoleForApplicationAutoScaling_Ecs), which no check written against AWS finds.
# ECS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
# ELB: https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html
# ElastiCache: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/using-service-linked-roles.html
# Application Auto Scaling (ECS): https://docs.aws.amazon.com/autoscaling/application/userguide/
#   application-auto-scaling-service-linked-roles.html
ROLE_NAMES = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "elasticache.amazonaws.com": "AWSServiceRoleForElastiCache",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}


def _named(original: Any) -> Any:
    def create(self: IAMBackend, service_name: str, description: str, suffix: str) -> Role:
        name = ROLE_NAMES.get(service_name)
        if name is None or suffix:
            return original(self, service_name, description, suffix)
        if any(r.name == name for r in self.roles.values()):  # AWS's answer for a role that exists
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, please try a different suffix."
            )
        role = original(self, service_name, description, suffix)
        role.name = name  # the ARN follows the name (Role.arn)
        return role

    return create


@fix
def iam_service_linked_role_names(patch: Patch) -> None:
    """CreateServiceLinkedRole names the role from the service principal (``AWSServiceRoleForecs``), so
    ``GetRole AWSServiceRoleForECS`` (doctor's check) never finds what bootstrap created: use AWS's names."""
    patch(IAMBackend, "create_service_linked_role", _named(IAMBackend.create_service_linked_role))
