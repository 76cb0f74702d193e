"""Reporters: everything the deploy tool shows. The workflow reports through the ``Reporter`` protocol
and never prints; the CLI picks the human reporter, or the JSON one for ``--json`` (humans then read
stderr and stdout carries one JSON document)."""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any, Protocol

from . import changes as ch
from .changes import ChangeSetNode
from .stack import ReleaseRollback, Retained

BOLD, RED, YELLOW, GREEN, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[32m", "\033[0m"


class Reporter(Protocol):
    """What a job tells its user while it runs, and the one question it may ask."""

    def step(self, text: str) -> None: ...
    def detail(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def change_sets(self, nodes: list[ChangeSetNode]) -> None: ...
    def refused(self, rows: list[ch.Row]) -> None: ...
    def event(self, event: dict[str, Any], progress: str, started: datetime) -> None: ...
    def root_cause(self, event: dict[str, Any]) -> None: ...
    def release_rolled_back(self, rollback: ReleaseRollback, ecs_events: Sequence[str] = ()) -> None: ...
    def retained(self, kept: list[Retained]) -> None: ...
    def review(self, fields: dict[str, str]) -> None: ...
    def outputs(self, outputs: dict[str, str]) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def result(self, document: dict[str, Any]) -> None: ...


class HumanReporter:
    """Readable text (colour on a terminal). ``answers`` is where a confirmation is read from;
    ``assume_yes`` answers every question with yes (``--yes``)."""

    def __init__(self, out: IO[str] | None = None, answers: IO[str] | None = None, assume_yes: bool = False) -> None:
        self.out = out or sys.stdout
        self.answers = answers or sys.stdin
        self.assume_yes = assume_yes
        self.color = self.out.isatty()
        self.in_flight = False  # an operation runs in CloudFormation: Ctrl-C no longer stops it

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

    def table(self, headers: Sequence[str], body: Sequence[Sequence[str]], highlight: Sequence[bool] | None = None) -> None:
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
                body = [["!" if r.destructive else "", r.action, r.logical_id, r.resource_type, r.replacement or "-", r.details] for r in rows]
                self.table(["", "Action", "Logical ID", "Type", "Replacement", "Changed"], body, [r.destructive for r in rows])
        destructive = [r for r in ch.all_rows(nodes) if r.destructive]
        self.line()
        if destructive:
            self.warn(f"{len(destructive)} replacement(s)/removal(s): " + ", ".join(f"{r.stack}/{r.logical_id}" for r in destructive))
        self.line(f"{total} change(s) in {len(nodes)} change set(s)")

    def refused(self, rows: list[ch.Row]) -> None:
        """Stateful replacements/removals deploy.py refuses to execute."""
        for r in rows:
            what = "removed" if r.action == "Remove" else f"replaced (Replacement: {r.replacement})"
            self.line(self._c(RED, f"REFUSED  {r.path} ({r.resource_type}) would be {what}: its data would be lost"))
            self.line(f"         allow exactly this one with --allow-replacement {r.path}")

    def event(self, event: dict[str, Any], progress: str, started: datetime) -> None:
        self.in_flight = True
        elapsed = max(int((event["Timestamp"] - started).total_seconds()), 0) if event.get("Timestamp") else 0
        status = event.get("ResourceStatus", "")
        text = f"[{progress}] {elapsed // 60}:{elapsed % 60:02d} {event.get('StackName', '')}/{event.get('LogicalResourceId', '')} {status}"
        if event.get("ResourceStatusReason") and status.endswith("FAILED"):
            text += f": {event['ResourceStatusReason']}"
        self.line(self._c(RED, text) if status.endswith("FAILED") else text)

    def root_cause(self, event: dict[str, Any]) -> None:
        self.line()
        self.line(self._c(RED, "Root cause: ") + f"{event.get('StackName')}/{event.get('LogicalResourceId')} ({event.get('ResourceType')}) {event.get('ResourceStatus')}")
        self.line(f"  {event.get('ResourceStatusReason') or 'no reason given'}")

    def retained(self, kept: list[Retained]) -> None:
        if kept:
            self.line("These are kept (DeletionPolicy), and must be removed by hand if really unwanted:")
            self.table(["Stack", "Logical ID", "Type", "Policy"], [[k.stack, k.logical_id, k.resource_type, k.policy] for k in kept])

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
            + f"ECS failed the new deployment of {rollback.stack}/{rollback.logical_id} and returned the service to its last "
            "completed deployment; the stack rolled back to the previous release."
        )
        for message in ecs_events:
            self.line(f"  ECS: {message}")
        self.line("  Look at the alarms in ALARM on the dashboard (DashboardUrl) and the service's log group before releasing again.")

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


class JsonReporter(HumanReporter):
    """``--json``: progress for humans on stderr, and the result as one JSON document on stdout."""

    def __init__(self, out: IO[str] | None = None, answers: IO[str] | None = None, assume_yes: bool = False, document_out: IO[str] | None = None) -> None:
        super().__init__(out or sys.stderr, answers, assume_yes)
        self.document_out = document_out

    def result(self, document: dict[str, Any]) -> None:
        print(json.dumps(document, indent=2, sort_keys=True, default=str), file=self.document_out or sys.stdout, flush=True)
