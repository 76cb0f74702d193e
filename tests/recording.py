"""A reporter that records what a workflow job reported, and answers its questions from a script."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class RecordingReporter:
    def __init__(self, answers: Iterable[bool] = ()) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.answers = list(answers)
        self.documents: list[dict[str, Any]] = []

    def _record(self, name: str, value: Any) -> None:
        self.calls.append((name, value))

    def step(self, text: str) -> None:
        self._record("step", text)

    def detail(self, text: str) -> None:
        self._record("detail", text)

    def warn(self, text: str) -> None:
        self._record("warn", text)

    def change_sets(self, nodes: list[Any]) -> None:
        self._record("change_sets", nodes)

    def refused(self, rows: list[Any]) -> None:
        self._record("refused", rows)

    def sent(self, operation: str) -> None:
        self._record("sent", operation)

    def event(self, event: dict[str, Any], progress: str, started: Any) -> None:
        self._record("event", (event, progress))

    def root_cause(self, event: dict[str, Any]) -> None:
        self._record("root_cause", event)

    def release_rolled_back(self, rollback: Any, ecs_events: Any = ()) -> None:
        self._record("release_rolled_back", (rollback, list(ecs_events)))

    def retained(self, kept: list[Any]) -> None:
        self._record("retained", kept)

    def review(self, fields: dict[str, str]) -> None:
        self._record("review", fields)

    def outputs(self, outputs: dict[str, str]) -> None:
        self._record("outputs", outputs)

    def confirm(self, question: str) -> bool:
        self._record("confirm", question)
        if not self.answers:
            raise AssertionError(f"unexpected question: {question}")
        return self.answers.pop(0)

    def result(self, document: dict[str, Any]) -> None:
        self.documents.append(document)

    def rollout(self, state: Any) -> None:
        self._record("rollout", state)

    def stopped_task(self, task: Any) -> None:
        self._record("stopped_task", task)

    def status(self, view: Any) -> None:
        self._record("status", view)

    def log_event(self, event: Any) -> None:
        self._record("log_event", event)

    def drift(self, report: Any) -> None:
        self._record("drift", report)

    def of(self, name: str) -> list[Any]:
        """Everything reported through one method, in order."""
        return [value for kind, value in self.calls if kind == name]

    def text(self) -> str:
        return "\n".join(str(v) for k, v in self.calls if k in ("step", "detail", "warn"))
