"""cfn-lint through its library API: every template on its own, and the root once per parameter file
(with its values).

Each lint unit (one template, or the root with one parameter file) is cached by content, so an edit to
one child re-lints only that child. Units that need linting go to a lint process started before the
templates are rendered (by deploy.py even before this tool's own imports): loading cfn-lint is the largest
fixed cost of a pre-flight, so it runs while everything else does; the process forks copies of itself,
which share what it loaded, to lint in parallel. This module imports nothing heavy: cfn-lint is imported
only where linting happens.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from templates_src import ROOT_FILE

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

LINT_REGIONS = ["ap-northeast-1"]
CONFIG = Path(__file__).with_name("cfnlintrc.yaml")  # cfn-lint's configuration: this file and nothing else
ROOT_TEMPLATE_PATH = f"build/{ROOT_FILE}"  # what every parameter file names (Git sync's convention)
LINT_WORKERS = 2
CHILD_HASH = re.compile(rb"-[0-9a-f]{12}\.json")


@dataclass(frozen=True)
class LintUnit:
    """One template, or the root template with the values of one parameter (deployment) file."""

    template: Path
    deployment_file: Path | None = None

    def key(self, version: str) -> str:
        """Digest of what is linted, and by which cfn-lint: identical input, identical result. The root
        names its children by content hash (``network-<sha>.json``); cfn-lint does not read them, so the
        hashes are left out: an edit to one child does not re-lint the root."""
        text = self.template.read_bytes()
        if self.template.name == ROOT_FILE:
            text = CHILD_HASH.sub(b"-<sha>.json", text)
        digest = hashlib.sha256(version.encode() + b"\0" + text)
        if self.deployment_file is not None:
            digest.update(b"\0" + self.deployment_file.read_bytes())
        return digest.hexdigest()


def units(templates: Sequence[Path], deployment_files: Sequence[Path] = ()) -> list[LintUnit]:
    """Every template alone, then the root once per parameter file (which also lints the root itself,
    so the root is not linted a second time on its own)."""
    root = next((p for p in templates if p.name == ROOT_FILE), None)
    if deployment_files and root is None:
        raise ValueError("parameter files are linted against the root template: build it first")
    alone = [LintUnit(p) for p in sorted(templates) if not (deployment_files and p == root)]
    return alone + [LintUnit(root, d) for d in sorted(deployment_files)] if root else alone


class _Cfnlint:
    """cfn-lint with its rules loaded once. ``lint_by_config`` loads them on every call (~0.5 s: 140 schema
    files and the IAM action table), so a process that lints several units keeps one of these."""

    def __init__(self) -> None:
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner import Runner

        self._runner = Runner(ConfigMixIn(**_arguments()))

    def __call__(self, config: Any) -> list[Any]:
        """What ``lint_by_config(config)`` returns, with the rules already loaded."""
        from cfnlint.config import ConfigMixIn
        from cfnlint.rules import Match
        from cfnlint.rules.errors import ConfigError

        mixin = ConfigMixIn(**config)
        try:
            mixin.validate()
            if not mixin.templates:  # globs the paths: a missing one raises ValueError
                raise ValueError("no template to lint")
        except ValueError as exc:  # a match, as cfn-lint's own command line reports it (E0003)
            return [Match.create(message=str(exc), filename=", ".join(config["templates"]), rule=ConfigError())]
        self._runner.config = mixin
        return list(self._runner.run())


_LINTER: _Cfnlint | None = None


def cfnlint() -> _Cfnlint:
    """This process's cfn-lint (a forked worker inherits its parent's: nothing is loaded twice)."""
    global _LINTER
    if _LINTER is None:
        _LINTER = _Cfnlint()
    return _LINTER


def _arguments(**arguments: Any) -> Any:
    """cfn-lint's arguments (its ManualArgs), always with our configuration file: given one, cfn-lint does
    not read ~/.cfnlintrc or ./.cfnlintrc, so a clean result cached here holds from any directory."""
    return {"regions": LINT_REGIONS, "config_file": str(CONFIG), **arguments}


def lint_unit(unit: LintUnit) -> list[str]:
    """cfn-lint one unit; one readable line per match (empty: clean)."""
    if unit.deployment_file is None:
        config = _arguments(templates=[str(unit.template)])
        return [f"{m.filename}:{m.linenumber}: {m.rule.id} {m.message}" for m in cfnlint()(config)]
    problem, parameters = _deployment(unit.deployment_file)
    if problem:
        return [f"{unit.deployment_file}:1: {problem}"]
    from cfnlint.context.parameters import ParameterSet

    config = _arguments(
        templates=[str(unit.template)], parameters=[ParameterSet(str(unit.deployment_file), parameters)]
    )
    return [  # cfn-lint names the parameter file, with the line in the template
        f"{unit.template}:{m.linenumber}: {m.rule.id} {m.message} (with the values of {unit.deployment_file})"
        for m in cfnlint()(config)
    ]


def _deployment(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The deployment file's parameters, checked against cfn-lint's Git-sync schema (no chdir needed:
    the template is the one we just built, whatever the working directory)."""
    import yaml
    from cfnlint.runner.deployment_file.deployment_types.git_sync import create_deployment_from_git_sync

    try:
        text = path.read_text(encoding="utf-8")
        if any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in yaml.parse(text)):
            return "YAML anchors and aliases are not allowed (an alias bomb would be expanded here)", {}
        # every scalar as the text written, as deploy.py reads and sends it (params._Loader): YAML 1.1 would lint
        # ImageTag 1.10 as 1.1 and refuse an unquoted date outright, values deploy.py sends as written
        data = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader constructs only str, list, dict
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"cannot read the deployment file ({str(exc).splitlines()[0]})", {}
    if not isinstance(data, dict):
        return "not a deployment file (expected template-file-path, parameters, tags)", {}
    deployment, matches = create_deployment_from_git_sync(data)
    if matches or deployment is None:
        return "; ".join(m.message for m in matches or []) or "not a Git-sync deployment file", {}
    if deployment.template_file_path != ROOT_TEMPLATE_PATH:
        return f"template-file-path must be {ROOT_TEMPLATE_PATH} (got {deployment.template_file_path!r})", {}
    return None, {k: str(v) for k, v in (deployment.parameters or {}).items()}


