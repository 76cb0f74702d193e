"""Services stack (guide §7, §9): task definitions, ECS services and CPU target-tracking scaling for
each service.

Fixes from the guide: no ``LaunchType`` (it would cancel the FARGATE_SPOT capacity strategy), a
deployment circuit breaker with rollback, rollback on the service's own 5xx-rate and unhealthy-host
alarms (from the monitoring stack, which CloudFormation therefore creates first), and the Redis AUTH
token passed as an ECS secret. Containers
run as a non-root user on a read-only root filesystem (scratch volumes where the apps write), with all
Linux capabilities dropped and an init process reaping zombies. This stack
only starts after the load-balancer stack (its target-group ARNs are inputs), so the listener rules
exist before the services register targets.

Scheduled event capacity (``deploy.py event``): EVENT_SLOTS fixed slots of parameters
(``Event<n>ScaleUpAt``, ``Event<n>ScaleDownAt`` in UTC, ``Event<n><Service>Tasks``; an empty ScaleUpAt is an
empty slot) become two one-time scheduled actions on each service's scalable target: at ScaleUpAt the
minimum rises to the event's task count (so target tracking cannot scale in during the event), at
ScaleDownAt it returns to the normal range.

Outputs: <Service>ServiceName, <Service>TaskDefinitionArn for each service.
"""

from __future__ import annotations

from typing import Any

from troposphere import Equals, GetAtt, If, Not, NoValue, Ref, Split, Sub, Template
from troposphere import applicationautoscaling as aas
from troposphere import ecs

from .cluster import capacity_strategy
from .loadbalancer import IDLE_TIMEOUT_SECONDS
from .common import (
    APP_USER,
    BACKEND,
    HOSTNAME_PATTERN,
    ORIGINS_PATTERN,
    PORT_PATTERN,
    SERVICES,
    SUBNET_LIST_PATTERN,
    URL_PATTERN,
    AppService,
    add_output,
    add_param,
    arn_pattern,
    name_prefix_param,
    service_name,
)

HEALTH_CHECK_GRACE_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30  # SIGTERM-to-SIGKILL; Spot gives 120 s, the ALB drains for 30 s
SCALE_IN_COOLDOWN = 300
SCALE_OUT_COOLDOWN = 60
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# Event slots: a fixed number, so the parameters (and the change set a reviewer reads) stay few and named.
EVENT_SLOTS = 2
# A scheduled action's at() time, UTC, to the second; empty: the slot is free.
EVENT_TIME_PATTERN = r"^$|^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
# Explicit, though it is the default: the slot times are written in UTC (ScheduledAction Timezone).
EVENT_TIMEZONE = "Etc/UTC"
# (parameter suffix, what it is, constraint) for the inputs every service takes from its siblings.
WIRED_PER_SERVICE = (
    ("TaskRoleArn", "task role", arn_pattern("iam")),
    ("ExecutionRoleArn", "task execution role (its own: reads only its secrets)", arn_pattern("iam")),
    ("LogGroupName", "log group", r"^[.\-_/#A-Za-z0-9]{1,512}$"),
    (
        "RepositoryUri",
        "image repository URI",
        r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+$",
    ),
    ("TargetGroupArn", "target group", arn_pattern("elasticloadbalancing")),
    ("DeploymentAlarmNames", "alarms that roll a release back (comma-separated)", r"^[^,]+(,[^,]+)*$"),
)


def scaling_params() -> dict[str, tuple[str, str, dict[str, int]]]:
    """Per-service scaling parameters: name -> (description, type, constraints); the root forwards them."""
    out: dict[str, tuple[str, str, dict[str, int]]] = {}
    for svc in SERVICES:
        out[f"{svc.title}MinCapacity"] = (
            f"Minimum (and initial desired) {svc.name} tasks.",
            "Number",
            {"MinValue": 1, "MaxValue": 100},
        )
        out[f"{svc.title}MaxCapacity"] = (
            f"Maximum {svc.name} tasks under load.",
            "Number",
            {"MinValue": 1, "MaxValue": 100},
        )
        out[f"{svc.title}CpuTarget"] = (
            f"Average CPU % the {svc.name} scaling keeps.",
            "Number",
            {"MinValue": 10, "MaxValue": 90},
        )
    return out


