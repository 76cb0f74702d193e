"""How people see the day-2 views: an ECS rollout and its stopped tasks, the status screen, log events
(and their JSON Lines form), the drift report, and the scheduled events (with a new one's cost)."""

from __future__ import annotations

from typing import Any

from cylink_deploy.ops.drift import DriftReport
from cylink_deploy.ops.event import EventCost, EventList, in_tokyo_and_utc
from cylink_deploy.ops.logs import LogEvent
from cylink_deploy.ops.rollout import ServiceState, StoppedTask
from cylink_deploy.ops.status import StatusView
from cylink_deploy.output.cost import event_text
from cylink_deploy.output.human import BOLD, GREEN, JSON_LINES, RED, HumanReporter, formats


@formats(ServiceState)
def rollout(out: HumanReporter, state: ServiceState) -> None:
    """A service's deployment changed (shown between the stack events while a release rolls)."""
    text = f"    ECS {state.line()}"
    out.line(out.c(RED, text) if state.rollout == "FAILED" else text)


@formats(StoppedTask)
def stopped_task(out: HumanReporter, task: StoppedTask) -> None:
    out.line(out.c(RED, f"    ECS {task.line()}"))


@formats(StatusView)
def status(out: HumanReporter, view: StatusView) -> None:
    """One screen: stack, URLs, services, targets, Redis, alarms, stopped tasks, and HEALTHY when it is."""
    updated = view.last_update.replace("T", " ").replace("+00:00", " UTC")  # ISO 8601 in --json
    out.line(out.c(BOLD, f"{view.stack}") + f"  {view.stack_status}  (last update {updated})")
    out.line(f"  site {view.site_url or '-'}   api {view.api_url or '-'}")
    out.line()
    _services(out, view)
    out.line()
    _targets(out, view)
    _the_rest(out, view)


def _services(out: HumanReporter, view: StatusView) -> None:
    if not view.services:  # an empty table said nothing; the error line says what to run
        out.line("  no ECS services: nothing has been released yet")
        return
    out.table(
        ["Service", "Desired", "Running", "Pending", "Task definition", "Image tag", "Rollout"],
        [
            [
                s.name,
                str(s.desired),
                str(s.running),
                str(s.pending),
                s.task_definition,
                view.image_tags.get(s.name, ""),
                s.rollout or "-",
            ]
            for s in view.services
        ],
        [not s.healthy for s in view.services],
    )


def _the_rest(out: HumanReporter, view: StatusView) -> None:
    """Redis, alarms, events, stopped tasks, and HEALTHY when it is."""
    for redis in view.redis:
        out.line(
            f"  Redis {redis.id}: {redis.status}; " + ", ".join(f"{node} {role or '?'}" for node, role in redis.nodes)
        )
    for alarm in view.alarms:
        out.line(out.c(RED, f"  ALARM {alarm['name']}: {alarm['reason']}"))
    for e in view.events:
        tasks = ", ".join(f"{name} {count}" for name, count in e["tasks"].items())
        when = f"capacity from {e['scaleUpAt']} until {e['scaleDownAt']}"
        out.line(f"  Event {e['name']} ({e['state']}): {when}; min tasks {tasks}")
    if view.stopped:
        out.line()
        out.line("Last stopped tasks:")
        for task in view.stopped:
            out.line(f"  {task.line()}")
    if not view.problems:
        out.line()
        out.line(out.c(GREEN, "HEALTHY"))
    # Not healthy: the command's one error line names the problems (commands/status.py raises Unhealthy, cli.py
    # prints it); a verdict here too printed the same line twice.


def _targets(out: HumanReporter, view: StatusView) -> None:
    rows = [
        [tg.logical_id, t.id, str(t.port or ""), t.state, t.reason or t.description]
        for tg in view.target_groups
        for t in tg.targets
    ]
    rows += [[tg.logical_id, "(no targets)", "", "", ""] for tg in view.target_groups if not tg.targets]
    out.table(
        ["Target group", "Target", "Port", "Health", "Reason"],
        rows,
        [r[3] not in ("healthy", "initial", "draining") for r in rows],
    )


@formats(LogEvent)
def log_event(out: HumanReporter, event: LogEvent) -> None:
    out.line(f"{event.timestamp.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} [{event.task_id}] {event.message}")


def log_event_json(event: LogEvent) -> dict[str, Any]:
    """One JSON object per line on stdout (JSON Lines): ``logs --follow`` never ends, so no document."""
    return {"timestamp": event.timestamp.isoformat(), "taskId": event.task_id, "message": event.message}


JSON_LINES[LogEvent] = log_event_json


@formats(DriftReport)
def drift(out: HumanReporter, report: DriftReport) -> None:
    for reason in report.incomplete:
        out.warn(f"detection incomplete: {reason}")
    if not report.drifted:
        out.line(out.c(GREEN, f"No drift: {len(report.checked)} stack(s) match their templates"))
        return
    body = []
    for d in report.drifted:
        diffs = [f"{p.path}: {p.expected or '(none)'} -> {p.actual or '(none)'}" for p in d.differences] or [
            "(resource deleted)" if d.status == "DELETED" else ""
        ]
        body += [[d.stack, d.logical_id, d.resource_type, d.status, diffs[0]]] + [
            ["", "", "", "", more] for more in diffs[1:]
        ]
    out.table(["Stack", "Logical ID", "Type", "Drift", "Expected -> actual"], body)


@formats(EventList)
def events(out: HumanReporter, view: EventList) -> None:
    """Each filled event slot: when the capacity rises and falls, the minimum tasks, and its state."""
    if not view.events:
        out.line(f"{view.stack}: no event scheduled")
        return
    names = [s for s in (view.events[0].tasks or {})]
    out.table(
        ["Event", "Capacity from", "Until", *[f"Min {n} tasks" for n in names], "State"],
        [
            [
                e.name,
                in_tokyo_and_utc(e.scale_up),
                in_tokyo_and_utc(e.scale_down),
                *[str(e.tasks[n]) for n in names],
                e.state(view.now),
            ]
            for e in view.events
        ],
    )


@formats(EventCost)
def event_cost(out: HumanReporter, view: EventCost) -> None:
    """The new event, and what it costs on top of the month (the cost model's table)."""
    e = view.event
    tasks = ", ".join(f"{name} at least {count}" for name, count in e.tasks.items())
    out.step(
        f"{e.name}: capacity from {e.scale_up:%Y-%m-%d %H:%M} UTC (the event starts {view.start:%H:%M} UTC) until "
        f"{e.scale_down:%Y-%m-%d %H:%M} UTC; {tasks} tasks"
    )
    if view.estimate is None:
        out.warn(f"no cost estimate: {view.why_no_estimate}")
        return
    out.line(out.c(BOLD, f"  Cost of the event: about USD {view.estimate.total:,.2f} on top of the month"))
    for line in event_text(view.estimate):
        out.line(f"  {line}")
