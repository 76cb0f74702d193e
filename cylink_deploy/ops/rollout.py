"""ECS services as the deploy tool sees them: per-service deployment state, stopped tasks and why they
stopped, and the rollout view that runs beside the stack events while a release updates the services.

Steps take the ECS client and return data; nothing here prints (the watch reports through a Reporter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cylink_deploy.jobs.reporter import Reporter
from templates_src.common import SERVICES

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import DeploymentTypeDef, TaskTypeDef

SERVICES_STACK = "ServicesStack"  # the root's logical ID of the nested stack that holds the ECS services
STOPPED_SHOWN = 3  # stopped tasks per service: enough to see a pattern, few enough for one screen


@dataclass(frozen=True)
class ServiceState:
    """One ECS service: its counts, the primary deployment's rollout, and what it runs."""

    name: str  # "backend", "frontend"
    service: str  # the ECS service name
    status: str
    desired: int
    running: int  # of the primary (newest) deployment: during a rollout, the new tasks
    pending: int
    failed: int
    rollout: str  # rolloutState of the PRIMARY deployment: IN_PROGRESS, COMPLETED, FAILED ("" if unknown)
    rollout_reason: str
    task_definition: str  # family:revision
    deployments: int

    @property
    def healthy(self) -> bool:
        """Steady: everything desired is running, one deployment, and it did not fail."""
        return (
            self.status == "ACTIVE"
            and self.running >= self.desired
            and self.pending == 0
            and self.rollout != "FAILED"
            and self.deployments <= 1
        )

    def line(self) -> str:
        text = (
            f"{self.name}: {self.rollout or 'no deployment'}  desired {self.desired} running {self.running} "
            f"pending {self.pending} failed {self.failed}  {self.task_definition}"
        )
        return text + (f" ({self.rollout_reason})" if self.rollout == "FAILED" and self.rollout_reason else "")


@dataclass(frozen=True)
class StoppedTask:
    """A task that stopped, and why: ``CannotPullContainerError``, an essential container that exited,
    failed ELB health checks, ..."""

    name: str  # the service ("backend")
    task_id: str
    stopped_at: datetime | None
    reason: str
    task_definition: str

    def line(self) -> str:
        at = self.stopped_at.strftime("%H:%M:%S") if self.stopped_at else "?"
        return f"{self.name} task {self.task_id} stopped {at}: {self.reason} ({self.task_definition})"


def short_task_definition(arn: str) -> str:
    """arn:aws:ecs:...:task-definition/cyl-backend:7 -> cyl-backend:7"""
    return arn.rsplit("/", 1)[-1]


def service_names(outputs: dict[str, str]) -> dict[str, str]:
    """Service (backend, frontend) -> its ECS service name, from the root stack's outputs."""
    return {svc.name: outputs[f"{svc.title}ServiceName"] for svc in SERVICES if f"{svc.title}ServiceName" in outputs}


def describe_services(ecs: ECSClient, cluster: str, names: dict[str, str]) -> list[ServiceState]:
    """The state of each service (missing services are left out)."""
    by_service = {v: k for k, v in names.items()}
    found = ecs.describe_services(cluster=cluster, services=list(names.values()))["services"]
    states = []
    for svc in found:
        deployments = svc.get("deployments", [])
        primary: DeploymentTypeDef = next((d for d in deployments if d.get("status") == "PRIMARY"), None) or {}
        states.append(
            ServiceState(
                by_service.get(svc["serviceName"], svc["serviceName"]),
                svc["serviceName"],
                svc.get("status", ""),
                svc.get("desiredCount", 0),
                primary.get("runningCount", svc.get("runningCount", 0)),
                primary.get("pendingCount", svc.get("pendingCount", 0)),
                primary.get("failedTasks", 0),
                primary.get("rolloutState", ""),
                primary.get("rolloutStateReason", ""),
                short_task_definition(primary.get("taskDefinition") or svc.get("taskDefinition", "")),
                len(deployments),
            )
        )
    return sorted(states, key=lambda s: s.name)


