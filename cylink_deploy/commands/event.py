"""``event``: capacity for an event on a schedule (``--start``), the scheduled events (``--list``), or one
cancelled (``--cancel [NAME]``), through the same reviewed change set as a deploy."""

from __future__ import annotations

import argparse

from cylink_deploy import polling
from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.errors import BadInput
from cylink_deploy.ops import event as event_job
from cylink_deploy.preflight import params
from templates_src.common import SERVICES


def _count(value: str) -> int:
    """A task count: a whole number from 1 (1.5 is not 1)."""
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be a whole number of tasks, 1 or more")
    return int(value)


def _hours(value: str) -> float:
    try:
        return event_job.check_hours(float(value))
    except (ValueError, BadInput):
        raise argparse.ArgumentTypeError(
            f"{value}: must be a number of hours more than 0 and at most {event_job.MAX_HOURS:g}"
        ) from None


def arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--start", metavar="TIME", help="when the event starts, with its offset: 2026-12-10T18:00+09:00")
    what.add_argument("--list", action="store_true", help="show the scheduled events")
    what.add_argument(
        "--cancel", nargs="?", const="", metavar="NAME", help="cancel an event (NAME from --list; optional if only one)"
    )
    p.add_argument("--hours", type=_hours, help="how long the event lasts (default 3)")
    p.add_argument("--warm-up", help="how long before the start the capacity rises (default 30m)")
    for svc in SERVICES:
        default = "its MaxCapacity" if svc.name == "backend" else "its MinCapacity: unchanged"
        p.add_argument(
            f"--{svc.name}-tasks", type=_count, metavar="N", help=f"{svc.name} tasks during the event ({default})"
        )
    p.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="as for deploy (an event is a deploy)"
    )
    p.add_argument("--no-execute", action="store_true", help="as for deploy: stop after the review (execute it later)")


def request(a: argparse.Namespace) -> event_job.EventRequest:
    """The flags as a request; a flag that does not apply to what was asked is bad input."""
    scheduling = a.start is not None
    given = [f"--{s.name}-tasks" for s in SERVICES if getattr(a, f"{s.name}_tasks") is not None]
    given += [flag for flag, value in (("--hours", a.hours), ("--warm-up", a.warm_up)) if value is not None]
    if not scheduling and given:
        raise BadInput(f"{', '.join(given)}: only with --start (a new event)")
    if a.list and (a.parameter or a.no_execute):
        raise BadInput("--list changes nothing: drop --parameter and --no-execute")
    return event_job.EventRequest(
        a.env,
        a.stack_name,
        event_job.parse_start(a.start) if scheduling else None,
        3.0 if a.hours is None else a.hours,
        event_job.parse_warm_up(a.warm_up or "30m"),
        {s.name: getattr(a, f"{s.name}_tasks") for s in SERVICES if getattr(a, f"{s.name}_tasks") is not None},
        listing=a.list,
        cancel=a.cancel is not None,
        name=a.cancel or None,
        overrides=params.parse_overrides(a.parameter),
        execute=not a.no_execute,
    )


def run(ctx: Context) -> int:
    req = request(ctx.args)
    now = polling.now()
    if req.listing:
        event_job.list_events(req, ctx.clients(), ctx.reporter, now)
    elif req.cancel:
        event_job.cancel(req, ctx.clients(), ctx.reporter, ctx.project, now, ctx.sleep)
    else:
        tasks = event_job.check_new(req, ctx.project, now)  # bad input stops here, before any AWS call
        event_job.schedule(req, tasks, ctx.clients(), ctx.reporter, ctx.project, now, ctx.sleep)
    return 0


COMMAND = Command(
    "event",
    "deploying",
    "scale up for an event on a schedule (--start), --list the events, or --cancel one",
    run,
    FOLLOWS,
    arguments,
    asks=lambda a: not a.list and not a.no_execute,
)
