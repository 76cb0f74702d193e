"""A reporter that records what a workflow job reported, and answers its questions from a script."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

SHOWN: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "ChangeSets": lambda v: ("change_sets", v.nodes),
    "Refused": lambda v: ("refused", v.rows),
    "Following": lambda v: ("following", v.totals),
    "StackEvent": lambda v: ("event", (v.event, v.progress)),
    "Settled": lambda v: ("settled", v.status),
    "Waiting": lambda v: ("waiting", v.what),
    "RootCause": lambda v: ("root_cause", v.event),
    "NewZone": lambda v: ("new_zone", v.delegation),
    "ReleaseRolledBack": lambda v: ("release_rolled_back", (v.rollback, list(v.ecs_events))),
    "RetainedResources": lambda v: ("retained", v.kept),
    "Review": lambda v: ("review", v.fields),
    "Outputs": lambda v: ("outputs", v.outputs),
    "ServiceState": lambda v: ("rollout", v),
    "StoppedTask": lambda v: ("stopped_task", v),
    "StatusView": lambda v: ("status", v),
    "LogEvent": lambda v: ("log_event", v),
    "DriftReport": lambda v: ("drift", v),
}


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

    def sent(self, operation: str) -> None:
        self._record("sent", operation)

    def show(self, view: Any) -> None:
        """Recorded under the view's kind, e.g. ("event", (event, progress)), as the tests read them."""
        kind, value = SHOWN[type(view).__name__](view)
        self._record(kind, value)

    def confirm(self, question: str) -> bool:
        self._record("confirm", question)
        if not self.answers:
            raise AssertionError(f"unexpected question: {question}")
        return self.answers.pop(0)

    def result(self, document: dict[str, Any]) -> None:
        self.documents.append(document)

    def of(self, name: str) -> list[Any]:
        """Everything reported through one method, in order."""
        return [value for kind, value in self.calls if kind == name]

    def text(self) -> str:
        return "\n".join(str(v) for k, v in self.calls if k in ("step", "detail", "warn"))


def run_command(
    args: Any, reporter: Any, clients: Any, sleep: Callable[[float], None] = lambda s: None, project: Any = None
) -> int:
    """A registered command's ``run`` with clients the test made (Stubber or recording), on ``project`` (default:
    this checkout)."""
    import io

    from cylink_deploy.commands.base import Context
    from cylink_deploy.commands.registry import COMMANDS
    from cylink_deploy.project import Project

    command = COMMANDS[args.command]
    project = project or Project.find()  # the checkout's params/ (and its pins: none are committed)
    return command.run(Context(command, args, io.StringIO(), sleep, project, reporter, preset=clients))