def lint(templates: Sequence[Path], deployment_files: Sequence[Path] = ()) -> list[str]:
    """Lint everything in this process (no cache, no workers)."""
    return [line for unit in units(templates, deployment_files) for line in lint_unit(unit)]


def _largest_first(pending: Sequence[LintUnit]) -> list[int]:
    """Indexes of ``pending``, largest template first (a root with parameters counts double), so that the
    last units taken are the shortest and the processes finish together."""
    return sorted(
        range(len(pending)), key=lambda i: -pending[i].template.stat().st_size * (1 + bool(pending[i].deployment_file))
    )


def _context() -> ForkContext | SpawnContext:
    """fork when this process has no other thread (cheap: the child shares what is loaded); spawn once
    threads run (the emulator's), since a forked child could inherit a lock held by one of them."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _answer(conn: Connection, work: Callable[[], object]) -> None:
    """Send ``("ok", work())`` or ``("error", one line)``; the other end may be gone (it was interrupted)."""
    try:
        reply: tuple[str, object] = ("ok", work())
    except Exception as exc:  # reported by the deploy, in one line
        reply = ("error", f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        conn.send(reply)


def _take(pending: Sequence[LintUnit], order: Sequence[int], taken: Synchronized[int]) -> dict[int, list[str]]:
    """Lint the next unit in ``order`` not yet taken by another process, until none is left: whichever
    process is free takes the next one, so no estimate of a unit's cost has to be right."""
    done: dict[int, list[str]] = {}
    while True:
        with taken.get_lock():
            k, taken.value = taken.value, taken.value + 1
        if k >= len(order):
            return done
        done[order[k]] = lint_unit(pending[order[k]])


