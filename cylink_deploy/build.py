"""Build step: render the troposphere sources into the build directory and lint them with cfn-lint's
library API: every template on its own, and the root once per parameter file (with its values).

Each lint unit (one template, or the root with one parameter file) is cached by content, so an edit to
one child re-lints only that child; units that need linting run in parallel worker processes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import multiprocessing
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from templates_src import render

LINT_REGIONS = ["ap-northeast-1"]
ROOT_TEMPLATE_PATH = f"build/{render.ROOT_FILE}"  # what every parameter file names (Git sync's convention)
LINT_WORKERS = 2
CHILD_HASH = re.compile(rb"-[0-9a-f]{12}\.json")


@dataclass(frozen=True)
class Build:
    """The rendered files (name -> JSON text), where they were written, and how long synthesis took."""

    files: dict[str, str]
    paths: list[Path]
    synth_seconds: float

    @property
    def root_path(self) -> Path:
        return next(p for p in self.paths if p.name == render.ROOT_FILE)


def build(out_dir: Path) -> Build:
    """Render every template and write it (unchanged files are not rewritten)."""
    start = time.perf_counter()
    files = render.render()
    synth = time.perf_counter() - start
    paths = render.write(out_dir, files)
    return Build(files, paths, synth)


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
        if self.template.name == render.ROOT_FILE:
            text = CHILD_HASH.sub(b"-<sha>.json", text)
        digest = hashlib.sha256(version.encode() + b"\0" + text)
        if self.deployment_file is not None:
            digest.update(b"\0" + self.deployment_file.read_bytes())
        return digest.hexdigest()


def units(templates: Sequence[Path], deployment_files: Sequence[Path] = ()) -> list[LintUnit]:
    """Every template alone, then the root once per parameter file (which also lints the root itself,
    so the root is not linted a second time on its own)."""
    root = next((p for p in templates if p.name == render.ROOT_FILE), None)
    if deployment_files and root is None:
        raise ValueError("parameter files are linted against the root template: build it first")
    alone = [LintUnit(p) for p in sorted(templates) if not (deployment_files and p == root)]
    return alone + [LintUnit(root, d) for d in sorted(deployment_files)] if root else alone


def lint_batch(batch: Sequence[LintUnit]) -> list[list[str]]:
    """cfn-lint several units in one worker: the plain templates in one cfn-lint run (its setup is paid
    once), each root-with-parameters on its own; the problems of each unit, in order."""
    from cfnlint.api import lint_by_config  # heavy import: only where linting happens
    from cfnlint.config import ManualArgs

    plain = [u.template for u in batch if u.deployment_file is None]
    by_file: dict[str, list[str]] = {str(t): [] for t in plain}
    if plain:
        for m in lint_by_config(ManualArgs(templates=[str(t) for t in plain], regions=LINT_REGIONS)):
            by_file.setdefault(str(m.filename), []).append(f"{m.filename}:{m.linenumber}: {m.rule.id} {m.message}")
    return [by_file.get(str(u.template), []) if u.deployment_file is None else lint_unit(u) for u in batch]


def lint_unit(unit: LintUnit) -> list[str]:
    """cfn-lint one unit; one readable line per match (empty: clean)."""
    if unit.deployment_file is None:
        return lint_batch([unit])[0]
    from cfnlint.api import lint_by_config
    from cfnlint.config import ManualArgs

    problem, parameters = _deployment(unit.deployment_file)
    if problem:
        return [f"{unit.deployment_file}:1: {problem}"]
    from cfnlint.context.parameters import ParameterSet

    config = ManualArgs(
        templates=[str(unit.template)],
        parameters=[ParameterSet(str(unit.deployment_file), parameters)],
        regions=LINT_REGIONS,
    )
    return [
        f"{unit.deployment_file} (with {m.filename}):{m.linenumber}: {m.rule.id} {m.message}"
        for m in lint_by_config(config)
    ]


def _deployment(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The deployment file's parameters, checked against cfn-lint's Git-sync schema (no chdir needed:
    the template is the one we just built, whatever the working directory)."""
    from cfnlint.runner.deployment_file.deployment_types.git_sync import create_deployment_from_git_sync

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    return [line for found in lint_batch(units(templates, deployment_files)) for line in found]


def _batches(pending: Sequence[LintUnit], workers: int) -> list[list[LintUnit]]:
    """Split the work evenly by size (a root with parameters counts double: it is the largest)."""
    batches: list[list[LintUnit]] = [[] for _ in range(min(workers, len(pending)))]
    loads = [0] * len(batches)
    for unit in sorted(pending, key=lambda u: -(u.template.stat().st_size * (2 if u.deployment_file else 1))):
        i = loads.index(min(loads))
        batches[i].append(unit)
        loads[i] += unit.template.stat().st_size * (2 if unit.deployment_file else 1)
    return batches


class Lint:
    """cfn-lint in worker processes, so its seconds overlap with work that changes nothing (emulator
    start, credential check). A deploy waits for ``result()`` before its first write. Units already found
    clean (a file named by their digest in ``cache_dir``) are not linted again. The cache is optional:
    when it cannot be written, ``warnings`` says so and linting goes on."""

    def __init__(
        self, templates: Sequence[Path], deployment_files: Sequence[Path], cache_dir: Path, workers: int = LINT_WORKERS
    ) -> None:
        self.cache_dir = cache_dir
        self.started = time.perf_counter()
        self.warnings: list[str] = []
        self.units = units(templates, deployment_files)
        version = importlib.metadata.version("cfn-lint")  # not `import cfnlint`: a cached run pays nothing for it
        self.keys = {u: u.key(version) for u in self.units}
        self.pending = [u for u in self.units if not (cache_dir / self.keys[u]).is_file()]
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[tuple[list[LintUnit], Future[list[list[str]]]]] = []
        if self.pending:
            batches = _batches(self.pending, workers)
            # fork while this process has no other thread (it is cheap: nothing is imported again); spawn
            # once threads run (the emulator's), since a forked child could inherit a lock held by one
            method = "fork" if threading.active_count() == 1 else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=len(batches), mp_context=multiprocessing.get_context(method))
            self._futures = [(batch, self._pool.submit(lint_batch, batch)) for batch in batches]

    @property
    def cached(self) -> bool:
        """Nothing needed linting: every unit was found clean before."""
        return not self.pending

    def result(self) -> list[str]:
        """The lint problems (empty: clean); remembers clean units."""
        problems: list[str] = []
        try:
            for batch, future in self._futures:
                for unit, found in zip(batch, future.result(), strict=True):
                    problems += found
                    if not found:
                        self._remember(unit)
        finally:
            self.close()
        return problems

    def _remember(self, unit: LintUnit) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            (self.cache_dir / self.keys[unit]).touch()
        except OSError as exc:
            if not self.warnings:
                self.warnings.append(
                    f"cannot write the lint cache {self.cache_dir} ({exc.strerror}): every deploy will lint again"
                )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
