"""Application Auto Scaling targets (with their scheduled actions) and policies."""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


class ScalableTarget(CompatModel):
    TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        backend = applicationautoscaling_backends[account_id][region_name]
        backend.register_scalable_target(
            p["ServiceNamespace"],
            p["ResourceId"],
            p["ScalableDimension"],
            int(p["MinCapacity"]),
            int(p["MaxCapacity"]),
            p.get("RoleARN"),
            None,
        )
        for action in p.get("ScheduledActions") or []:
            if action is None:  # an Fn::If item that chose AWS::NoValue
                continue
            sizes = action.get("ScalableTargetAction") or {}
            backend.put_scheduled_action(
                p["ServiceNamespace"],
                action["Schedule"],
                action.get("Timezone"),
                action["ScheduledActionName"],
                p["ResourceId"],
                p["ScalableDimension"],
                action.get("StartTime"),
                action.get("EndTime"),
                {k: int(v) for k, v in sizes.items()},  # parameter values arrive as text
            )
        return cls(
            f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}"
        )  # the physical ID CloudFormation gives

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        resource_id, dimension, namespace = physical_id.split("|")
        backend = applicationautoscaling_backends[account_id][region_name]
        if resource_id in backend.targets.get(dimension, {}):
            backend.deregister_scalable_target(namespace, resource_id, dimension)
        # AWS deletes a deregistered target's scheduled actions; moto keeps them
        # (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScheduledAction.html)
        backend.scheduled_actions = [
            a for a in backend.scheduled_actions if (a.resource_id, a.scalable_dimension) != (resource_id, dimension)
        ]


class ScalingPolicy(CompatModel):
    TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
        body = {k: v for k, v in p.items() if k.endswith("PolicyConfiguration")}
        config = body.get("TargetTrackingScalingPolicyConfiguration")
        if config:
            config["TargetValue"] = float(config["TargetValue"])
        policy = applicationautoscaling_backends[account_id][region_name].put_scaling_policy(
            p["PolicyName"], namespace, resource_id, dimension, body, p["PolicyType"]
        )
        return cls(policy.policy_arn)


@fix
def application_autoscaling(patch: Patch) -> None:
    """``AWS::ApplicationAutoScaling::ScalableTarget`` (and its ``ScheduledActions``) and ``ScalingPolicy`` are
    ignored."""
    register_models(patch, ScalableTarget, ScalingPolicy)
