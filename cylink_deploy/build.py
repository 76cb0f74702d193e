"""Build step: render the troposphere sources into the build directory (linting them is ``lint``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from templates_src import render


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
