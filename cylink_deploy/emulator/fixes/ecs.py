"""ECS cluster capacity providers."""
from __future__ import annotations

from typing import Any

from moto.ecs.models import ecs_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


class CapacityProviderAssociations(CompatModel):
    TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        strategy = [
            {"capacityProvider": s["CapacityProvider"], "weight": int(s.get("Weight", 0)), "base": int(s.get("Base", 0))}
            for s in p["DefaultCapacityProviderStrategy"]
        ]
        ecs_backends[account_id][region_name].put_cluster_capacity_providers(p["Cluster"], p["CapacityProviders"], strategy)
        return cls(p["Cluster"])


@fix
def ecs_capacity_providers(patch: Patch) -> None:
    """``AWS::ECS::ClusterCapacityProviderAssociations`` is ignored: the cluster has no providers."""
    register_models(patch, CapacityProviderAssociations)
