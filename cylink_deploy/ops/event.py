"""``deploy.py event``: capacity for an event on a schedule, as a reviewed change set.

WebSocket connections stay on the task they first reach, so tasks that target tracking adds minutes after
the doors open get none of the crowd, and a scale-in during the event drops every connection on the tasks
it stops. An event therefore raises each service's *minimum* ``--warm-up`` before the start and lowers it
again at the end, through scheduled actions on the scalable targets (``templates_src/services.py``).

The templates hold ``EVENT_SLOTS`` fixed slots of parameters, not a list: a reviewer reads a few named
parameters change in the change set, and a plain deploy keeps them (``params.KEEP_PREVIOUS``). An event
is known by its slot (``event1``, ``event2``); a slot whose event is over is free again, and the next
``event`` command empties it. Everything here is read from the stack's parameters and the parameter file;
nothing is written but through ``deploy``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from cylink_deploy import aws, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cost import model as cost
from cylink_deploy.cost import pricing
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.jobs import build as build_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.ops.release import WithFields
from cylink_deploy.preflight import params
from cylink_deploy.project import Project
from templates_src import render
from templates_src.common import SERVICES
from templates_src.services import EVENT_SLOTS

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # the slot parameters' form: at(yyyy-mm-ddThh:mm:ss), UTC
WARM_UP = re.compile(r"^(\d+)([mh])$")
MAX_HOURS = 72.0  # longer is a new normal: raise <Svc>MinCapacity instead
MAX_WARM_UP = timedelta(hours=24)


@dataclass(frozen=True)
class Event:
    """One filled slot: from ``scale_up`` to ``scale_down`` (UTC) each service runs at least ``tasks``."""

    slot: int
    scale_up: datetime
    scale_down: datetime
    tasks: dict[str, int]  # service name -> minimum tasks during the event

    @property
    def name(self) -> str:
        return f"event{self.slot}"

    def state(self, now: datetime) -> str:
        if now >= self.scale_down:
            return "over"
        return "on now" if now >= self.scale_up else "scheduled"

    def document(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "scaleUpAt": self.scale_up.isoformat(),
            "scaleDownAt": self.scale_down.isoformat(),
            "tasks": dict(self.tasks),
            "state": self.state(now),
        }


@dataclass(frozen=True)
class EventRequest:
    """A new event (``start``), the events to list (``listing``), or the one to cancel (``cancel``)."""

    env: str
    stack_name: str | None = None
    start: datetime | None = None
    hours: float = 3.0
    warm_up: timedelta = timedelta(minutes=30)
    tasks: dict[str, int] = field(default_factory=dict)  # service name -> tasks; missing: the default
    listing: bool = False
    cancel: bool = False
    name: str | None = None  # --cancel NAME
    overrides: dict[str, str] = field(default_factory=dict)  # as for deploy: an event is a deploy
    execute: bool = True

    @property
    def stack(self) -> str:
        return model.stack_name(self.env, self.stack_name)

    def deploy_request(self, slot_values: dict[str, str]) -> model.DeployRequest:
        return model.DeployRequest(self.env, self.stack_name, {**self.overrides, **slot_values}, execute=self.execute)


@dataclass(frozen=True)
class EventList:
    """``event --list`` (and the events part of ``status``)."""

    stack: str
    events: list[Event]
    now: datetime


@dataclass(frozen=True)
class EventCost:
    """A new event and what it adds to the month (the cost model's event estimate)."""

    event: Event
    start: datetime
    estimate: cost.EventEstimate | None
    why_no_estimate: str = ""


# --- pure: flags, slots, checks -----------------------------------------------------------------


def parse_start(value: str) -> datetime:
    """``2026-12-10T18:00+09:00`` -> an aware datetime; a time without its offset is ambiguous."""
    try:
        start = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"--start {value!r}: use a date, time and offset, e.g. 2026-12-10T18:00+09:00") from None
    if start.tzinfo is None:
        raise BadInput(f"--start {value}: add the time zone offset (e.g. {value}+09:00 for Japan), or Z for UTC")
    return start.astimezone(timezone.utc)


def parse_warm_up(value: str) -> timedelta:
    """``30m``, ``1h``, ``0m`` -> how long before the start the capacity rises."""
    match = WARM_UP.fullmatch(value.strip())
    if not match:
        raise BadInput(f"--warm-up {value!r}: use minutes or hours, e.g. 30m or 1h")
    warm_up = timedelta(minutes=int(match.group(1)) * (60 if match.group(2) == "h" else 1))
    if warm_up > MAX_WARM_UP:
        raise BadInput(f"--warm-up {value}: at most {MAX_WARM_UP.total_seconds() / 3600:g}h")
    return warm_up


