"""Reporters: everything the deploy tool shows. The workflow reports through the ``Reporter`` protocol
and never prints; the CLI picks the human reporter, or the JSON one for ``--json`` (humans then read
stderr and stdout carries one JSON document)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

from cylink_deploy.cfn import changes as ch
from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.cfn.ecs_verdict import ReleaseRollback
from cylink_deploy.cfn.stacks import Retained

if TYPE_CHECKING:  # the day-2 views (their modules report through this one)
    from cylink_deploy.ops.drift import DriftReport
    from cylink_deploy.ops.logs import LogEvent
    from cylink_deploy.ops.rollout import ServiceState, StoppedTask
    from cylink_deploy.ops.status import StatusView

BOLD, RED, YELLOW, GREEN, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[32m", "\033[0m"


class Reporter(Protocol):
    """What a job tells its user while it runs, and the one question it may ask."""

    def step(self, text: str) -> None: ...
    def detail(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def change_sets(self, nodes: list[ChangeSetNode]) -> None: ...
    def refused(self, rows: list[ch.Row]) -> None: ...
    def sent(self, operation: str) -> None: ...
    def event(self, event: dict[str, Any], progress: str, started: datetime) -> None: ...
    def root_cause(self, event: dict[str, Any]) -> None: ...
    def release_rolled_back(self, rollback: ReleaseRollback, ecs_events: Sequence[str] = ()) -> None: ...
    def retained(self, kept: list[Retained]) -> None: ...
    def review(self, fields: dict[str, str]) -> None: ...
    def outputs(self, outputs: dict[str, str]) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def result(self, document: dict[str, Any]) -> None: ...
    # day-2 operations
    def rollout(self, state: ServiceState) -> None: ...
    def stopped_task(self, task: StoppedTask) -> None: ...
    def status(self, view: StatusView) -> None: ...
    def log_event(self, event: LogEvent) -> None: ...
    def drift(self, report: DriftReport) -> None: ...


class HumanReporter:
    """Readable text (colour on a terminal). ``answers`` is where a confirmation is read from;
    ``assume_yes`` answers every question with yes (``--yes``)."""

    def __init__(self, out: IO[str] | None = None, answers: IO[str] | None = None, assume_yes: bool = False) -> None:
        self.out = out or sys.stdout
        self.answers = answers or sys.stdin
        self.assume_yes = assume_yes
        self.color = self.out.isatty()
        self.in_flight: str | None = None  # the operation sent to AWS, which Ctrl-C no longer stops

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self.color else text

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, text: str) -> None:
        self.line(self._c(BOLD, "==> ") + text)

    def detail(self, text: str) -> None:
        self.line("\n".join(f"  {line}" for line in text.splitlines()))

    def warn(self, text: str) -> None:
        self.line(self._c(YELLOW, "!   ") + text)

    def table(
        self, headers: Sequence[str], body: Sequence[Sequence[str]], highlight: Sequence[bool] | None = None
    ) -> None:
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
        fmt = "  ".join(f"{{:{w}}}" for w in widths)
        self.line("  " + fmt.format(*headers))
        self.line("  " + "  ".join("-" * w for w in widths))
        for i, r in enumerate(body):
            text = "  " + fmt.format(*r)
            self.line(self._c(RED, text) if highlight and highlight[i] else text)

    def change_sets(self, nodes: list[ChangeSetNode]) -> None:
        """One table per stack; replacements and removals marked with '!' (and red on a terminal)."""
        total = 0
        for node in nodes:
            rows = ch.rows(node)
            params = ch.parameter_changes(node)
            total += len(rows)
            self.line()
            self.line(self._c(BOLD, f"{node.path or 'root stack'}: {len(rows)} change(s)"))
            if params:
                self.line("  parameters: " + "; ".join(f"{k}: {o} -> {n}" for k, o, n in params))
            if rows:
                body = [
                    [
                        "!" if r.destructive else "",
                        r.action,
                        r.logical_id,
                        r.resource_type,
                        r.replacement or "-",
                        r.details,
                    ]
                    for r in rows
                ]
                self.table(
                    ["", "Action", "Logical ID", "Type", "Replacement", "Changed"], body, [r.destructive for r in rows]
                )
        destructive = [r for r in ch.all_rows(nodes) if r.destructive]
        self.line()
        if destructive:
            self.warn(
                f"{len(destructive)} replacement(s)/removal(s): "
                + ", ".join(f"{r.stack}/{r.logical_id}" for r in destructive)
            )
        self.line(f"{total} change(s) in {len(nodes)} change set(s)")

    def refused(self, rows: list[ch.Row]) -> None:
        """Stateful replacements/removals deploy.py refuses to execute."""
        for r in rows:
            what = "removed" if r.action == "Remove" else f"replaced (Replacement: {r.replacement})"
            self.line(self._c(RED, f"REFUSED  {r.path} ({r.resource_type}) would be {what}: its data would be lost"))
            self.line(f"         allow exactly this one with --allow-replacement {r.path}")

    def sent(self, operation: str) -> None:
        """``operation`` is about to be sent to CloudFormation: from here on Ctrl-C cannot stop it (the
        flag is set before the call, since an interrupted call may still have reached AWS)."""
        self.in_flight = operation

    def event(self, event: dict[str, Any], progress: str, started: datetime) -> None:
        self.in_flight = self.in_flight or "stack operation"
        elapsed = max(int((event["Timestamp"] - started).total_seconds()), 0) if event.get("Timestamp") else 0
        status = event.get("ResourceStatus", "")
        text = (
            f"[{progress}] {elapsed // 60}:{elapsed % 60:02d} "
            f"{event.get('StackName', '')}/{event.get('LogicalResourceId', '')} {status}"
        )
        if event.get("ResourceStatusReason") and status.endswith("FAILED"):
            text += f": {event['ResourceStatusReason']}"
        self.line(self._c(RED, text) if status.endswith("FAILED") else text)

    def root_cause(self, event: dict[str, Any]) -> None:
        self.line()
        self.line(
            self._c(RED, "Root cause: ")
            + f"{event.get('StackName')}/{event.get('LogicalResourceId')} ({event.get('ResourceType')}) "
            f"{event.get('ResourceStatus')}"
        )
        self.line(f"  {event.get('ResourceStatusReason') or 'no reason given'}")

    def retained(self, kept: list[Retained]) -> None:
        if kept:
            self.line("These are kept (DeletionPolicy), and must be removed by hand if really unwanted:")
            self.table(
                ["Stack", "Logical ID", "Type", "Policy"],
                [[k.stack, k.logical_id, k.resource_type, k.policy] for k in kept],
            )

    def review(self, fields: dict[str, str]) -> None:
        """Where to review a change set and how to execute it."""
        self.line()
        width = max(len(k) for k in fields) + 1
        for key, value in fields.items():
            self.line(f"{key + ':':<{width}} {value}")

    def release_rolled_back(self, rollback: ReleaseRollback, ecs_events: Sequence[str] = ()) -> None:
        """A release ECS refused (deployment alarm or circuit breaker) and rolled back."""
        self.line()
        self.line(
            self._c(RED, "Release rolled back: ")
            + f"ECS failed the new deployment of {rollback.stack}/{rollback.logical_id} and returned the service to "
            "its last "
            "completed deployment; the stack rolled back to the previous release."
        )
        for message in ecs_events:
            self.line(f"  ECS: {message}")
        self.line(
            "  Look at the alarms in ALARM on the dashboard (DashboardUrl) and the service's log group before "
            "releasing again."
        )

    def outputs(self, outputs: dict[str, str]) -> None:
        self.line()
        self.line(self._c(BOLD, "Outputs"))
        self.table(["Key", "Value"], [[k, v] for k, v in sorted(outputs.items())])

    def confirm(self, question: str) -> bool:
        if self.assume_yes:
            return True
        self.line(f"{question} [y/N] ")
        return self.answers.readline().strip().lower() in ("y", "yes")

    def result(self, document: dict[str, Any]) -> None:
        """The human reporter has said everything already."""

    # --- day-2 operations ----------------------------------------------------------------------

    def rollout(self, state: ServiceState) -> None:
        """A service's deployment changed (shown between the stack events while a release rolls)."""
        text = f"    ECS {state.line()}"
        self.line(self._c(RED, text) if state.rollout == "FAILED" else text)

    def stopped_task(self, task: StoppedTask) -> None:
        self.line(self._c(RED, f"    ECS {task.line()}"))

    def status(self, view: StatusView) -> None:
        """One screen: stack, URLs, services, targets, Redis, alarms, stopped tasks, verdict."""
        self.line(self._c(BOLD, f"{view.stack}") + f"  {view.stack_status}  (last update {view.last_update})")
        self.line(f"  site {view.site_url or '-'}   api {view.api_url or '-'}")
        self.line()
        self.table(
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
        self.line()
        rows = [
            [tg.logical_id, t.id, str(t.port or ""), t.state, t.reason or t.description]
            for tg in view.target_groups
            for t in tg.targets
        ]
        rows += [[tg.logical_id, "(no targets)", "", "", ""] for tg in view.target_groups if not tg.targets]
        self.table(
            ["Target group", "Target", "Port", "Health", "Reason"],
            rows,
            [r[3] not in ("healthy", "initial", "draining") for r in rows],
        )
        for redis in view.redis:
            self.line(
                f"  Redis {redis.id}: {redis.status}; "
                + ", ".join(f"{node} {role or '?'}" for node, role in redis.nodes)
            )
        for alarm in view.alarms:
            self.line(self._c(RED, f"  ALARM {alarm['name']}: {alarm['reason']}"))
        if view.stopped:
            self.line()
            self.line("Last stopped tasks:")
            for task in view.stopped:
                self.line(f"  {task.line()}")
        self.line()
        if view.problems:
            self.line(self._c(RED, f"NOT HEALTHY: {'; '.join(view.problems)}"))
        else:
            self.line(self._c(GREEN, "HEALTHY"))

    def log_event(self, event: LogEvent) -> None:
        self.line(f"{event.timestamp.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} [{event.task_id}] {event.message}")

    def drift(self, report: DriftReport) -> None:
        for reason in report.incomplete:
            self.warn(f"detection incomplete: {reason}")
        if not report.drifted:
            self.line(self._c(GREEN, f"No drift: {len(report.checked)} stack(s) match their templates"))
            return
        body = []
        for d in report.drifted:
            diffs = [f"{p.path}: {p.expected or '(none)'} -> {p.actual or '(none)'}" for p in d.differences] or [
                "(resource deleted)" if d.status == "DELETED" else ""
            ]
            body += [[d.stack, d.logical_id, d.resource_type, d.status, diffs[0]]] + [
                ["", "", "", "", more] for more in diffs[1:]
            ]
        self.table(["Stack", "Logical ID", "Type", "Drift", "Expected -> actual"], body)


class JsonReporter(HumanReporter):
    """``--json``: progress for humans on stderr, and the result as one JSON document on stdout."""

    def __init__(
        self,
        out: IO[str] | None = None,
        answers: IO[str] | None = None,
        assume_yes: bool = False,
        document_out: IO[str] | None = None,
    ) -> None:
        super().__init__(out or sys.stderr, answers, assume_yes)
        self.document_out = document_out

    def log_event(self, event: LogEvent) -> None:
        """One JSON object per line on stdout (JSON Lines): ``logs --follow`` never ends, so no document."""
        line = {"timestamp": event.timestamp.isoformat(), "task": event.task_id, "message": event.message}
        print(json.dumps(line, sort_keys=True), file=self.document_out or sys.stdout, flush=True)

    def result(self, document: dict[str, Any]) -> None:
        print(
            json.dumps(document, indent=2, sort_keys=True, default=str),
            file=self.document_out or sys.stdout,
            flush=True,
        )
