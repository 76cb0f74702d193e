"""ElastiCache: the Redis replication group, its subnet group, and its nodes."""

from __future__ import annotations

from typing import Any

from moto.elasticache.models import ReplicationGroup as MotoReplicationGroup
from moto.elasticache.models import elasticache_backends

from ..registry import Patch, fix
from ._models import CompatModel, lowercase_name, register_models

# create_replication_group's arguments that templates here never set.
_UNSET = (
    "global_replication_group_id primary_cluster_id preferred_cache_cluster_azs num_node_groups "
    "replicas_per_node_group "
    "node_group_configuration cache_parameter_group_name cache_security_group_names snapshot_arns snapshot_name "
    "notification_topic_arn kms_key_id user_group_ids log_delivery_configurations data_tiering_enabled network_type "
    "ip_discovery transit_encryption_mode cluster_mode serverless_cache_snapshot_name tags"
).split()


class CacheSubnetGroup(CompatModel):
    TYPE = "AWS::ElastiCache::SubnetGroup"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        group_name = p.get("CacheSubnetGroupName") or lowercase_name(name, 255)
        elasticache_backends[account_id][region_name].create_cache_subnet_group(
            group_name, p.get("Description", ""), p["SubnetIds"], None
        )
        return cls(group_name)

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        elasticache_backends[account_id][region_name].cache_subnet_groups.pop(physical_id, None)


class ReplicationGroup(CompatModel):
    TYPE = "AWS::ElastiCache::ReplicationGroup"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        rg_id = p.get("ReplicationGroupId") or lowercase_name(name, 40)
        group = elasticache_backends[account_id][region_name].create_replication_group(
            replication_group_id=rg_id,
            replication_group_description=p["ReplicationGroupDescription"],
            automatic_failover_enabled=p.get("AutomaticFailoverEnabled"),
            multi_az_enabled=p.get("MultiAZEnabled"),
            num_cache_clusters=int(p.get("NumCacheClusters", 1)),
            cache_node_type=p.get("CacheNodeType"),
            engine=p.get("Engine", "redis"),
            engine_version=p.get("EngineVersion"),
            cache_subnet_group_name=p.get("CacheSubnetGroupName"),
            security_group_ids=p.get("SecurityGroupIds"),
            preferred_maintenance_window=p.get("PreferredMaintenanceWindow"),
            port=int(p.get("Port", 6379)),
            auto_minor_version_upgrade=p.get("AutoMinorVersionUpgrade"),
            snapshot_retention_limit=int(p.get("SnapshotRetentionLimit", 0)),
            snapshot_window=p.get("SnapshotWindow"),
            auth_token=p.get("AuthToken"),
            transit_encryption_enabled=p.get("TransitEncryptionEnabled"),
            at_rest_encryption_enabled=p.get("AtRestEncryptionEnabled"),
            **dict.fromkeys(_UNSET),
        )
        node_group = group.node_groups[0]
        endpoints = {
            f"{kind}EndPoint.Address": node_group[f"{kind.lower()}_endpoint_address"] for kind in ("Primary", "Reader")
        }
        ports = {f"{kind}EndPoint.Port": str(node_group["port"]) for kind in ("Primary", "Reader")}
        return cls(rg_id, {**endpoints, **ports})

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = elasticache_backends[account_id][region_name]
        if physical_id in backend.replication_groups:
            if resource_json.get("DeletionPolicy") == "Snapshot":  # the final snapshot CloudFormation takes
                backend.create_snapshot(f"{physical_id}-final", physical_id, None, None, None)
            backend.delete_replication_group(physical_id, None)


@fix
def elasticache_redis(patch: Patch) -> None:
    """``AWS::ElastiCache::ReplicationGroup`` and ``SubnetGroup`` are ignored (``GetAtt`` of the
    endpoint resolves to nothing); a group with DeletionPolicy Snapshot gets no final snapshot."""
    register_models(patch, CacheSubnetGroup, ReplicationGroup)


def _nodes_as_asked(original: Any) -> Any:
    def set_members(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto overwrites num_cache_clusters with replicas_per_node_group + 1 (or 1): a group of
        # NumCacheClusters 2 and no ReplicasPerNodeGroup got one node. The two ask the same thing.
        if not kwargs.get("replicas_per_node_group") and kwargs.get("num_cache_clusters"):
            kwargs["replicas_per_node_group"] = int(kwargs["num_cache_clusters"]) - 1
        original(self, *args, **kwargs)

    return set_members


@fix
def elasticache_node_count(patch: Patch) -> None:
    """A replication group created with ``NumCacheClusters: 2`` (cluster mode disabled) shows one node:
    moto ignores the count. ElastiCache creates that many clusters, one primary and the rest replicas
    ("NumCacheClusters: The number of clusters this replication group initially has",
    https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html)."""
    patch(
        MotoReplicationGroup,
        "_set_node_members_clusters_disabled",
        _nodes_as_asked(MotoReplicationGroup._set_node_members_clusters_disabled),
    )