# Node closes idle keep-alive connections after 5 s by default; the ALB reuses them for up to its idle timeout, and
# an application that closes first makes the ALB answer 502 ("configure the idle timeout of your application to be
# larger than the idle timeout configured for the load balancer": https://docs.aws.amazon.com/elasticloadbalancing/
# latest/application/edit-load-balancer-attributes.html#connection-idle-timeout). Next.js's standalone server reads
# KEEP_ALIVE_TIMEOUT (ms: https://github.com/vercel/next.js/pull/50221); the backend must read it too
# (docs/deviations.md, "What the images must do"). Issue 21 finding 7.
KEEP_ALIVE_TIMEOUT_MS = (IDLE_TIMEOUT_SECONDS + 5) * 1000


def event_params() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Per-slot event parameters: name -> (description, type, constraints); the root forwards them."""
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for n in range(1, EVENT_SLOTS + 1):
        out[f"Event{n}ScaleUpAt"] = (
            f"Event slot {n}: when the event capacity starts (UTC, yyyy-mm-ddThh:mm:ss); empty: no event. Set by "
            "deploy.py event.",
            "String",
            {"AllowedPattern": EVENT_TIME_PATTERN},
        )
        out[f"Event{n}ScaleDownAt"] = (
            f"Event slot {n}: when the normal scaling range returns (UTC, yyyy-mm-ddThh:mm:ss).",
            "String",
            {"AllowedPattern": EVENT_TIME_PATTERN},
        )
        for svc in SERVICES:
            out[f"Event{n}{svc.title}Tasks"] = (
                f"Event slot {n}: minimum {svc.name} tasks during the event (0 when the slot is empty).",
                "Number",
                {"MinValue": 0, "MaxValue": 100},
            )
    return out


def _event_actions(svc: AppService) -> list[object]:
    """Two one-time actions per event slot (empty slots drop out: AWS::NoValue removes a list item).

    Schedule ``at(yyyy-mm-ddThh:mm:ss)`` with Timezone, and both Min and Max in ScalableTargetAction, as
    the CloudFormation reference for ScheduledAction describes
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-applicationautoscaling-scalabletarget-scheduledaction.html);
    both sizes so the new minimum is never above the maximum in force
    (https://docs.aws.amazon.com/autoscaling/application/userguide/scheduled-scaling-policy-overview.html)."""
    actions: list[object] = []
    normal_max = Ref(f"{svc.title}MaxCapacity")
    for n in range(1, EVENT_SLOTS + 1):
        for step, at, minimum in (
            ("scale-up", f"Event{n}ScaleUpAt", Ref(f"Event{n}{svc.title}Tasks")),
            ("scale-down", f"Event{n}ScaleDownAt", Ref(f"{svc.title}MinCapacity")),
        ):
            action = aas.ScheduledAction(
                ScheduledActionName=f"event{n}-{step}",
                Schedule=Sub("at(${" + at + "})"),
                Timezone=EVENT_TIMEZONE,
                ScalableTargetAction=aas.ScalableTargetAction(MinCapacity=minimum, MaxCapacity=normal_max),
            )
            actions.append(If(f"Event{n}Scheduled", action, NoValue))
    return actions


def _environment(svc: AppService) -> dict[str, object]:
    """Plain environment of a container; secrets never go here."""
    env: dict[str, object] = {
        "NODE_ENV": "production",
        "PORT": str(svc.port),
        "KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE_TIMEOUT_MS),
    }
    if svc is BACKEND:
        env["REDIS_URL"] = Sub("rediss://${RedisEndpointAddress}:${RedisEndpointPort}")  # TLS: rediss://
        env["CORS_ORIGIN"] = Ref("SiteOrigins")
    else:
        env["NEXT_PUBLIC_API_URL"] = Ref("ApiUrl")
    return env


def _volume_name(path: str) -> str:
    """/app/.next/cache -> app-next-cache"""
    return "-".join(part.strip(".") for part in path.strip("/").split("/"))


def _task_definition(t: Template, svc: AppService) -> None:
    env = _environment(svc)
    secrets = [ecs.Secret(Name=name, ValueFrom=Ref(param)) for name, param in svc.secrets]
    t.add_resource(
        ecs.TaskDefinition(
            f"{svc.title}TaskDefinition",
            Family=Sub("${NamePrefix}-" + svc.name),
            NetworkMode="awsvpc",
            RequiresCompatibilities=["FARGATE"],
            Cpu=str(svc.cpu),
            Memory=str(svc.memory),
            ExecutionRoleArn=Ref(f"{svc.title}ExecutionRoleArn"),
            TaskRoleArn=Ref(f"{svc.title}TaskRoleArn"),
            RuntimePlatform=ecs.RuntimePlatform(OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"),
            Volumes=[ecs.Volume(Name=_volume_name(p)) for p in svc.writable_paths],
            ContainerDefinitions=[
                ecs.ContainerDefinition(
                    Name=svc.name,
                    Image=Sub("${" + svc.title + "RepositoryUri}:${ImageTag}"),
                    Essential=True,
                    User=APP_USER,
                    ReadonlyRootFilesystem=True,
                    MountPoints=[
                        ecs.MountPoint(SourceVolume=_volume_name(p), ContainerPath=p, ReadOnly=False)
                        for p in svc.writable_paths
                    ],
                    LinuxParameters=ecs.LinuxParameters(
                        Capabilities=ecs.KernelCapabilities(Drop=["ALL"]),
                        InitProcessEnabled=True,
                    ),
                    StopTimeout=STOP_TIMEOUT_SECONDS,
                    PortMappings=[ecs.PortMapping(ContainerPort=svc.port, Protocol="tcp")],
                    Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(env.items())],
                    Secrets=secrets,
                    LogConfiguration=ecs.LogConfiguration(
                        LogDriver="awslogs",
                        Options={
                            "awslogs-group": Ref(f"{svc.title}LogGroupName"),
                            "awslogs-region": Ref("AWS::Region"),
                            "awslogs-stream-prefix": "ecs",
                        },
                    ),
                )
            ],
        )
    )


def _service(t: Template, svc: AppService) -> None:
    t.add_resource(
        ecs.Service(
            f"{svc.title}Service",
            ServiceName=service_name(svc),
            Cluster=Ref("ClusterName"),
            TaskDefinition=Ref(f"{svc.title}TaskDefinition"),
            # No DesiredCount: auto scaling owns the count. With it, every update that touches the service sets the
            # count back to the template's value, a scale-in in the middle of an event (issue 21 finding 12; CDK
            # omits it for the same reason: https://github.com/aws/aws-cdk/pull/13130). Without it ECS creates the
            # service with 1 task ("For new services, if a desired count is not specified, a default value of 1 is
            # used", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html)
            # and registering the scalable target raises it to MinCapacity ("it changes the resource's current
            # capacity to a value that is inside of this range", https://docs.aws.amazon.com/autoscaling/application/
            # APIReference/API_RegisterScalableTarget.html); an update keeps the running count.
            CapacityProviderStrategy=capacity_strategy(),
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                # A release that passes health checks but serves errors: the circuit breaker misses it, these do not.
                Alarms=ecs.DeploymentAlarms(
                    AlarmNames=Split(",", Ref(f"{svc.title}DeploymentAlarmNames")), Enable=True, Rollback=True
                ),
                MaximumPercent=200,
                MinimumHealthyPercent=100,
            ),
            HealthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_SECONDS,
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName=svc.name, ContainerPort=svc.port, TargetGroupArn=Ref(f"{svc.title}TargetGroupArn")
                )
            ],
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    Subnets=Split(",", Ref("TaskSubnetIds")),
                    SecurityGroups=[Ref("TaskSecurityGroupId")],
                    AssignPublicIp=Ref("TaskAssignPublicIp"),
                )
            ),
            EnableECSManagedTags=True,
            PropagateTags="SERVICE",
        )
    )


