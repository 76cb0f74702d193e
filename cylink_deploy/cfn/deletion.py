"""What would stop a stack's delete half-way, found before it starts.

CloudFormation deletes a stack's resources in reverse dependency order and stops at the first that cannot
go: by then the services and DNS records are gone and the stack is DELETE_FAILED, half an environment. So
``delete`` walks the whole tree first and names each obstacle with the parameter or command that lifts it.
Steps take their clients and return data; nothing here prints.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cylink_deploy import aws
from cylink_deploy.cfn.stacks import processed_template, resource_summaries

NESTED_STACK = "AWS::CloudFormation::Stack"
KEPT = ("Retain", "RetainExceptOnCreate")  # a delete leaves these alone: they cannot stop it


@dataclass(frozen=True)
class Blocker:
    """One reason the delete would stop half-way, and what lifts it."""

    what: str
    lift: str

    def __str__(self) -> str:
        return f"{self.what}: {self.lift}"


@dataclass(frozen=True)
class Found:
    """A resource the delete would remove (or snapshot), as the check functions see it."""

    path: str  # Stack/LogicalId
    physical_id: str
    policy: str  # DeletionPolicy: Delete (the default) or Snapshot
    properties: dict[str, Any]


Check = Callable[[aws.Clients, Found, Callable[[str], str]], "Blocker | None"]


def _load_balancer(clients: aws.Clients, found: Found, deploy: Callable[[str], str]) -> Blocker | None:
    """A load balancer with deletion protection cannot be deleted
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#deletion-protection)."""
    attributes = clients.elbv2.describe_load_balancer_attributes(LoadBalancerArn=found.physical_id)["Attributes"]
    if not any(a.get("Key") == "deletion_protection.enabled" and a.get("Value") == "true" for a in attributes):
        return None
    return Blocker(
        f"the load balancer {found.path} has deletion protection on (AlbDeletionProtection=true)",
        f"lift it first with {deploy('AlbDeletionProtection=false')}",
    )


def _bucket(clients: aws.Clients, found: Found, deploy: Callable[[str], str]) -> Blocker | None:
    """CloudFormation deletes only an empty bucket, object versions included
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html)."""
    listed = clients.s3.list_object_versions(Bucket=found.physical_id, MaxKeys=1)
    if not (listed.get("Versions") or listed.get("DeleteMarkers")):
        return None
    return Blocker(
        f"bucket {found.physical_id} ({found.path}) is deleted with the stack and is not empty",
        "empty it first, every object version (the S3 console's Empty action), or retain it (DeletionPolicy)",
    )


def _repository(clients: aws.Clients, found: Found, deploy: Callable[[str], str]) -> Blocker | None:
    """Without EmptyOnDelete a repository must be empty to be deleted
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-repository.html)."""
    if str(found.properties.get("EmptyOnDelete", "false")).lower() == "true":
        return None
    if not clients.ecr.list_images(repositoryName=found.physical_id, maxResults=1).get("imageIds"):
        return None
    name = found.physical_id
    return Blocker(
        f"repository {name} ({found.path}) is deleted with the stack and holds images",
        f"remove them first ({shlex.join(['aws', 'ecr', 'delete-repository', '--repository-name', name, '--force'])}"
        " deletes it with its images), or retain it (DeletionPolicy)",
    )


def _redis(clients: aws.Clients, found: Found, deploy: Callable[[str], str]) -> Blocker | None:
    """DeleteReplicationGroup needs the group available, and the final snapshot (DeletionPolicy Snapshot)
    cannot be taken of a cache.t1.micro
    (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteReplicationGroup.html)."""
    groups = clients.elasticache.describe_replication_groups(ReplicationGroupId=found.physical_id)
    group = (groups.get("ReplicationGroups") or [{}])[0]
    status, node_type = group.get("Status", "available"), group.get("CacheNodeType", "")
    if status != "available":
        wait = ["aws", "elasticache", "wait", "replication-group-available", "--replication-group-id"]
        return Blocker(
            f"Redis {found.physical_id} is {status}, not available",
            f"wait for it ({shlex.join([*wait, found.physical_id])})",
        )
    if found.policy == "Snapshot" and node_type == "cache.t1.micro":
        return Blocker(
            f"Redis {found.physical_id} is a cache.t1.micro, of which no final snapshot can be taken",
            f"move it to another node type first with {deploy('RedisNodeType=cache.t3.micro')}",
        )
    return None


CHECKS: dict[str, Check] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::S3::Bucket": _bucket,
    "AWS::ECR::Repository": _repository,
    "AWS::ElastiCache::ReplicationGroup": _redis,
}


def doomed(clients: aws.Clients, stack: str, path: str = "") -> list[tuple[str, Found]]:
    """(type, resource) of every resource under ``stack`` that the delete removes and that a check covers."""
    cfn = clients.cloudformation
    template = processed_template(cfn, stack).get("Resources", {})
    out: list[tuple[str, Found]] = []
    for summary in resource_summaries(cfn, stack):
        logical_id, physical = summary["LogicalResourceId"], summary.get("PhysicalResourceId")
        body = template.get(logical_id, {})
        if not physical or body.get("DeletionPolicy") in KEPT:
            continue
        where = f"{path}/{logical_id}" if path else logical_id
        if summary["ResourceType"] == NESTED_STACK:
            out += doomed(clients, physical, where)
        elif summary["ResourceType"] in CHECKS:
            policy = body.get("DeletionPolicy", "Delete")
            out.append((summary["ResourceType"], Found(where, physical, policy, body.get("Properties", {}))))
    return out


def blockers(clients: aws.Clients, stack: str, deploy: Callable[[str], str]) -> list[Blocker]:
    """Every obstacle to deleting ``stack`` in one go; ``deploy(KEY=VALUE)`` is the command that changes a
    parameter of this stack."""
    found = [CHECKS[kind](clients, res, deploy) for kind, res in doomed(clients, stack)]
    return [b for b in found if b is not None]
