"""``deploy.py status``: one screen of an environment's health, exit 0 when healthy and 1 when not (a CI gate).

Everything is found from the stack (outputs, nested resources), never from names written here or a
name prefix: the stack, URLs, ECS services (counts, task definition, image tag, rollout),
target health per target group, the Redis replication group and its nodes, alarms in ALARM, the
last stopped tasks' reasons, and the scheduled events (the event slots of the stack's parameters).
"""

from __future__ import annotations

import shlex
from datetime import timezone
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cylink_deploy import aws, documents, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import DeployError, StackStateError
from cylink_deploy.jobs.model import StackRequest, missing_stack
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.ops import event, rollout

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackResourceSummaryTypeDef
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_elasticache import ElastiCacheClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-alarm.html
ALARMS = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
ALARM_NAMES_PER_CALL = 100


class Unhealthy(DeployError):
    """``status`` found problems (exit 1): the one line names them; the screen above shows the detail."""


StatusRequest = StackRequest


@dataclass(frozen=True)
class Target:
    id: str
    port: int | None
    state: str
    reason: str = ""
    description: str = ""


@dataclass(frozen=True)
class TargetGroup:
    logical_id: str  # BackendTargetGroup
    arn: str
    targets: list[Target]

    @property
    def healthy(self) -> int:
        return sum(t.state == "healthy" for t in self.targets)


@dataclass(frozen=True)
class Redis:
    id: str
    status: str
    nodes: list[tuple[str, str]]  # (cache cluster ID, current role)


@dataclass
class StatusView:
    """What ``status`` shows; ``problems`` are why it exits 1."""

    stack: str
    stack_status: str
    last_update: str
    site_url: str = ""
    api_url: str = ""
    services: list[rollout.ServiceState] = field(default_factory=list)
    image_tags: dict[str, str] = field(default_factory=dict)  # service -> tag
    target_groups: list[TargetGroup] = field(default_factory=list)
    redis: list[Redis] = field(default_factory=list)
    alarms: list[dict[str, str]] = field(default_factory=list)
    stopped: list[rollout.StoppedTask] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # the event slots (deploy.py event), as documents
    problems: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        doc = documents.fields(self)
        doc["stackName"] = doc.pop("stack")
        for group in doc["redis"]:  # (cache cluster ID, role) pairs as objects
            group["nodes"] = [{"cacheClusterId": node, "role": role} for node, role in group["nodes"]]
        doc["healthy"] = not self.problems
        return doc


def resources_of(cfn: CloudFormationClient, stack: str, types: set[str]) -> list[StackResourceSummaryTypeDef]:
    """Resources of these types anywhere under ``stack`` (one walk of the nested stacks)."""
    stacks = [stack, *(n.physical_id for n in st.nested_stacks(cfn, stack))]
    return [
        r
        for s in stacks
        for r in st.resource_summaries(cfn, s)
        if r["ResourceType"] in types and r.get("PhysicalResourceId")
    ]


def target_health(elbv2: ElasticLoadBalancingv2Client, logical_id: str, arn: str) -> TargetGroup:
    described = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    targets = [
        Target(
            d["Target"]["Id"],
            d["Target"].get("Port"),
            d["TargetHealth"].get("State", ""),
            d["TargetHealth"].get("Reason", ""),
            d["TargetHealth"].get("Description", ""),
        )
        for d in described
    ]
    return TargetGroup(logical_id, arn, targets)


def replication_group(elasticache: ElastiCacheClient, group_id: str) -> Redis:
    group = elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    nodes = [
        (m.get("CacheClusterId", ""), m.get("CurrentRole", ""))
        for ng in group.get("NodeGroups", [])
        for m in ng.get("NodeGroupMembers", [])
    ]
    return Redis(group_id, group.get("Status", ""), nodes)


def alarms_in_alarm(cloudwatch: CloudWatchClient, names: list[str]) -> list[dict[str, str]]:
    """Those of the stack's own alarms (by name) that are in ALARM. Never a name prefix: another environment's
    NamePrefix can extend this one's (``cylink`` and ``cylink-qa``), and its alarms are not this stack's.
    DescribeAlarms takes at most 100 names per call:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html"""
    found = []
    for start in range(0, len(names), ALARM_NAMES_PER_CALL):
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNames=names[start : start + ALARM_NAMES_PER_CALL],
            StateValue="ALARM",
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        ):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                found.append({"name": alarm["AlarmName"], "reason": alarm.get("StateReason", "")})
    return sorted(found, key=lambda a: a["name"])