def check_hours(hours: float) -> float:
    if not 0 < hours <= MAX_HOURS:
        raise BadInput(
            f"--hours {hours:g}: must be more than 0 and at most {MAX_HOURS:g} (a longer event is a new normal: "
            "raise the services' MinCapacity in the parameter file instead)"
        )
    return hours


def _utc(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


def slots(parameters: Mapping[str, str]) -> list[Event]:
    """The filled slots of a stack's (or a deployment's) parameters."""
    events = []
    for n in range(1, EVENT_SLOTS + 1):
        up = parameters.get(f"Event{n}ScaleUpAt", "")
        if up:
            tasks = {s.name: int(parameters.get(f"Event{n}{s.title}Tasks", "0")) for s in SERVICES}
            events.append(Event(n, _utc(up), _utc(parameters[f"Event{n}ScaleDownAt"]), tasks))
    return events


def slot_values(events: list[Event]) -> dict[str, str]:
    """Every slot's parameters for these events (the others empty): what the change set sets."""
    by_slot = {e.slot: e for e in events}
    values = {}
    for n in range(1, EVENT_SLOTS + 1):
        e = by_slot.get(n)
        values[f"Event{n}ScaleUpAt"] = e.scale_up.strftime(TIME_FORMAT) if e else ""
        values[f"Event{n}ScaleDownAt"] = e.scale_down.strftime(TIME_FORMAT) if e else ""
        for s in SERVICES:
            values[f"Event{n}{s.title}Tasks"] = str(e.tasks[s.name]) if e else "0"
    return values


def ranges(parameters: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Service name -> (MinCapacity, MaxCapacity): the normal scaling range."""
    return {
        s.name: (int(parameters[f"{s.title}MinCapacity"]), int(parameters[f"{s.title}MaxCapacity"])) for s in SERVICES
    }


def event_tasks(asked: Mapping[str, int], normal: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """The task count per service: as asked (within its range), else the backend at its maximum (the guide's
    event) and the others unchanged."""
    tasks = {}
    for s in SERVICES:
        low, high = normal[s.name]
        count = asked.get(s.name, high if s.name == "backend" else low)
        if count > high:
            raise BadInput(
                f"--{s.name}-tasks {count} is above {s.title}MaxCapacity {high}: raise {s.title}MaxCapacity in the "
                "parameter file (and deploy) first, or ask for fewer"
            )
        if count < low:
            raise BadInput(f"--{s.name}-tasks {count} is below {s.title}MinCapacity {low}: an event never lowers it")
        tasks[s.name] = count
    return tasks


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


# Japan keeps no daylight saving time: the team's events are planned in Tokyo time (the guide's "18:00").
TOKYO = timezone(timedelta(hours=9), "JST")


def in_tokyo_and_utc(t: datetime) -> str:
    """A time as the team plans it (Tokyo) and as AWS stores the scheduled action (UTC): ``event --list``."""
    return f"{t.astimezone(TOKYO):%Y-%m-%d %H:%M} JST ({t.astimezone(timezone.utc):%H:%M} UTC)"


def plan_new(
    events: list[Event], start: datetime, hours: float, warm_up: timedelta, tasks: dict[str, int], now: datetime
) -> tuple[Event, list[Event]]:
    """The new event in the first free slot, and the events the stack keeps (those not over yet)."""
    if start <= now:
        raise BadInput(f"--start {_when(start)} is in the past (now {_when(now)})")
    scale_up = start - warm_up
    if scale_up <= now:
        raise BadInput(
            f"the warm-up would begin at {_when(scale_up)}, in the past: give a shorter --warm-up or a later --start"
        )
    kept = [e for e in events if e.state(now) != "over"]
    new = Event(0, scale_up, start + timedelta(hours=hours), tasks)
    for e in kept:
        if e.state(now) == "on now":
            raise BadInput(
                f"{e.name} is on now (until {_when(e.scale_down)}): schedule the next event after it ends; a change "
                "to the scalable targets during an event resets their minimum to the normal range"
            )
        if new.scale_up <= e.scale_down and e.scale_up <= new.scale_down:
            raise BadInput(
                f"this event ({_when(new.scale_up)} to {_when(new.scale_down)} with its warm-up) overlaps {e.name} "
                f"({_when(e.scale_up)} to {_when(e.scale_down)}): move it, or cancel {e.name} first"
            )
    free = [n for n in range(1, EVENT_SLOTS + 1) if n not in {e.slot for e in kept}]
    if not free:
        names = ", ".join(f"{e.name} {_when(e.scale_up)}" for e in kept)
        raise BadInput(f"all {EVENT_SLOTS} event slots are taken ({names}): cancel one first (event --cancel NAME)")
    return replace(new, slot=free[0]), sorted([*kept, replace(new, slot=free[0])], key=lambda e: e.slot)


def plan_cancel(events: list[Event], name: str | None, now: datetime) -> tuple[Event, list[Event]]:
    """The event to cancel (named, or the only one not over), and the events the stack keeps."""
    kept = [e for e in events if e.state(now) != "over"]
    if not kept:
        raise BadInput("no event is scheduled: nothing to cancel (event --list shows the events)")
    if name is None:
        if len(kept) > 1:
            raise BadInput(
                f"{len(kept)} events are scheduled ({', '.join(e.name for e in kept)}): name the one to cancel"
            )
        name = kept[0].name
    gone = next((e for e in kept if e.name == name), None)
    if gone is None:
        raise BadInput(f"no scheduled event named {name}; scheduled: {', '.join(e.name for e in kept)}")
    return gone, [e for e in kept if e is not gone]


# --- with AWS ---------------------------------------------------------------------------------


def deployed(clients: aws.Clients, request: EventRequest, need_services: bool = True) -> dict[str, str]:
    """The parameters the stack runs with; it must exist (and run the services, to scale them)."""
    aws.account_id(clients.sts)
    described = st.describe(clients.cloudformation, request.stack)
    if described is None:
        raise StackStateError(model.missing_stack(request.stack, request.env, request.stack_name, clients.region))
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    if need_services and not values.get("ImageTag"):
        raise StackStateError(
            f"stack {request.stack} runs no services (no image tag): release an image first (deploy.py release)"
        )
    return values


def list_events(request: EventRequest, clients: aws.Clients, reporter: Reporter, now: datetime) -> EventList:
    view = EventList(request.stack, slots(deployed(clients, request, need_services=False)), now)
    reporter.show(view)
    reporter.result({"stackName": view.stack, "events": [e.document(now) for e in view.events]})
    return view


def file_parameters(request: EventRequest, project: Project) -> dict[str, str]:
    """The parameter file (with --parameter) as the deploy will send it, with the templates' defaults."""
    root = json.loads(render.render()[render.ROOT_FILE])["Parameters"]
    path = params.env_file(project.params_dir, request.env)
    deployment = params.resolve(request.env, path, root, dict(request.overrides), deploying=False)
    return {k: str(v.get("Default", "")) for k, v in root.items()} | deployment.parameters


def estimate(request: EventRequest, event: Event, region: str, project: Project) -> EventCost:
    """What the event adds (the tasks run from the warm-up to the end), from the offline cost model."""
    start = event.scale_up + request.warm_up
    hours = (event.scale_down - event.scale_up).total_seconds() / 3600
    try:
        book = pricing.load(region)
    except BadInput as exc:  # no price file for this region: the event is still worth scheduling
        return EventCost(event, start, None, str(exc))
    stacks, _ = cost.env_stacks(request.env, project.params_dir, region, request.overrides)
    tasks = {s.title: event.tasks[s.name] for s in SERVICES}
    return EventCost(event, start, cost.event_estimate(request.env, stacks, book, cost.Assumptions(), hours, tasks))


def check_new(request: EventRequest, project: Project, now: datetime) -> dict[str, int]:
    """What the flags and the parameter file alone can refuse, before any AWS call; the task counts."""
    if request.start is None:
        raise BadInput("a new event needs --start")
    tasks = event_tasks(request.tasks, ranges(file_parameters(request, project)))
    plan_new([], request.start, request.hours, request.warm_up, tasks, now)
    return tasks


def schedule(
    request: EventRequest,
    tasks: dict[str, int],
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    now: datetime,
    sleep: polling.Sleep = time.sleep,
) -> model.Result:
    """Check the new event against the scheduled ones (before anything in AWS changes), show its cost, and
    deploy the slots. ``tasks``: from ``check_new``."""
    assert request.start is not None
    current = slots(deployed(clients, request))
    new, events = plan_new(current, request.start, request.hours, request.warm_up, tasks, now)
    reporter.show(estimate(request, new, clients.region, project))
    return _deploy(request, events, clients, reporter, project, {"event": new.document(now)}, sleep)


def cancel(
    request: EventRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    now: datetime,
    sleep: polling.Sleep = time.sleep,
) -> model.Result:
    """Empty the event's slot (the capacity returns to normal at once if the event is on)."""
    gone, events = plan_cancel(slots(deployed(clients, request, need_services=False)), request.name, now)
    reporter.step(f"Cancelling {gone.name} ({_when(gone.scale_up)} to {_when(gone.scale_down)}, {gone.state(now)})")
    return _deploy(request, events, clients, reporter, project, {"cancelled": gone.document(now)}, sleep)


def _deploy(
    request: EventRequest,
    events: list[Event],
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    fields: dict[str, Any],
    sleep: polling.Sleep,
) -> model.Result:
    deploy_request = request.deploy_request(slot_values(events))
    prepared = build_job.prepare(deploy_request, project, reporter)
    return deploy_job.deploy(deploy_request, clients, WithFields(reporter, fields), project, prepared, sleep)
