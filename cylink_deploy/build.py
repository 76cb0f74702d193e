"""Build step: render the troposphere sources to ``build/`` and lint them (templates and the
environment's parameter files) with cfn-lint's library API."""
from __future__ import annotations

import os
import time
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


def lint(templates: list[Path], deployment_files: list[Path] = ()) -> list[str]:  # type: ignore[assignment]
    """cfn-lint every template and deployment file; one readable line per match (empty: clean)."""
    from cfnlint.api import lint_by_config, lint_file  # heavy import: only when linting
    from cfnlint.config import ManualArgs

    matches = []
    for path in templates:
        matches += lint_file(path, config=ManualArgs(regions=LINT_REGIONS))
    if deployment_files:
        # template-file-path is relative to the repository root (Git sync's convention).
        cwd = os.getcwd()
        os.chdir(REPO)
        try:
            matches += lint_by_config(ManualArgs(deployment_files=[str(p) for p in deployment_files], regions=LINT_REGIONS))
        finally:
            os.chdir(cwd)
    return [f"{m.filename}:{m.linenumber}: {m.rule.id} {m.message}" for m in matches]