def release_first(env: str, stack_name: str | None) -> str:
    """The one problem of an environment deployed without ``ImageTag``: there is nothing to be healthy yet."""
    stack = ["--stack-name", stack_name] if stack_name else []
    command = shlex.join(["python", "deploy.py", "release", "--env", env, *stack, "--image-tag", "TAG"])
    return (
        f"nothing has been released yet (ImageTag is empty, so there are no ECS services): run {command} "
        "(with --build --backend-dir DIR --frontend-dir DIR to build and push the images first)"
    )


def problems(view: StatusView, not_released: str = "") -> list[str]:
    """Pure: what is not healthy in ``view``. ``not_released``: the stack has no ``ImageTag`` (the line saying what
    to run); its target groups then have no target to be healthy, which is not a target's failure."""
    found = [not_released] if not_released else []
    if view.stack_status not in st.UPDATABLE:
        found.append(f"stack {view.stack_status}")
    for svc in view.services:
        if not svc.healthy:
            found.append(
                f"{svc.name} {svc.rollout or svc.status} ({svc.running}/{svc.desired} running, {svc.pending} pending)"
            )
    desired = {s.name: s.desired for s in view.services}
    for tg in view.target_groups:
        bad = [t for t in tg.targets if t.state not in ("healthy", "initial", "draining")]
        service = tg.logical_id.removesuffix("TargetGroup").lower()
        if bad:
            found.append(f"{tg.logical_id}: {len(bad)} unhealthy target(s) ({bad[0].reason or bad[0].state})")
        elif not tg.healthy and desired.get(service, 1) > 0 and not not_released:
            found.append(f"{tg.logical_id}: no healthy target")
    found += [f"Redis {r.id} {r.status}" for r in view.redis if r.status != "available"]
    found += [f"alarm {a['name']}" for a in view.alarms]
    return found


def status(request: StatusRequest, clients: aws.Clients, reporter: Reporter) -> StatusView:
    """Gather the view, show it, and return it (``problems`` empty when healthy)."""
    cfn, stack = clients.cloudformation, request.stack
    described = st.describe(cfn, stack)
    if described is None:
        raise StackStateError(missing_stack(stack, request.env, request.stack_name, clients.region))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    updated = described.get("LastUpdatedTime") or described.get("CreationTime")
    view = StatusView(
        stack,
        described["StackStatus"],
        updated.astimezone(timezone.utc).isoformat(timespec="seconds") if updated else "",  # ISO 8601, no microseconds
        outputs.get("SiteUrl", ""),
        outputs.get("ApiUrl", ""),
    )
    names = rollout.service_names(outputs)
    if names and outputs.get("ClusterName"):
        view.services = rollout.describe_services(clients.ecs, outputs["ClusterName"], names)
        tags = rollout.image_tags(clients.ecs, [s.task_definition for s in view.services])
        view.image_tags = {s.name: tags.get(s.task_definition, "") for s in view.services}
        for svc in view.services:
            view.stopped += rollout.stopped_tasks(clients.ecs, outputs["ClusterName"], svc.name, svc.service)
    alarms = []
    for res in resources_of(cfn, stack, {TARGET_GROUP, REPLICATION_GROUP, *ALARMS}):
        if res["ResourceType"] == TARGET_GROUP:
            view.target_groups.append(target_health(clients.elbv2, res["LogicalResourceId"], res["PhysicalResourceId"]))
        elif res["ResourceType"] == REPLICATION_GROUP:
            view.redis.append(replication_group(clients.elasticache, res["PhysicalResourceId"]))
        else:  # an alarm's physical ID is its name (Ref returns the name: AWS::CloudWatch::Alarm, Return values)
            alarms.append(res["PhysicalResourceId"])
    view.target_groups.sort(key=lambda tg: tg.logical_id)
    view.alarms = alarms_in_alarm(clients.cloudwatch, sorted(alarms))
    view.events = [e.document(polling.now()) for e in event.slots(parameters)]
    released = parameters.get("ImageTag", "-") != ""  # root.py: HasImageTag decides whether ServicesStack exists
    view.problems = problems(view, "" if released else release_first(request.env, request.stack_name))
    reporter.show(view)
    reporter.result(view.document())
    return view
