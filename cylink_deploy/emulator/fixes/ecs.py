"""ECS: cluster capacity providers, task definition updates, the deployment an update starts, the desired count of a
service that leaves it to auto scaling, and what deleting a stack does to its services and cluster."""

from __future__ import annotations

from typing import Any

from moto.core.utils import utcnow
from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.ecs.models import Cluster, EC2ContainerServiceBackend, Service, TaskDefinition, ecs_backends
from moto.moto_api._internal import mock_random

from ..registry import Patch, fix
from ._models import CompatModel, Properties, before_create, register_models, wrap_classmethod


class CapacityProviderAssociations(CompatModel):
    TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        strategy = [
            {
                "capacityProvider": s["CapacityProvider"],
                "weight": int(s.get("Weight", 0)),
                "base": int(s.get("Base", 0)),
            }
            for s in p["DefaultCapacityProviderStrategy"]
        ]
        ecs_backends[account_id][region_name].put_cluster_capacity_providers(
            p["Cluster"], p["CapacityProviders"], strategy
        )
        return cls(p["Cluster"])


@fix
def ecs_capacity_providers(patch: Patch) -> None:
    """``AWS::ECS::ClusterCapacityProviderAssociations`` is ignored: the cluster has no providers."""
    register_models(patch, CapacityProviderAssociations)


def _task_definition_replaced(
    original: Any,
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
    return TaskDefinition.create_from_cloudformation_json(
        new_resource_name, cloudformation_json, account_id, region_name
    )


@fix
def ecs_task_definition_update(patch: Patch) -> None:
    """moto's update of a task definition registers the template's PascalCase container definitions
    as they are (no ``image``, ``name``...), where its create maps them: a changed task definition is
    a new revision, created exactly as on create (task definitions are immutable: a change replaces)."""
    wrap_classmethod(patch, TaskDefinition, "update_from_cloudformation_json", _task_definition_replaced)


@fix
def ecs_update_service_deployment(patch: Patch) -> None:
    """After ``UpdateService`` with a new task definition (a release, through CloudFormation or not) moto
    keeps the service's first deployment as PRIMARY with the first task definition, so ``status`` and a
    release's progress showed the old tag. On AWS a new PRIMARY deployment runs the new task definition
    (the old one drains as ACTIVE); here, where tasks start at once, it replaces the old one."""
    original = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        renewed = bool(service_properties.get("task_definition") or service_properties.get("force_new_deployment"))
        service = original(self, service_properties)
        if renewed and service.deployments:
            now = utcnow()
            service.deployments = [
                {
                    **service.deployments[0],
                    "id": f"ecs-svc/{mock_random.randint(0, 32**12)}",
                    "taskDefinition": self.describe_task_definition(service.task_definition).arn,
                    "createdAt": now,
                    "updatedAt": now,
                }
            ]
        return service

    patch(EC2ContainerServiceBackend, "update_service", update_service)


def _delete_service(self: Service, account_id: str, region_name: str) -> None:
    # CloudFormation's delete handler scales the service to 0 and deletes it (ECS: DRAINING, then INACTIVE).
    ecs_backends[account_id][region_name].delete_service(self.cluster_name, self.name, force=True)


def _delete_cluster(self: Cluster, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].delete_cluster(self.arn)  # INACTIVE, as DeleteCluster leaves it


def _listing_active(original: Any) -> Any:
    def list_services(self: EC2ContainerServiceBackend, cluster_str: str, *args: Any, **kwargs: Any) -> list[str]:
        # DeleteService: a deleted service "is no longer visible in the console or in the ListServices API
        # operation"; DescribeServices still shows it, INACTIVE.
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html
        listed = original(self, cluster_str, *args, **kwargs)
        inactive = {s.arn for s in self.services.values() if s.status == "INACTIVE"}
        return [arn for arn in listed if arn not in inactive]

    return list_services


@fix
def ecs_deleted_with_stack(patch: Patch) -> None:
    """Deleting a stack (or removing a nested stack, ``--remove-services``) leaves its ECS services and
    cluster ACTIVE: moto's models have no CloudFormation delete. CloudFormation deletes them: the services
    become INACTIVE (and leave ListServices), the cluster INACTIVE."""
    patch(Service, "delete", _delete_service)
    patch(Cluster, "delete", _delete_cluster)
    patch(EC2ContainerServiceBackend, "list_services", _listing_active(EC2ContainerServiceBackend.list_services))


def _default_desired_count(props: Properties) -> Properties:
    return {"DesiredCount": 1, **props}  # AWS: "a default value of 1 is used"


def _register_scalable_target(original: Any) -> Any:
    def register(self: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str, *args: Any) -> Any:
        target = original(self, namespace, r_id, dimension, *args)
        if (namespace, dimension) == ("ecs", "ecs:service:DesiredCount"):
            _, cluster, name = r_id.split("/", 2)
            backend = ecs_backends[self.account_id][self.region_name]
            current = backend._get_service(cluster, name).desired_count
            low = current if target.min_capacity is None else max(current, int(target.min_capacity))
            wanted = low if target.max_capacity is None else min(low, int(target.max_capacity))
            if wanted != current:
                backend.update_service({"cluster": cluster, "service": name, "desired_count": wanted})
        return target

    return register


@fix
def ecs_service_desired_count(patch: Patch) -> None:
    """A service without ``DesiredCount`` is created with 0 tasks (AWS: 1, "For new services, if a desired count is
    not specified, a default value of 1 is used": https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-resource-ecs-service.html), and registering its scalable target leaves the count outside the range (AWS:
    "it changes the resource's current capacity to a value that is inside of this range":
    https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html)."""
    before_create(patch, Service, _default_desired_count)
    original = ApplicationAutoscalingBackend.register_scalable_target
    patch(ApplicationAutoscalingBackend, "register_scalable_target", _register_scalable_target(original))