def _help(conn: Connection, pending: list[LintUnit], order: list[int], taken: Synchronized[int], parent: int) -> None:
    """A forked copy of the lint process: lints with the rules it inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _leave_with(parent)
    _answer(conn, lambda: _take(pending, order, taken))


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (the deploy stops us): stop the helpers and leave at once. Not SystemExit: raised while
    an import runs, Python reports it as an ignored exception instead of leaving."""
    for helper in multiprocessing.active_children():
        helper.terminate()
    os._exit(0)


WATCH_SECONDS = 0.5


def _leave_with(parent: int) -> None:
    """Leave (as on SIGTERM, helpers too) once ``parent`` is gone. A killed deploy closes nothing the lint
    process would notice while it lints (it reads the pipe only between jobs), and a parent that dies
    leaves its child to be re-parented, so getppid() stops being ``parent`` (getppid(2)). Checked on a
    SIGALRM timer, not in a thread: this process forks its helpers, and a thread at fork time is what
    ``_context`` avoids. A timer is not inherited by a forked child (fork(2)): each helper sets its own;
    Python retries a call the signal interrupts (PEP 475). No timer on Windows (no setitimer)."""
    if not hasattr(signal, "setitimer"):
        return

    def check(signum: int, frame: object) -> None:
        if os.getppid() != parent:
            _stop(signum, frame)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, WATCH_SECONDS, WATCH_SECONDS)
    check(signal.SIGALRM, None)  # gone already, before the timer was set


def _lint_split(pending: list[LintUnit], workers: int) -> list[list[str]]:
    """Lint ``pending`` in this process and ``workers - 1`` forked copies of it."""
    ctx = _context()
    order, taken = _largest_first(pending), ctx.Value("i", 0)
    helpers = []
    for _ in range(min(workers, len(pending)) - 1):
        mine, theirs = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_help, args=(theirs, pending, order, taken, os.getpid()), daemon=True, name="cfn-lint helper"
        )
        process.start()
        theirs.close()
        helpers.append((mine, process))
    found = _take(pending, order, taken)
    for mine, process in helpers:
        try:
            status, value = mine.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"a cfn-lint helper process stopped (exit code {process.exitcode})") from None
        if status != "ok":
            raise RuntimeError(value)
        found.update(value)
        process.join()
    return [found[i] for i in range(len(pending))]


def _serve(conn: Connection, deploys_end: Connection, workers: int, deploy: int) -> None:
    """The lint process: load cfn-lint, then lint the units it is sent (None: nothing to do). It ends
    with the ``deploy`` process, however that ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the deploy's to handle: it closes us
    signal.signal(signal.SIGTERM, _stop)
    _leave_with(deploy)
    deploys_end.close()  # our inherited copy: with it open, a killed deploy would never look finished
    # A process that lives for one job: cyclic garbage is freed when it exits. Without the collector
    # cfn-lint loaded and linted our 12 templates ~20 % faster, for ~25 MB more (measured 2026-11-28).
    gc.disable()
    with contextlib.suppress(Exception):  # a failure to load is reported below, when there is work to do
        cfnlint()
    try:
        pending = conn.recv()
    except EOFError:  # the deploy ended first
        return
    if pending:
        _answer(conn, lambda: _lint_split(pending, workers))


class Linter:
    """The cfn-lint process, started before the templates are rendered: loading cfn-lint (~1.1 s of
    imports and rules, the largest fixed cost of a pre-flight) overlaps rendering and the parameter checks.
    Started on speculation: when every unit turns out cached, it is stopped unused. With ``start=False``
    it starts only when handed work."""

    def __init__(self, workers: int = LINT_WORKERS, start: bool = True) -> None:
        self.workers = workers
        self._process: BaseProcess | None = None
        if start:
            self._start()

    def _start(self) -> tuple[Connection, BaseProcess]:
        if self._process is None:
            ctx = _context()
            self._conn, theirs = ctx.Pipe()
            self._process = ctx.Process(
                target=_serve, args=(theirs, self._conn, self.workers, os.getpid()), name="cfn-lint"
            )
            self._process.start()
            theirs.close()
        return self._conn, self._process

    def lint(self, pending: Sequence[LintUnit]) -> None:
        """Hand over the work (once); the answer comes from ``results``."""
        conn, _ = self._start()
        with contextlib.suppress(OSError):  # the process is gone: ``results`` says so
            conn.send(list(pending))

    def results(self) -> list[list[str]]:
        """The problems of each unit handed over, in order."""
        conn, process = self._start()
        try:
            status, value = conn.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            raise RuntimeError(f"the cfn-lint process stopped (exit code {process.exitcode})") from None
        if status != "ok":
            raise RuntimeError(f"cfn-lint failed: {value}")
        return cast(list[list[str]], value)

    def close(self) -> None:
        """Stop the process if it still runs (nothing to lint, or the deploy was interrupted)."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        self._conn.close()


