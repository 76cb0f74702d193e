"""Build step: render the troposphere sources to ``build/`` and lint them (templates and the
environment's parameter files) with cfn-lint's library API."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from templates_src import render

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO / "build"
PARAMS_DIR = REPO / "params"
LINT_REGIONS = ["ap-northeast-1"]


@dataclass(frozen=True)
class Build:
    """The rendered files (name -> JSON text), where they were written, and how long synthesis took."""

    files: dict[str, str]
    paths: list[Path]
    synth_seconds: float

    @property
    def root_path(self) -> Path:
        return next(p for p in self.paths if p.name == render.ROOT_FILE)


def build(out_dir: Path = BUILD_DIR) -> Build:
    """Render every template and write it (unchanged files are not rewritten)."""
    start = time.perf_counter()
    files = render.render()
    synth = time.perf_counter() - start
    paths = render.write(out_dir, files)
    return Build(files, paths, synth)


def lint(templates: Sequence[Path], deployment_files: Sequence[Path] = ()) -> list[str]:
    """cfn-lint every template and deployment file in one run; one readable line per match (empty: clean)."""
    from cfnlint.api import lint_by_config  # heavy import: only when linting
    from cfnlint.config import ManualArgs

    matches = []
    if templates:
        matches += lint_by_config(ManualArgs(templates=[str(p) for p in templates], regions=LINT_REGIONS))
    if deployment_files:
        # template-file-path is relative to the repository root (Git sync's convention).
        cwd = os.getcwd()
        os.chdir(REPO)
        try:
            matches += lint_by_config(ManualArgs(deployment_files=[str(p) for p in deployment_files], regions=LINT_REGIONS))
        finally:
            os.chdir(cwd)
    return [f"{m.filename}:{m.linenumber}: {m.rule.id} {m.message}" for m in matches]


def lint_key(templates: Sequence[Path], deployment_files: Sequence[Path]) -> str:
    """Digest of exactly what is linted, and by which cfn-lint: identical input, identical result."""
    import cfnlint.version

    digest = hashlib.sha256(cfnlint.version.__version__.encode())
    for path in sorted(templates) + sorted(deployment_files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class BackgroundLint:
    """cfn-lint in a second process, so its seconds overlap with work that changes nothing (emulator
    start, credential check). A deploy waits for ``result()`` before its first write. Inputs already
    found clean (``cache`` holds their digest) are not linted again, so a no-op deploy pays nothing."""

    def __init__(self, templates: Sequence[Path], deployment_files: Sequence[Path], cache: Path) -> None:
        self.cache = cache
        self.key = lint_key(templates, deployment_files)
        self.started = time.perf_counter()
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[list[str]] | None = None
        if not (cache.is_file() and cache.read_text().strip() == self.key):
            # spawn, not fork: the caller may run threads (the emulator) that hold locks
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            self._future = self._pool.submit(lint, list(templates), list(deployment_files))

    @property
    def cached(self) -> bool:
        return self._future is None

    def result(self) -> list[str]:
        """The lint problems (empty: clean); remembers clean inputs."""
        if self._future is None:
            return []
        try:
            problems = self._future.result()
        finally:
            self.close()
        if not problems:
            self.cache.write_text(self.key + "\n")
        return problems

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
