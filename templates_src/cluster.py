"""Cluster stack (guide §7): the ECS cluster with FARGATE/FARGATE_SPOT capacity providers, Container
Insights, one task execution role and one task role per service, and the services' log groups.

Each execution role may read exactly the secrets its service receives (the backend: the Redis AUTH
secret; the frontend: none) and nothing else beyond the managed AmazonECSTaskExecutionRolePolicy.
(They replace the one TaskExecutionRole both services shared; see docs/security.md.) Log groups are
retained when the stack goes.

Outputs: ClusterName, ClusterArn, <Service>ExecutionRoleArn, <Service>TaskRoleArn, <Service>LogGroupName.
"""

from __future__ import annotations

from typing import Any

from awacs import kms
from awacs import secretsmanager as sm
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere import ecs, iam, logs

from .common import (
    RETAINED_NAMED,
    FARGATE_BASE,
    AppService,
    FARGATE_WEIGHT,
    SERVICES,
    add_output,
    add_param,
    data_key_param,
    log_retention_param,
    name_prefix_param,
    permissions_boundary,
    service_trust,
)

EXECUTION_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def ecs_tasks_trust() -> PolicyDocument:
    """Only ECS tasks of this account may assume the roles."""
    return service_trust("ecs-tasks.amazonaws.com")


def capacity_strategy(item: type = ecs.CapacityProviderStrategyItem) -> list[Any]:
    """Guide §7: one task always on regular FARGATE, the rest weighted towards FARGATE_SPOT.

    troposphere names the (identical) item type differently for clusters and services.
    """
    return [
        item(CapacityProvider="FARGATE", Base=FARGATE_BASE, Weight=FARGATE_WEIGHT),
        item(CapacityProvider="FARGATE_SPOT", Weight=Ref("FargateSpotWeight")),
    ]


def _execution_role(t: Template, svc: AppService) -> None:
    """The service's own execution role: pull, log, and read exactly the secrets the service receives.

    One per service (not one shared role) so the frontend cannot read the Redis AUTH secret.
    """
    policies = []
    if svc.secrets:
        policies.append(
            iam.Policy(
                PolicyName="read-own-secrets",
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Effect=Allow, Action=[sm.GetSecretValue], Resource=[Ref(param) for _, param in svc.secrets]
                        ),
                        Statement(
                            Effect=Allow,
                            Action=[kms.Decrypt],
                            Resource=[Ref("DataKeyArn")],
                            Condition=Condition(
                                StringEquals("kms:ViaService", Sub("secretsmanager.${AWS::Region}.amazonaws.com"))
                            ),
                        ),
                    ],
                ),
            )
        )
    t.add_resource(
        iam.Role(
            f"{svc.title}ExecutionRole",
            AssumeRolePolicyDocument=ecs_tasks_trust(),
            ManagedPolicyArns=[Sub(EXECUTION_POLICY)],
            PermissionsBoundary=permissions_boundary(),
            **({"Policies": policies} if policies else {}),
        )
    )
    add_output(
        t,
        f"{svc.title}ExecutionRoleArn",
        GetAtt(f"{svc.title}ExecutionRole", "Arn"),
        f"Role ECS uses to start the {svc.name}'s tasks.",
    )


def build() -> Template:
    """Cluster, capacity providers, IAM roles and log groups."""
    t = Template(Description="Cylink ECS cluster, IAM roles and log groups (guide section 7)")
    name_prefix_param(t)
    add_param(
        t,
        "RedisAuthSecretArn",
        "ARN of the Redis AUTH secret the tasks receive.",
        AllowedPattern=r"^arn:aws[a-z-]*:secretsmanager:.+$",
    )
    log_retention_param(t)
    data_key_param(t)
    add_param(
        t,
        "FargateSpotWeight",
        "Weight of FARGATE_SPOT against FARGATE's 1 (0 disables Spot).",
        "Number",
        MinValue=0,
        MaxValue=10,
    )

    t.add_resource(
        ecs.Cluster(
            "Cluster",
            ClusterName=Sub("${NamePrefix}-cluster"),
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    t.add_resource(
        ecs.ClusterCapacityProviderAssociations(
            "ClusterCapacityProviders",
            Cluster=Ref("Cluster"),
            CapacityProviders=["FARGATE", "FARGATE_SPOT"],
            DefaultCapacityProviderStrategy=capacity_strategy(ecs.CapacityProviderStrategy),
        )
    )
    add_output(t, "ClusterName", Ref("Cluster"), "Name of the ECS cluster.")
    add_output(t, "ClusterArn", GetAtt("Cluster", "Arn"), "ARN of the ECS cluster.")
    for svc in SERVICES:
        _execution_role(t, svc)
        # Task roles hold no permissions yet: the apps call no AWS API. Grant here when they do.
        t.add_resource(
            iam.Role(
                f"{svc.title}TaskRole",
                AssumeRolePolicyDocument=ecs_tasks_trust(),
                PermissionsBoundary=permissions_boundary(),
            )
        )
        t.add_resource(
            logs.LogGroup(
                f"{svc.title}LogGroup",
                **RETAINED_NAMED,
                LogGroupName=Sub("/ecs/${NamePrefix}-" + svc.name),
                RetentionInDays=Ref("LogRetentionDays"),
                KmsKeyId=Ref("DataKeyArn"),
            )
        )
        add_output(t, f"{svc.title}TaskRoleArn", GetAtt(f"{svc.title}TaskRole", "Arn"), f"Task role of the {svc.name}.")
        add_output(t, f"{svc.title}LogGroupName", Ref(f"{svc.title}LogGroup"), f"Log group of the {svc.name}.")
    return t
