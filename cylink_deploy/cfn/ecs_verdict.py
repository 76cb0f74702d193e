"""ECS's verdict on a failed stack operation: whether the root cause was ECS refusing a release
(deployment alarm or circuit breaker) and rolling the service back, and what ECS said about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef
    from mypy_boto3_ecs import ECSClient

# How CloudFormation reports an ECS service whose deployment ECS itself failed (circuit breaker, or a
# deployment alarm in ALARM) and rolled back to the last completed deployment (aws/containers-roadmap#1205):
# the resource fails with this handler message and the stack then rolls back.
ECS_DEPLOYMENT_FAILED = "ECS Deployment Circuit Breaker was triggered"
# What ECS itself says in the service's events (DescribeServices) when it does so.
ECS_FAILURE_EVENTS = ("deployment failed", "rolling back to deployment", "circuit breaker")


@dataclass(frozen=True)
class ReleaseRollback:
    """A release ECS refused: which service, in which stack, and what CloudFormation said."""

    stack: str
    logical_id: str
    service_arn: str
    reason: str


def release_rollback(cause: StackEventTypeDef | None, final_status: str) -> ReleaseRollback | None:
    """The root cause read as a release ECS rolled back: an ECS service update ECS failed (its
    deployment alarms or circuit breaker), after which the stack rolled back too."""
    if not cause or cause.get("ResourceType") != "AWS::ECS::Service" or "ROLLBACK" not in final_status:
        return None
    reason = str(cause.get("ResourceStatusReason"))
    if ECS_DEPLOYMENT_FAILED.lower() not in reason.lower():
        return None
    return ReleaseRollback(cause["StackName"], cause["LogicalResourceId"], cause.get("PhysicalResourceId", ""), reason)


def ecs_failure_events(ecs: ECSClient, service_arn: str, limit: int = 5) -> list[str]:
    """ECS's own account of a failed deployment (newest first): e.g. 'deployment failed: alarm
    detected' and 'rolling back to deployment ...'. The cluster is read from the service ARN."""
    parts = service_arn.split("/")  # arn:...:service/<cluster>/<name>
    if len(parts) != 3:
        return []
    described = ecs.describe_services(cluster=parts[1], services=[service_arn]).get("services", [])
    events = described[0].get("events", []) if described else []
    return [e["message"] for e in events if any(m in e["message"] for m in ECS_FAILURE_EVENTS)][:limit]