class Lint:
    """cfn-lint of the units not yet found clean (a file named by their digest in ``cache_dir``), in the
    lint process, while this one goes on with work that changes nothing (emulator start, credential check).
    A deploy waits for ``result()`` before its first write. The cache is optional: when it cannot be
    written, ``warnings`` says so and linting goes on."""

    def __init__(
        self,
        templates: Sequence[Path],
        deployment_files: Sequence[Path],
        cache_dir: Path,
        workers: int = LINT_WORKERS,
        linter: Linter | None = None,
        release: Callable[[], None] = lambda: None,
    ) -> None:
        self.cache_dir = cache_dir
        self._release = release  # called once the result is in: the build directory may change again
        self.started = time.perf_counter()
        self.warnings: list[str] = []
        self.units = units(templates, deployment_files)
        import importlib.metadata  # not `import cfnlint`: a cached run pays nothing for that

        version = importlib.metadata.version("cfn-lint") + "\0" + CONFIG.read_text(encoding="utf-8")
        self.keys = {u: u.key(version) for u in self.units}
        self.pending = [u for u in self.units if not self._known_clean(u)]
        self._linter: Linter | None = None
        if self.pending:
            self._linter = linter or Linter(workers)
            self._linter.lint(self.pending)
        elif linter is not None:
            linter.close()

    @property
    def cached(self) -> bool:
        """Nothing needed linting: every unit was found clean before."""
        return not self.pending

    def result(self) -> list[str]:
        """The lint problems (empty: clean); remembers clean units."""
        problems: list[str] = []
        try:
            answers = self._linter.results() if self._linter is not None else []
            for unit, found in zip(self.pending, answers, strict=True):
                problems += found
                if not found:
                    self._remember(unit)
        finally:
            self.close()
        return problems

    def _known_clean(self, unit: LintUnit) -> bool:
        try:
            return (self.cache_dir / self.keys[unit]).is_file()
        except OSError as exc:  # an unreadable cache is a cache miss: lint, and say so once
            self._warn(exc)
            return False

    def _warn(self, exc: OSError) -> None:
        if not self.warnings:
            self.warnings.append(
                f"cannot use the lint cache {self.cache_dir} ({exc.strerror}): every deploy will lint again"
            )

    def _remember(self, unit: LintUnit) -> None:
        """Create the unit's empty file; never through a symlink of that name (O_NOFOLLOW: ELOOP, a warning),
        which would create a file wherever it points (the build directory may come from somebody else)."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            os.close(os.open(self.cache_dir / self.keys[unit], flags, 0o666))
        except OSError as exc:
            self._warn(exc)

    def close(self) -> None:
        if self._linter is not None:
            self._linter.close()
            self._linter = None
        self._release()


_EARLY: Linter | None = None


def start_early() -> None:
    """Start the lint process now: deploy.py calls this first thing for a command that lints, so cfn-lint
    loads while this tool imports its own modules. Taken by the next ``linter()``; stopped at exit if not."""
    global _EARLY
    _EARLY = Linter()
    atexit.register(_EARLY.close)


def linter() -> Linter:
    """The lint process started early, if there is one; else a new one, started now when that is cheap
    (fork), else when there is work for it (a spawned process costs more to throw away)."""
    global _EARLY
    taken, _EARLY = _EARLY, None
    return taken or Linter(start=_context().get_start_method() == "fork")
