"""Cluster stack (guide §7): the ECS cluster with FARGATE/FARGATE_SPOT capacity providers, Container
Insights, the task execution role, one task role per service, and the services' log groups.

The execution role may read exactly the Redis AUTH secret and nothing else beyond the managed
AmazonECSTaskExecutionRolePolicy. Log groups are retained when the stack goes.

Outputs: ClusterName, ClusterArn, TaskExecutionRoleArn, <Service>TaskRoleArn, <Service>LogGroupName.
"""
from __future__ import annotations

from typing import Any

from awacs import kms
from awacs import secretsmanager as sm
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere import ecs, iam, logs

from .common import (
    RETAINED,
    FARGATE_BASE,
    FARGATE_WEIGHT,
    SERVICES,
    add_output,
    add_param,
    data_key_param,
    log_retention_param,
    name_prefix_param,
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


def build() -> Template:
    """Cluster, capacity providers, IAM roles and log groups."""
    t = Template(Description="Cylink ECS cluster, IAM roles and log groups (guide section 7)")
    name_prefix_param(t)
    add_param(t, "RedisAuthSecretArn", "ARN of the Redis AUTH secret the tasks receive.", AllowedPattern=r"^arn:aws[a-z-]*:secretsmanager:.+$")
    log_retention_param(t)
    data_key_param(t)
    add_param(t, "FargateSpotWeight", "Weight of FARGATE_SPOT against FARGATE's 1 (0 disables Spot).", "Number", MinValue=0, MaxValue=10)

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
    t.add_resource(
        iam.Role(
            "TaskExecutionRole",
            AssumeRolePolicyDocument=ecs_tasks_trust(),
            ManagedPolicyArns=[Sub(EXECUTION_POLICY)],
            Policies=[
                iam.Policy(
                    PolicyName="read-redis-auth-secret",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(Effect=Allow, Action=[sm.GetSecretValue], Resource=[Ref("RedisAuthSecretArn")]),
                            Statement(
                                Effect=Allow,
                                Action=[kms.Decrypt],
                                Resource=[Ref("DataKeyArn")],
                                Condition=Condition(StringEquals("kms:ViaService", Sub("secretsmanager.${AWS::Region}.amazonaws.com"))),
                            ),
                        ],
                    ),
                )
            ],
        )
    )
    add_output(t, "ClusterName", Ref("Cluster"), "Name of the ECS cluster.")
    add_output(t, "ClusterArn", GetAtt("Cluster", "Arn"), "ARN of the ECS cluster.")
    add_output(t, "TaskExecutionRoleArn", GetAtt("TaskExecutionRole", "Arn"), "Role ECS uses to pull images, write logs, read secrets.")
    for svc in SERVICES:
        # Task roles hold no permissions yet: the apps call no AWS API. Grant here when they do.
        t.add_resource(iam.Role(f"{svc.title}TaskRole", AssumeRolePolicyDocument=ecs_tasks_trust()))
        t.add_resource(
            logs.LogGroup(
                f"{svc.title}LogGroup",
                **RETAINED,
                LogGroupName=Sub("/ecs/${NamePrefix}-" + svc.name),
                RetentionInDays=Ref("LogRetentionDays"),
                KmsKeyId=Ref("DataKeyArn"),
            )
        )
        add_output(t, f"{svc.title}TaskRoleArn", GetAtt(f"{svc.title}TaskRole", "Arn"), f"Task role of the {svc.name}.")
        add_output(t, f"{svc.title}LogGroupName", Ref(f"{svc.title}LogGroup"), f"Log group of the {svc.name}.")
    return t