def stop_reason(task: TaskTypeDef) -> str:
    """Why a task stopped: the task's reason, plus the first container's own reason or exit code when
    they say more (CannotPullContainerError is a container reason; 'Essential container in task exited'
    needs the exit code to mean anything)."""
    reason = task.get("stoppedReason") or task.get("stopCode") or "no reason given"
    for container in task.get("containers", []):
        extra = container.get("reason") or (
            f"exit code {container['exitCode']}" if container.get("exitCode") not in (None, 0) else ""
        )
        if extra and extra not in reason:
            return f"{reason}: {container.get('name', '')} {extra}".replace("  ", " ")
    return str(reason)


def stopped_tasks(
    ecs: ECSClient, cluster: str, name: str, service: str, limit: int = STOPPED_SHOWN
) -> list[StoppedTask]:
    """The service's most recently stopped tasks, newest first (ECS keeps them for about an hour)."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED").get("taskArns", [])
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", [])
    tasks.sort(key=lambda t: t.get("stoppedAt") or t.get("createdAt") or datetime.min, reverse=True)
    return [
        StoppedTask(
            name,
            t["taskArn"].rsplit("/", 1)[-1],
            t.get("stoppedAt"),
            stop_reason(t),
            short_task_definition(t.get("taskDefinitionArn", "")),
        )
        for t in tasks[:limit]
    ]


def image_tags(ecs: ECSClient, task_definitions: Sequence[str]) -> dict[str, str]:
    """Task definition -> the image tag its first container runs."""
    tags = {}
    for td in task_definitions:
        if td:
            image = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0][
                "image"
            ]
            tags[td] = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    return tags


def services_stack_updating(events: list[StackEventTypeDef]) -> bool:
    """Has this operation started updating (or rolling back) the nested services stack?"""
    return any(
        e.get("LogicalResourceId") == SERVICES_STACK and e.get("ResourceStatus", "").endswith("IN_PROGRESS")
        for e in events
    )


@dataclass
class RolloutWatch:
    """The per-poll view of a release: once the services stack is being updated, describe the services
    and report each change of state and each newly stopped task as soon as it appears (not only when
    CloudFormation gives up). Remembers the first failed rollout for the release's one-line verdict."""

    ecs: ECSClient
    cluster: str
    names: dict[str, str]
    reporter: Reporter
    since: datetime
    last: dict[str, ServiceState] = field(default_factory=dict)
    seen_tasks: set[str] = field(default_factory=set)
    failure: str = ""  # "backend: ECS deployment circuit breaker: ..." once a rollout failed
    stop_reasons: list[str] = field(default_factory=list)
    polls: int = 0

    def __call__(self, events: list[StackEventTypeDef]) -> None:
        if not services_stack_updating(events):
            return
        self.poll()

    def poll(self) -> None:
        self.polls += 1
        for state in describe_services(self.ecs, self.cluster, self.names):
            if self.last.get(state.name) != state:
                self.last[state.name] = state
                self.reporter.show(state)
            if state.rollout == "FAILED" and not self.failure:
                self.failure = f"{state.name}: {state.rollout_reason or 'rollout failed'}"
            for task in reversed(stopped_tasks(self.ecs, self.cluster, state.name, state.service)):
                if task.task_id in self.seen_tasks or (task.stopped_at and task.stopped_at < self.since):
                    continue
                self.seen_tasks.add(task.task_id)
                self.stop_reasons.append(f"{task.name}: {task.reason}")
                self.reporter.show(task)

    def verdict(self) -> str:
        """Why the rollout failed, for "release TAG rolled back: <reason>" ("" if nothing was seen)."""
        parts = [self.failure] if self.failure else []
        if self.stop_reasons:
            parts.append("last stopped task " + self.stop_reasons[-1])
        return "; ".join(parts)
