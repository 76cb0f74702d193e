"""The live view of a stack operation on a terminal: a tree of the root and nested stacks by logical name,
each with its state, elapsed time, resources done / total, the resource in progress and its failures (kept
on screen), the ECS rollout under the services stack while a release rolls; a spinner through other long
waits. Elsewhere (stdout no terminal, CI, ``--progress plain``) the human reporter's one line per event.

``StackTree`` is the model (fed the jobs' views, rendered to a rich ``Tree``); ``LiveReporter`` is the
human reporter that keeps it on screen. ``wanted`` is the one rule that picks it."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.status import Status
from rich.text import Text
from rich.tree import Tree

from cylink_deploy.cfn.events import CONSEQUENCES, ROOT, STACK
from cylink_deploy.jobs.views import Following, Settled, StackEvent, Waiting
from cylink_deploy.ops.rollout import SERVICES_STACK, STOPPED_SHOWN, ServiceState, StoppedTask
from cylink_deploy.output.human import HumanReporter, printable

SERVICES_PATH = f"{ROOT}/{SERVICES_STACK}"


def wanted(progress: str, out: IO[str], environ: Mapping[str, str]) -> bool:
    """The live view or the plain log: ``--progress live``/``plain`` say; ``auto`` is live only on a terminal
    outside CI (CI=true is set by GitHub Actions, GitLab CI, CircleCI, Travis and most others)."""
    if progress != "auto":
        return progress == "live"
    return out.isatty() and not environ.get("CI")


def shown(text: str) -> str:
    """Text from AWS as rich markup: terminal controls escaped (``printable``), and rich's own markup too, so a
    reason that says ``[red]`` or ``[link=...]`` is read, not obeyed."""
    return escape(printable(text))


def style_of(state: str) -> str:
    """Red for failures and rollbacks, green once complete, yellow while in progress."""
    if "FAILED" in state or "ROLLBACK" in state:
        return "red"
    return "green" if state.endswith(("_COMPLETE", "_SKIPPED")) else "yellow"


def clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Failure:
    logical_id: str
    status: str
    reason: str

    @property
    def consequence(self) -> bool:
        """Failed because something else did (CloudFormation's "cancelled", "Embedded stack ... failed")."""
        return any(c in self.reason for c in CONSEQUENCES)


@dataclass
class Node:
    """One stack of the tree: what its events said so far."""

    path: str  # root, root/KeysStack
    state: str = ""
    first: datetime | None = None
    last: datetime | None = None
    total: int | None = None  # resource changes the change set expects here (None: not known)
    done: set[str] = field(default_factory=set)
    in_progress: dict[str, str] = field(default_factory=dict)  # logical ID -> status, oldest first
    failures: list[Failure] = field(default_factory=list)
    services: dict[str, ServiceState] = field(default_factory=dict)
    stopped: list[StoppedTask] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def settled(self) -> bool:
        return bool(self.state) and not self.state.endswith("_IN_PROGRESS")

    def seen(self, at: datetime | None) -> None:
        if at is not None:
            self.first = at if self.first is None else min(self.first, at)
            self.last = at if self.last is None else max(self.last, at)

    def elapsed(self, now: datetime) -> float:
        """From its first event to its last once settled, else to ``now``."""
        if self.first is None:
            return 0.0
        return ((self.last or now) if self.settled else now).timestamp() - self.first.timestamp()

    def resource(self, logical_id: str, status: str, reason: str, shown_running: bool = True) -> None:
        """A resource of this stack changed state."""
        self.in_progress.pop(logical_id, None)
        if status.endswith("_IN_PROGRESS") and shown_running:
            self.in_progress[logical_id] = status
        elif status.endswith("_COMPLETE"):
            self.done.add(logical_id)
        elif status.endswith("_FAILED"):
            self.failures.append(Failure(logical_id, status, reason or "no reason given"))


class StackTree:
    """The stacks of one operation, by logical path, fed ``StackEvent`` views (and the ECS rollout)."""

    def __init__(self, stack: str, started: datetime, totals: Mapping[str, int] | None = None) -> None:
        self.stack, self.started = stack, started
        self.totals = dict(totals or {})
        self.nodes: dict[str, Node] = {}
        self.ended: datetime | None = None
        self.node(ROOT).seen(started)

    def node(self, path: str) -> Node:
        """The stack at ``path`` (and its parents), made on first mention."""
        if path not in self.nodes:
            if "/" in path:
                self.node(path.rsplit("/", 1)[0])
            self.nodes[path] = Node(path, total=self.totals.get(path))
        return self.nodes[path]

    def add(self, view: StackEvent) -> None:
        event = view.event
        path = view.stack_path or event["StackName"]
        logical, status = event["LogicalResourceId"], str(event.get("ResourceStatus", ""))
        at = event.get("Timestamp")
        node = self.node(path)
        node.seen(at)
        if logical == event["StackName"]:  # the stack's own event: its state
            node.state = status
            return
        nested = event.get("ResourceType") == STACK and bool(view.stack_path)
        node.resource(logical, status, event.get("ResourceStatusReason", ""), shown_running=not nested)
        if nested:  # the parent's view of a nested stack: the child's own line shows it running
            child = self.node(f"{path}/{logical}")
            child.seen(at)
            child.state = status

    def rollout(self, view: ServiceState | StoppedTask) -> None:
        """The ECS rollout, under the services stack."""
        node = self.node(SERVICES_PATH)
        if isinstance(view, ServiceState):
            node.services[view.name] = view
        else:
            node.stopped = [*node.stopped, view][-STOPPED_SHOWN:]

    def settle(self, view: Settled, at: datetime) -> None:
        root = self.node(ROOT)
        root.state, self.ended = view.status, at
        root.seen(at)

    def render(self, now: datetime) -> Tree:
        """The tree as it stands at ``now``."""
        trees: dict[str, Tree] = {}
        widths: dict[int, int] = {}  # the states of siblings line up: names padded to the widest at their depth
        for path, node in self.nodes.items():
            widths[path.count("/")] = max(widths.get(path.count("/"), 0), len(self._name(node)))
        for path, node in self.nodes.items():  # parents first: node() makes them first
            label = Text.from_markup(self._label(node, now, widths[path.count("/")]))
            parent = trees.get(path.rsplit("/", 1)[0]) or trees.get(ROOT)  # known only physically: under the root
            trees[path] = parent.add(label) if parent is not None else Tree(label)
            for line in self._details(node):
                trees[path].add(Text.from_markup(line))
        return trees[ROOT]

    def _name(self, node: Node) -> str:
        return f"{self.stack} ({ROOT})" if node.path == ROOT else node.name

    def _label(self, node: Node, now: datetime, width: int = 0) -> str:
        name = shown(self._name(node).ljust(width))
        state = shown(node.state or "waiting")
        expected = node.total is not None and node.total >= len(node.done) and not node.settled
        total = f"/{node.total}" if expected else ""  # settled: what was done (conditions may leave some out)
        elapsed = node.elapsed(self.ended or now)
        counts = f"{len(node.done)}{total} done"
        return f"[bold]{name}[/bold]  [{style_of(node.state)}]{state}[/]  {clock(elapsed)}  {counts}"

    @staticmethod
    def _details(node: Node) -> list[str]:
        """The resource in progress, the failures (consequences only counted), the services and stopped tasks."""
        lines = []
        if node.in_progress and not node.settled:
            logical, status = list(node.in_progress.items())[-1]
            more = f" (+{len(node.in_progress) - 1} more)" if len(node.in_progress) > 1 else ""
            lines.append(f"[yellow]…[/] {shown(logical)} {shown(status)}{more}")
        causes = [f for f in node.failures if not f.consequence]
        for f in causes:
            lines.append(f"[red]✗ {shown(f.logical_id)} {shown(f.status)}: {shown(f.reason)}[/]")
        others = len(node.failures) - len(causes)
        if others:
            lines.append(f"[red]  +{others} failed as a consequence[/]")
        for s in node.services.values():
            style = "red" if s.rollout == "FAILED" else "green" if s.healthy else "yellow"
            lines.append(
                f"[{style}]ECS {shown(s.name)}: running {s.running}/{s.desired}[/] {shown(s.rollout or '-')} "
                f"{shown(s.task_definition)}" + (f": {shown(s.rollout_reason)}" if s.rollout == "FAILED" else "")
            )
        lines += [f"[red]ECS {shown(t.line())}[/]" for t in node.stopped]
        return lines


class LiveReporter(HumanReporter):
    """The human reporter on a terminal, with a screen: while a stack operation is followed (``Following``
    to ``Settled``) its events update the tree instead of adding lines, and the final tree stays printed;
    ``Waiting`` shows a spinner until the next step. Every other line prints above the live part."""

    def __init__(self, out: IO[str], answers: IO[str] | None = None, assume_yes: bool = False) -> None:
        super().__init__(out, answers, assume_yes)
        self.color = True
        self.console = Console(file=out, force_terminal=True, highlight=False, markup=False, emoji=False)
        self.tree: StackTree | None = None
        self._live: Live | None = None
        self._spinner: Status | None = None
        self._lock = threading.Lock()  # the refresh thread renders while events arrive

    def _screen(self) -> Tree:
        with self._lock:
            assert self.tree is not None
            return self.tree.render(datetime.now(timezone.utc))

    def show(self, view: object) -> None:
        if isinstance(view, Waiting):
            self._wait(view.what)
        elif isinstance(view, Following):
            self._stop_spinner()
            self.tree = StackTree(view.stack, view.started, view.totals)
            self._live = Live(console=self.console, get_renderable=self._screen, refresh_per_second=4)
            self._live.start()
        elif self.tree is not None and isinstance(view, StackEvent):
            self.in_flight = self.in_flight or "stack operation"
            with self._lock:
                self.tree.add(view)
        elif self.tree is not None and isinstance(view, ServiceState | StoppedTask):
            with self._lock:
                self.tree.rollout(view)
        elif isinstance(view, Settled) and self.tree is not None:
            with self._lock:
                self.tree.settle(view, datetime.now(timezone.utc))
            self._stop_live()
        else:
            super().show(view)

    def table(
        self, headers: Sequence[str], body: Sequence[Sequence[str]], highlight: Sequence[bool] | None = None
    ) -> None:
        """Folded to the width only under a live part (redrawn by counting lines: nothing may outgrow the width);
        otherwise whole, so a URL in the outputs can be copied and clicked (the terminal wraps it, rich does not)."""
        self.fit = self._live is not None or self._spinner is not None
        super().table(headers, body, highlight)

    def _wait(self, what: str) -> None:
        if self._live is not None:
            return  # the tree shows what is going on
        self._stop_spinner()
        self._spinner = self.console.status(shown(what))
        self._spinner.start()

    def step(self, text: str) -> None:
        self._stop_spinner()
        super().step(text)

    def confirm(self, question: str) -> bool:
        self.close()
        return super().confirm(question)

    def result(self, document: dict[str, object]) -> None:
        self.close()
        super().result(document)

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def _stop_live(self) -> None:
        """The final tree stays on screen (a Live that is not transient leaves its last render)."""
        if self._live is not None:
            self._live.stop()
            self._live, self.tree = None, None

    def close(self) -> None:
        self._stop_spinner()
        self._stop_live()
