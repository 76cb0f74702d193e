"""Monitoring stack: the alarms an on-call engineer of a live event needs, the SNS topic that pages
them, and one dashboard (``<NamePrefix>-<EnvironmentName>-<region>``).

Where it sits, and why: after the load balancer and before the services. The services roll a release
back on their own 5xx-rate and unhealthy-host alarms (``DeploymentConfiguration.Alarms``), so they read
those alarm names as outputs of this stack: CloudFormation then creates the alarms before any service
refers to them. The alarms on ECS service metrics need the service names in turn; those are
deterministic (``common.service_name``), so no output of the services stack is needed and there is no
cycle. The ECS alarms exist only while the services do (``ServicesDeployed``, derived by the root from
ImageTag: a new tag leaves this stack unchanged).

Every alarm says what it means and what to look at first, notifies the topic on ALARM and on OK, takes
its threshold from a parameter (per-environment values in params/), and treats missing data as chosen
in ``MISSING`` below. Redis alarms use metric math (MAX over the nodes <group>-001 ... -006) so that one
alarm follows the primary through a failover and ignores nodes that do not exist.

Outputs: AlarmTopicArn, DashboardUrl, <Service>DeploymentAlarmNames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awacs import sns as asns
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, Join, Not, Ref, Sub, Template
from troposphere import cloudwatch as cw
from troposphere import sns

from .common import (
    EMAIL_MAX_LENGTH,
    FRONTEND,
    SERVICES,
    WEB_ACL_METRIC,
    AppService,
    add_output,
    add_param,
    data_key_param,
    name_prefix_param,
    service_name,
)
from .network import AZ_COUNT, NO_NAT, egress_mode, nat_condition_of

MAX_REDIS_NODES = 6  # the cache stack's RedisNodeCount MaxValue
MIN_REQUESTS_FOR_RATE = 20  # per minute: below this a 5xx *rate* is noise (1 error in 2 requests is 50 %)
EMAIL_PATTERN = r"^$|^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$"
ENVIRONMENT_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"

# TreatMissingData, chosen per kind of alarm (a property test requires every alarm to name one).
MISSING = {
    "errors": "notBreaching",  # no requests means no errors
    "latency": "notBreaching",  # no requests means nothing was slow
    "unhealthy": "notBreaching",  # the ALB stops reporting only without targets: TasksBelowMinimum pages that
    "utilisation": "notBreaching",  # no tasks report no CPU: TasksBelowMinimum pages that
    # The alarm exists before its service does (the services stack reads the alarms it rolls back on), and ECS
    # reports no metric for a service without a RUNNING task
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html); "breaching" would page
    # on every first deploy (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    # #alarms-and-missing-data). A service with no task at all shows as the ALB's unhealthy/5xx alarms instead.
    "tasks": "notBreaching",
    "redis": "notBreaching",  # a node that does not exist (or a replica-only metric on one node) reports nothing
    "network": "notBreaching",  # NAT and WAF publish only when there is traffic
}


@dataclass(frozen=True)
class Threshold:
    """A threshold parameter: name, meaning, bounds, and the default the root uses."""

    name: str
    description: str
    minimum: float
    maximum: float
    default: float


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "Target5xxRatePercent",
        "Target 5xx responses as % of requests per minute (3 minutes running) before paging and rolling back.",
        0.1,
        100,
        5,
    ),
    Threshold(
        "Elb5xxPer5Minutes", "5xx responses the ALB itself generates per 5 minutes before paging.", 0, 100000, 10
    ),
    Threshold(
        "UnhealthyHostsTolerated", "Unhealthy targets a target group may have before paging (0: any).", 0, 100, 0
    ),
    Threshold(
        "UnhealthyHostMinutes",
        "Minutes a target group must have unhealthy targets before paging and rolling back.",
        1,
        30,
        2,
    ),
    Threshold(
        "FrontendP95Seconds", "p95 frontend response time in seconds (3 of 5 minutes) before paging.", 0.1, 60, 2
    ),
    Threshold(
        "RejectedConnectionsPer5Minutes",
        "Connections the ALB rejects per 5 minutes (at its connection limit) before paging.",
        0,
        100000,
        0,
    ),
    Threshold(
        "EcsCpuAlarmPercent", "Average service CPU % for 15 minutes before paging (scaling targets lower).", 10, 100, 85
    ),
    Threshold("EcsMemoryAlarmPercent", "Average service memory % for 15 minutes before paging.", 10, 100, 85),
    Threshold(
        "TaskShortfallMinutes", "Minutes a service may run fewer tasks than its minimum before paging.", 1, 60, 5
    ),
    Threshold(
        "RedisCpuAlarmPercent",
        "Redis engine CPU % (the single Redis thread) for 15 minutes before paging.",
        10,
        100,
        80,
    ),
    Threshold(
        "RedisMemoryAlarmPercent", "Redis used memory as % of maxmemory for 15 minutes before paging.", 10, 100, 80
    ),
    Threshold(
        "RedisEvictionsPer5Minutes", "Keys Redis evicts per 5 minutes before paging (0: any eviction).", 0, 1000000, 0
    ),
    Threshold(
        "RedisConnectionsThreshold",
        "Client connections to a Redis node before paging (the node's limit is 65000).",
        1,
        65000,
        50000,
    ),
    Threshold(
        "RedisReplicationLagSeconds",
        "Seconds a replica may lag the primary (5 minutes running) before paging.",
        1,
        3600,
        5,
    ),
    Threshold(
        "NatPortAllocationErrorsPer5Minutes",
        "NAT port allocation errors per 5 minutes before paging (0: any).",
        0,
        100000,
        0,
    ),
    Threshold(
        "NatPacketsDroppedPer5Minutes", "Packets a NAT gateway drops per 5 minutes before paging.", 0, 100000000, 100
    ),
    Threshold("WafBlockedPer5Minutes", "Requests WAF blocks per 5 minutes before paging.", 1, 100000000, 1000),
)


def threshold_defaults() -> dict[str, float]:
    """Root defaults of the threshold parameters."""
    return {th.name: th.default for th in THRESHOLDS}


def _params(t: Template) -> None:
    name_prefix_param(t)
    add_param(
        t,
        "EnvironmentName",
        "Environment (dev, staging, prod): names the dashboard <NamePrefix>-<EnvironmentName>-<region>.",
        AllowedPattern=ENVIRONMENT_PATTERN,
    )
    add_param(
        t,
        "AlarmEmail",
        "E-mail address that receives every alarm (confirm the subscription mail); empty: none.",
        AllowedPattern=EMAIL_PATTERN,
        MaxLength=EMAIL_MAX_LENGTH,
        ConstraintDescription="an e-mail address, or empty",
    )
    data_key_param(t)
    add_param(
        t,
        "ServicesDeployed",
        "Whether the ECS services exist (the root derives it from ImageTag).",
        AllowedValues=["true", "false"],
    )
    add_param(t, "ClusterName", "ECS cluster of the services.", AllowedPattern=r"^[A-Za-z0-9_-]{1,255}$")
    add_param(t, "AlbFullName", "app/<name>/<id> of the ALB.", AllowedPattern=r"^app/[A-Za-z0-9-]+/[0-9a-f]+$")
    add_param(
        t, "RedisReplicationGroupId", "ID of the Redis replication group.", AllowedPattern=r"^[a-z][a-z0-9-]{0,39}$"
    )
    add_param(
        t, "WafEnabled", "Whether a WAF WebACL (<NamePrefix>-alb) protects the ALB.", AllowedValues=["true", "false"]
    )
    for i in range(1, AZ_COUNT + 1):
        add_param(
            t, f"NatGateway{i}Id", f"NAT gateway of AZ {i}, or {NO_NAT}.", AllowedPattern=rf"^{NO_NAT}$|^nat-[0-9a-f]+$"
        )
    for svc in SERVICES:
        add_param(
            t,
            f"{svc.title}TargetGroupFullName",
            f"targetgroup/<name>/<id> of the {svc.name}.",
            AllowedPattern=r"^targetgroup/[A-Za-z0-9-]+/[0-9a-f]+$",
        )
        add_param(
            t,
            f"{svc.title}MinCapacity",
            f"Minimum {svc.name} tasks: fewer running pages.",
            "Number",
            MinValue=1,
            MaxValue=100,
        )
    for th in THRESHOLDS:
        add_param(t, th.name, th.description, "Number", MinValue=th.minimum, MaxValue=th.maximum)
    t.add_condition("HasAlarmEmail", Not(Equals(Ref("AlarmEmail"), "")))
    t.add_condition("HasServices", Equals(Ref("ServicesDeployed"), "true"))
    t.add_condition("HasWaf", Equals(Ref("WafEnabled"), "true"))
    egress_mode(
        t
    )  # which NAT gateways exist is known before deployment (the cost estimate and policy checks rely on it)


def _topic(t: Template) -> None:
    """Encrypted topic; its policy lets CloudWatch alarms of this account (and nothing else) publish."""
    t.add_resource(
        sns.Topic(
            "AlarmTopic",
            TopicName=Sub("${NamePrefix}-alarms"),
            DisplayName=Sub("${NamePrefix} alarms"),
            KmsMasterKeyId=Ref("DataKeyArn"),
        )
    )
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="CloudWatchAlarmsOfThisAccountPublish",
                Effect=Allow,
                Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                Action=[asns.Publish],
                Resource=[Ref("AlarmTopic")],
                Condition=Condition(
                    [
                        StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
                        ArnLike(
                            "aws:SourceArn",
                            Sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
                        ),
                    ]
                ),
            )
        ],
    )
    t.add_resource(sns.TopicPolicy("AlarmTopicPolicy", Topics=[Ref("AlarmTopic")], PolicyDocument=policy))
    t.add_resource(
        sns.SubscriptionResource(
            "AlarmEmailSubscription",
            Condition="HasAlarmEmail",
            TopicArn=Ref("AlarmTopic"),
            Protocol="email",
            Endpoint=Ref("AlarmEmail"),
        )
    )


def _dims(**dims: Any) -> list[cw.MetricDimension]:
    return [cw.MetricDimension(Name=k, Value=v) for k, v in dims.items()]


def _alarm(
    t: Template,
    logical_id: str,
    suffix: str,
    description: str,
    threshold: str,
    comparison: str,
    missing: str,
    evaluation_periods: Any,
    condition: str | None = None,
    **metric: Any,
) -> None:
    """One alarm: named <NamePrefix>-<suffix>, notifying the topic on ALARM and OK."""
    kwargs: dict[str, Any] = {"Condition": condition} if condition else {}
    t.add_resource(
        cw.Alarm(
            logical_id,
            AlarmName=Sub("${NamePrefix}-" + suffix),
            AlarmDescription=description,
            AlarmActions=[Ref("AlarmTopic")],
            OKActions=[Ref("AlarmTopic")],
            Threshold=Ref(threshold),
            ComparisonOperator=comparison,
            EvaluationPeriods=evaluation_periods,
            DatapointsToAlarm=evaluation_periods,
            TreatMissingData=MISSING[missing],
            **metric,
            **kwargs,
        )
    )


def _query(id_: str, namespace: str, name: str, stat: str, period: int, **dims: Any) -> cw.MetricDataQuery:
    return cw.MetricDataQuery(
        Id=id_,
        ReturnData=False,
        MetricStat=cw.MetricStat(
            Metric=cw.Metric(Namespace=namespace, MetricName=name, Dimensions=_dims(**dims)), Stat=stat, Period=period
        ),
    )


def _alb_alarms(t: Template) -> None:
    alb = Ref("AlbFullName")
    for svc in SERVICES:
        tg = Ref(f"{svc.title}TargetGroupFullName")
        _alarm(
            t,
            f"{svc.title}Target5xxRateAlarm",
            f"{svc.name}-target-5xx-rate",
            f"The {svc.name} answers more than Target5xxRatePercent % of requests with 5xx (3 minutes running, from "
            f"{MIN_REQUESTS_FOR_RATE} requests a minute). During a release ECS rolls it back. Look first at the "
            f"{svc.name} "
            f"log group for errors, then at the Redis alarms (the backend fails when Redis does).",
            "Target5xxRatePercent",
            "GreaterThanThreshold",
            "errors",
            3,
            Metrics=[
                _query(
                    "errors",
                    "AWS/ApplicationELB",
                    "HTTPCode_Target_5XX_Count",
                    "Sum",
                    60,
                    LoadBalancer=alb,
                    TargetGroup=tg,
                ),
                _query("requests", "AWS/ApplicationELB", "RequestCount", "Sum", 60, LoadBalancer=alb, TargetGroup=tg),
                cw.MetricDataQuery(
                    Id="rate",
                    Label="5xx % of requests",
                    Expression=f"IF(requests >= {MIN_REQUESTS_FOR_RATE}, 100 * errors / requests, 0)",
                    ReturnData=True,
                ),
            ],
        )
        _alarm(
            t,
            f"{svc.title}UnhealthyHostsAlarm",
            f"{svc.name}-unhealthy-hosts",
            f"The {svc.name} target group has had unhealthy targets for UnhealthyHostMinutes minutes: tasks fail the "
            f"{svc.health_path} health check. During a release ECS rolls it back. Look first at the ECS service events "
            f"(stopped tasks and why), then at the {svc.name} log group.",
            "UnhealthyHostsTolerated",
            "GreaterThanThreshold",
            "unhealthy",
            Ref("UnhealthyHostMinutes"),
            Namespace="AWS/ApplicationELB",
            MetricName="UnHealthyHostCount",
            Dimensions=_dims(LoadBalancer=alb, TargetGroup=tg),
            Statistic="Maximum",
            Period=60,
        )
    _alarm(
        t,
        "Elb5xxAlarm",
        "alb-5xx",
        "The ALB itself answers 5xx (502/503/504): no healthy target, targets closing connections, or timeouts. "
        "Look first at the healthy-host counts on the dashboard, then at the ALB access logs (elb_status_code, "
        "target_status_code).",
        "Elb5xxPer5Minutes",
        "GreaterThanThreshold",
        "errors",
        1,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_ELB_5XX_Count",
        Dimensions=_dims(LoadBalancer=alb),
        Statistic="Sum",
        Period=300,
    )
    _alarm(
        t,
        "FrontendLatencyP95Alarm",
        "frontend-latency-p95",
        "The slowest 5 % of frontend responses take longer than FrontendP95Seconds (3 of 5 minutes). Look first at "
        "frontend "
        "CPU and task count (is it at its maximum?), then at backend latency the pages wait for.",
        "FrontendP95Seconds",
        "GreaterThanThreshold",
        "latency",
        5,
        Namespace="AWS/ApplicationELB",
        MetricName="TargetResponseTime",
        Dimensions=_dims(LoadBalancer=alb, TargetGroup=Ref(f"{FRONTEND.title}TargetGroupFullName")),
        ExtendedStatistic="p95",
        Period=60,
    )
    t.resources["FrontendLatencyP95Alarm"].DatapointsToAlarm = 3
    _alarm(
        t,
        "RejectedConnectionsAlarm",
        "alb-rejected-connections",
        "The ALB rejected connections because it reached its connection limit: attendees cannot connect or their "
        "WebSockets drop. Look first at ActiveConnectionCount on the dashboard; ask AWS to pre-warm the ALB before "
        "the next event.",
        "RejectedConnectionsPer5Minutes",
        "GreaterThanThreshold",
        "errors",
        1,
        Namespace="AWS/ApplicationELB",
        MetricName="RejectedConnectionCount",
        Dimensions=_dims(LoadBalancer=alb),
        Statistic="Sum",
        Period=300,
    )


def _ecs_alarms(t: Template, svc: AppService) -> None:
    dims = _dims(ClusterName=Ref("ClusterName"), ServiceName=service_name(svc))
    for kind, metric, threshold in (
        ("cpu", "CPUUtilization", "EcsCpuAlarmPercent"),
        ("memory", "MemoryUtilization", "EcsMemoryAlarmPercent"),
    ):
        _alarm(
            t,
            f"{svc.title}{kind.capitalize()}HighAlarm",
            f"{svc.name}-{kind}-high",
            f"The {svc.name} tasks average more than {threshold} % {kind} for 15 minutes: scaling is at its maximum "
            "or cannot "
            f"keep up{' (a leak shows as a steady climb)' if kind == 'memory' else ''}. Look first at the task count "
            "against "
            f"{svc.title}MaxCapacity, then raise the maximum or the task size.",
            threshold,
            "GreaterThanThreshold",
            "utilisation",
            3,
            "HasServices",
            Namespace="AWS/ECS",
            MetricName=metric,
            Dimensions=dims,
            Statistic="Average",
            Period=300,
        )
    _alarm(
        t,
        f"{svc.title}TasksBelowMinimumAlarm",
        f"{svc.name}-tasks-below-minimum",
        f"Fewer {svc.name} tasks run than {svc.title}MinCapacity for TaskShortfallMinutes minutes: tasks crash, fail "
        "health checks, or Fargate Spot capacity was reclaimed. Look first at the ECS service events and "
        "stopped-task reasons.",
        f"{svc.title}MinCapacity",
        "LessThanThreshold",
        "tasks",
        Ref("TaskShortfallMinutes"),
        "HasServices",
        Namespace="ECS/ContainerInsights",
        MetricName="RunningTaskCount",
        Dimensions=dims,
        Statistic="Average",
        Period=60,
    )


def redis_node_ids() -> list[Sub]:
    """Cache cluster IDs of every node the replication group can have (<group>-001 ...)."""
    return [Sub("${RedisReplicationGroupId}-" + f"{i:03d}") for i in range(1, MAX_REDIS_NODES + 1)]


def _redis_alarms(t: Template) -> None:
    specs = (
        (
            "RedisEngineCpuAlarm",
            "redis-engine-cpu",
            "EngineCPUUtilization",
            "Average",
            3,
            "RedisCpuAlarmPercent",
            "Redis's single engine thread is busier than RedisCpuAlarmPercent % for 15 minutes: WebSocket fan-out "
            "slows for "
            "everyone. Look first at backend task count (more tasks, more pub/sub traffic), then consider a larger "
            "node type.",
        ),
        (
            "RedisMemoryAlarm",
            "redis-memory",
            "DatabaseMemoryUsagePercentage",
            "Average",
            3,
            "RedisMemoryAlarmPercent",
            "Redis uses more than RedisMemoryAlarmPercent % of its maxmemory: evictions follow, and sessions or "
            "messages get lost. "
            "Look first at Evictions and key counts, then at the node type.",
        ),
        (
            "RedisEvictionsAlarm",
            "redis-evictions",
            "Evictions",
            "Sum",
            1,
            "RedisEvictionsPer5Minutes",
            "Redis is evicting keys because it is out of memory: WebSocket state is being lost. Look first at "
            "DatabaseMemoryUsagePercentage; scale the node type up.",
        ),
        (
            "RedisConnectionsAlarm",
            "redis-connections",
            "CurrConnections",
            "Maximum",
            1,
            "RedisConnectionsThreshold",
            "A Redis node has more than RedisConnectionsThreshold client connections (its limit is 65000): a "
            "connection leak "
            "in the backend, or far more tasks than planned. Look first at backend task count and restarts.",
        ),
        (
            "RedisReplicationLagAlarm",
            "redis-replication-lag",
            "ReplicationLag",
            "Maximum",
            1,
            "RedisReplicationLagSeconds",
            "A Redis replica lags its primary by more than RedisReplicationLagSeconds: a failover now would lose "
            "writes. Look "
            "first at primary engine CPU and network; single-node environments have no replica and never fire.",
        ),
    )
    for logical_id, suffix, metric, stat, periods, threshold, description in specs:
        queries = [
            _query(f"node{i}", "AWS/ElastiCache", metric, stat, 300, CacheClusterId=node)
            for i, node in enumerate(redis_node_ids(), start=1)
        ]
        every = ", ".join(q.Id for q in queries)
        queries.append(
            cw.MetricDataQuery(
                Id="worst", Label=f"{metric} (worst node)", Expression=f"MAX([{every}])", ReturnData=True
            )
        )
        _alarm(t, logical_id, suffix, description, threshold, "GreaterThanThreshold", "redis", periods, Metrics=queries)


def _network_alarms(t: Template) -> None:
    for i in range(1, AZ_COUNT + 1):
        nat = Ref(f"NatGateway{i}Id")
        _alarm(
            t,
            f"NatGateway{i}PortAllocationAlarm",
            f"nat-{i}-port-allocation",
            f"NAT gateway {i} could not allocate a source port: too many concurrent connections to one destination, so "
            "tasks cannot reach ECR, Secrets Manager or external APIs. Look first at which task opens the "
            "connections (VPC flow logs).",
            "NatPortAllocationErrorsPer5Minutes",
            "GreaterThanThreshold",
            "network",
            1,
            nat_condition_of(i),
            Namespace="AWS/NATGateway",
            MetricName="ErrorPortAllocation",
            Dimensions=_dims(NatGatewayId=nat),
            Statistic="Sum",
            Period=300,
        )
        _alarm(
            t,
            f"NatGateway{i}PacketsDroppedAlarm",
            f"nat-{i}-packets-dropped",
            f"NAT gateway {i} drops packets: egress from the private subnets is failing. Look first at the AWS Health "
            f"dashboard for the AZ, then at ErrorPortAllocation and connection counts.",
            "NatPacketsDroppedPer5Minutes",
            "GreaterThanThreshold",
            "network",
            1,
            nat_condition_of(i),
            Namespace="AWS/NATGateway",
            MetricName="PacketsDropCount",
            Dimensions=_dims(NatGatewayId=nat),
            Statistic="Sum",
            Period=300,
        )
    _alarm(
        t,
        "WafBlockedRequestsAlarm",
        "waf-blocked-requests",
        "WAF blocks more than WafBlockedPer5Minutes requests in 5 minutes: an attack, or a venue's shared NAT address "
        "hitting the per-IP rate limit (then real attendees are blocked). Look first at the WAF sampled requests: rule "
        "per-ip-rate-limit with one client IP means a venue; raise WafRateLimit.",
        "WafBlockedPer5Minutes",
        "GreaterThanThreshold",
        "network",
        1,
        "HasWaf",
        Namespace="AWS/WAFV2",
        MetricName="BlockedRequests",
        Dimensions=_dims(WebACL=Sub(WEB_ACL_METRIC), Region=Ref("AWS::Region"), Rule="ALL"),
        Statistic="Sum",
        Period=300,
    )


# Alarms every environment has (no condition): shown on the dashboard's alarm widget.
def _unconditional_alarms(t: Template) -> list[str]:
    return sorted(k for k, r in t.resources.items() if isinstance(r, cw.Alarm) and not getattr(r, "Condition", None))


def dashboard_body(alarm_ids: list[str]) -> str:
    """Dashboard JSON with ${...} placeholders for Fn::Sub (parameters, pseudo-parameters, alarm ARNs)."""
    region = "${AWS::Region}"
    alb = ("LoadBalancer", "${AlbFullName}")
    ecs = "${ClusterName}"
    nodes = ["${RedisReplicationGroupId}-" + f"{i:03d}" for i in range(1, MAX_REDIS_NODES + 1)]
    svc_names = {svc.name: "${NamePrefix}-" + svc.name + "-service" for svc in SERVICES}

    def tg(svc: AppService) -> list[str]:
        return [*alb, "TargetGroup", "${" + svc.title + "TargetGroupFullName}"]

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Sum", **extra: Any) -> dict[str, Any]:
        props = {
            "title": title,
            "region": region,
            "metrics": metrics,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            **extra,
        }
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": props}

    widgets = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": ["${" + a + ".Arn}" for a in alarm_ids]},
        },
        widget(
            "Requests and p95 latency",
            [
                ["AWS/ApplicationELB", "RequestCount", *alb, {"label": "requests"}],
                *[
                    [
                        "AWS/ApplicationELB",
                        "TargetResponseTime",
                        *tg(svc),
                        {"stat": "p95", "yAxis": "right", "label": f"{svc.name} p95 (s)"},
                    ]
                    for svc in SERVICES
                ],
            ],
            0,
            3,
        ),
        widget(
            "5xx",
            [
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *alb, {"label": "ALB 5xx"}],
                *[
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *tg(svc), {"label": f"{svc.name} 5xx"}]
                    for svc in SERVICES
                ],
            ],
            12,
            3,
        ),
        widget(
            "Healthy / unhealthy hosts",
            [
                m
                for svc in SERVICES
                for m in (
                    ["AWS/ApplicationELB", "HealthyHostCount", *tg(svc), {"label": f"{svc.name} healthy"}],
                    ["AWS/ApplicationELB", "UnHealthyHostCount", *tg(svc), {"label": f"{svc.name} unhealthy"}],
                )
            ],
            0,
            9,
            "Maximum",
        ),
        widget(
            "Tasks per service",
            [
                m
                for svc in SERVICES
                for m in (
                    [
                        "ECS/ContainerInsights",
                        "RunningTaskCount",
                        "ClusterName",
                        ecs,
                        "ServiceName",
                        svc_names[svc.name],
                        {"label": f"{svc.name} running"},
                    ],
                    [
                        "ECS/ContainerInsights",
                        "DesiredTaskCount",
                        "ClusterName",
                        ecs,
                        "ServiceName",
                        svc_names[svc.name],
                        {"label": f"{svc.name} desired"},
                    ],
                )
            ],
            12,
            9,
            "Average",
        ),
        widget(
            "Service CPU / memory %",
            [
                m
                for svc in SERVICES
                for m in (
                    [
                        "AWS/ECS",
                        "CPUUtilization",
                        "ClusterName",
                        ecs,
                        "ServiceName",
                        svc_names[svc.name],
                        {"label": f"{svc.name} CPU"},
                    ],
                    [
                        "AWS/ECS",
                        "MemoryUtilization",
                        "ClusterName",
                        ecs,
                        "ServiceName",
                        svc_names[svc.name],
                        {"label": f"{svc.name} memory"},
                    ],
                )
            ],
            0,
            15,
            "Average",
        ),
        widget(
            "WebSockets: ALB connections",
            [
                ["AWS/ApplicationELB", "ActiveConnectionCount", *alb, {"label": "active"}],
                ["AWS/ApplicationELB", "NewConnectionCount", *alb, {"label": "new"}],
                ["AWS/ApplicationELB", "RejectedConnectionCount", *alb, {"label": "rejected"}],
            ],
            12,
            15,
        ),
        widget(
            "Redis engine CPU / memory %",
            [
                m
                for node in nodes
                for m in (
                    ["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", node],
                    ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", node],
                )
            ],
            0,
            21,
            "Average",
        ),
        widget(
            "Redis connections / evictions",
            [
                m
                for node in nodes
                for m in (
                    ["AWS/ElastiCache", "CurrConnections", "CacheClusterId", node],
                    ["AWS/ElastiCache", "Evictions", "CacheClusterId", node, {"stat": "Sum", "yAxis": "right"}],
                )
            ],
            12,
            21,
            "Maximum",
        ),
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def build() -> Template:
    """Topic, alarms and dashboard."""
    t = Template(
        Description="Cylink monitoring: alarms to an encrypted SNS topic, release rollback alarms, one dashboard"
    )
    _params(t)
    _topic(t)
    _alb_alarms(t)
    for svc in SERVICES:
        _ecs_alarms(t, svc)
    _redis_alarms(t)
    _network_alarms(t)
    t.add_resource(
        cw.Dashboard(
            "Dashboard",
            # dashboards are global per account, not regional: the region keeps the same environment in two
            # regions apart (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html)
            DashboardName=Sub("${NamePrefix}-${EnvironmentName}-${AWS::Region}"),
            DashboardBody=Sub(dashboard_body(_unconditional_alarms(t))),
        )
    )
    add_output(t, "AlarmTopicArn", Ref("AlarmTopic"), "SNS topic every alarm notifies: subscribe the on-call here.")
    add_output(
        t,
        "DashboardUrl",
        Sub(
            "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${Dashboard}"
        ),
        "CloudWatch dashboard of the environment.",
    )
    for svc in SERVICES:
        add_output(
            t,
            f"{svc.title}DeploymentAlarmNames",
            Join(",", [Ref(f"{svc.title}Target5xxRateAlarm"), Ref(f"{svc.title}UnhealthyHostsAlarm")]),
            f"Alarms that make ECS roll a {svc.name} release back (comma-separated names).",
        )
    return t