def _scaling(t: Template, svc: AppService) -> None:
    t.add_resource(
        aas.ScalableTarget(
            f"{svc.title}ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Sub("service/${ClusterName}/${" + svc.title + "Service.Name}"),
            MinCapacity=Ref(f"{svc.title}MinCapacity"),
            MaxCapacity=Ref(f"{svc.title}MaxCapacity"),
            ScheduledActions=_event_actions(svc),
        )
    )
    t.add_resource(
        aas.ScalingPolicy(
            f"{svc.title}CpuScalingPolicy",
            PolicyName=Sub("${NamePrefix}-" + svc.name + "-cpu-scaling"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(f"{svc.title}ScalableTarget"),
            TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                TargetValue=Ref(f"{svc.title}CpuTarget"),
                PredefinedMetricSpecification=aas.PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"
                ),
                ScaleInCooldown=SCALE_IN_COOLDOWN,
                ScaleOutCooldown=SCALE_OUT_COOLDOWN,
            ),
        )
    )


def build() -> Template:
    """Task definition, service and scaling for every service."""
    t = Template(Description="Cylink ECS services, task definitions and auto scaling (guide sections 7, 9)")
    name_prefix_param(t)
    add_param(t, "ImageTag", "Image tag both services run.", AllowedPattern=IMAGE_TAG_PATTERN)
    add_param(t, "ClusterName", "ECS cluster of the services.", AllowedPattern=r"^[A-Za-z0-9_-]{1,255}$")
    add_param(t, "TaskSubnetIds", "Comma-separated subnets of the tasks.", AllowedPattern=SUBNET_LIST_PATTERN)
    add_param(t, "TaskSecurityGroupId", "Security group of the tasks.", "AWS::EC2::SecurityGroup::Id")
    add_param(
        t, "TaskAssignPublicIp", "ENABLED only when tasks run in public subnets.", AllowedValues=["ENABLED", "DISABLED"]
    )
    add_param(t, "RedisEndpointAddress", "Primary endpoint of Redis.", AllowedPattern=HOSTNAME_PATTERN)
    add_param(t, "RedisEndpointPort", "Port of Redis.", AllowedPattern=PORT_PATTERN)
    add_param(
        t,
        "RedisAuthSecretArn",
        "Secrets Manager ARN of the Redis AUTH token.",
        AllowedPattern=arn_pattern("secretsmanager"),
    )
    add_param(t, "ApiUrl", "Base URL of the backend, for the frontend.", AllowedPattern=URL_PATTERN)
    add_param(t, "SiteOrigins", "Comma-separated origins the backend accepts.", AllowedPattern=ORIGINS_PATTERN)
    add_param(t, "FargateSpotWeight", "Weight of FARGATE_SPOT against FARGATE's 1.", "Number", MinValue=0, MaxValue=10)
    for name, (description, type_, constraints) in {**scaling_params(), **event_params()}.items():
        add_param(t, name, description, type_, **constraints)
    for n in range(1, EVENT_SLOTS + 1):
        t.add_condition(f"Event{n}Scheduled", Not(Equals(Ref(f"Event{n}ScaleUpAt"), "")))
    for svc in SERVICES:
        for suffix, what, pattern in WIRED_PER_SERVICE:
            add_param(t, f"{svc.title}{suffix}", f"{svc.name} {what}.", AllowedPattern=pattern)
        _task_definition(t, svc)
        _service(t, svc)
        _scaling(t, svc)
        add_output(
            t, f"{svc.title}ServiceName", GetAtt(f"{svc.title}Service", "Name"), f"Name of the {svc.name} ECS service."
        )
        add_output(
            t,
            f"{svc.title}TaskDefinitionArn",
            Ref(f"{svc.title}TaskDefinition"),
            f"Task definition the {svc.name} runs.",
        )
    return t
