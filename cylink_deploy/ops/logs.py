"""``deploy.py logs``: a service's container logs (the guide's ``aws logs tail /ecs/cylink-backend --follow``).

The log group comes from the stack's outputs (never a hard-coded name); ``FilterLogEvents`` is read
page by page and the streams of all tasks are interleaved in time order, each line naming its task.
``--follow`` polls with backoff (1 s, growing to 10 s while nothing new arrives) until Ctrl-C.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from cylink_deploy import aws, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.jobs.model import missing_stack, stack_name
from cylink_deploy.jobs.reporter import Reporter
from templates_src.common import SERVICES

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef, FilterLogEventsRequestPaginateTypeDef

SINCE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
FOLLOW_CAP = 10.0


@dataclass(frozen=True)
class LogsRequest:
    env: str
    service: str  # backend | frontend
    since: str = "10m"
    follow: bool = False
    filter: str | None = None
    stack_name: str | None = None

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.stack_name)


@dataclass(frozen=True)
class LogEvent:
    timestamp: datetime
    task_id: str  # the last part of the stream name ecs/<container>/<task id>
    message: str
    event_id: str


MAX_SINCE = timedelta(days=3650)


def parse_since(value: str) -> timedelta:
    """``30s``, ``10m``, ``2h``, ``1d`` -> a duration; anything else is bad input."""
    match = SINCE.fullmatch(value.strip())
    if not match or int(match.group(1)) == 0:
        raise BadInput(f"--since {value!r}: use a number and a unit, e.g. 30s, 10m, 2h or 1d")
    try:
        since = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        since = MAX_SINCE + MAX_SINCE
    if since > MAX_SINCE:  # further back than any log group keeps (and than CloudWatch accepts)
        raise BadInput(f"--since {value}: at most {MAX_SINCE.days}d (ten years)")
    return since


def filter_pattern(text: str | None) -> str | None:
    """``--filter`` is literal text: quoted, so CloudWatch's pattern syntax (``?``, ``-``, ``{}``) does not apply."""
    if text is None or text == "":
        return None
    return '"' + text.replace('"', '\\"') + '"'


def to_event(raw: FilteredLogEventTypeDef) -> LogEvent:
    return LogEvent(
        datetime.fromtimestamp(raw["timestamp"] / 1000, timezone.utc),
        raw.get("logStreamName", "").rsplit("/", 1)[-1],
        raw.get("message", "").rstrip("\n"),
        raw.get("eventId", ""),
    )


def fetch(logs: CloudWatchLogsClient, group: str, start_ms: int, pattern: str | None) -> list[LogEvent]:
    """Every event of ``group`` since ``start_ms`` (all pages), all streams interleaved in time order."""
    kwargs: FilterLogEventsRequestPaginateTypeDef = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        kwargs["filterPattern"] = pattern
    raw = [e for page in logs.get_paginator("filter_log_events").paginate(**kwargs) for e in page.get("events", [])]
    raw.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0), e.get("eventId", "")))
    return [to_event(e) for e in raw]


def log_group(outputs: dict[str, str], service: str, stack: str) -> str:
    key = f"{service.capitalize()}LogGroupName"
    if key not in outputs:
        raise StackStateError(f"stack {stack} has no output {key}: deploy the current templates first")
    return outputs[key]


def logs(
    request: LogsRequest,
    clients: aws.Clients,
    reporter: Reporter,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = polling.now,
    polls: int | None = None,
) -> int:
    """Print the events; with ``follow``, keep polling until Ctrl-C (or ``polls`` polls, for tests).
    Returns the number of events shown."""
    if request.service not in {s.name for s in SERVICES}:
        raise BadInput(f"{request.service!r}: choose one of {', '.join(s.name for s in SERVICES)}")
    since = parse_since(request.since)
    described = st.describe(clients.cloudformation, request.stack)
    if described is None:
        raise StackStateError(missing_stack(request.stack, request.env, request.stack_name, clients.region))
    group = log_group(
        {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}, request.service, request.stack
    )
    pattern = filter_pattern(request.filter)
    start = int((clock() - since).timestamp() * 1000)
    reporter.step(
        f"{group} since {start_ms_text(start)}" + (f", containing {request.filter!r}" if request.filter else "")
    )
    seen: set[str] = set()
    shown = 0
    delays = polling.backoff(first=1.0, factor=2.0, cap=FOLLOW_CAP)
    try:
        while True:
            fresh = [e for e in fetch(clients.logs, group, start, pattern) if e.event_id not in seen]
            for event in fresh:
                seen.add(event.event_id)
                reporter.show(event)
            shown += len(fresh)
            if fresh:
                start = int(fresh[-1].timestamp.timestamp() * 1000)  # same millisecond again: dedup by event ID
                delays = polling.backoff(first=1.0, factor=2.0, cap=FOLLOW_CAP)
            if not request.follow or (polls is not None and (polls := polls - 1) <= 0):
                return shown
            sleep(next(delays))
    except KeyboardInterrupt:  # the way out of --follow: not a failure
        return shown


def start_ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
