"""Build step: render the troposphere sources into the build directory (linting them is ``lint``)."""

from __future__ import annotations

import contextlib
import io
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from templates_src import render

SOURCES = Path(render.__file__).resolve().parent


@dataclass(frozen=True)
class Build:
    """The rendered files (name -> JSON text), where they were written, and how long synthesis took."""

    files: dict[str, str]
    paths: list[Path]
    synth_seconds: float

    @property
    def root_path(self) -> Path:
        return next(p for p in self.paths if p.name == render.ROOT_FILE)


class TemplateError(Exception):
    """The troposphere sources do not render (troposphere refused a property or value): one line that
    names the source line, e.g. ``templates_src/keys.py:31: ValueError: Integer must be between 7 and 30``."""


def _render() -> dict[str, str]:
    said = io.StringIO()  # troposphere writes a line of its own before re-raising a validator's error
    try:
        with contextlib.redirect_stderr(said):
            return render.render()
    except Exception as exc:
        ours = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).parent == SOURCES]
        where = f"templates_src/{Path(ours[-1].filename).name}:{ours[-1].lineno}: " if ours else ""
        context = said.getvalue().strip().splitlines()
        detail = f" ({context[-1].removesuffix(' exception:').strip()})" if context else ""
        raise TemplateError(f"{where}{type(exc).__name__}: {exc}{detail}") from exc


def build(out_dir: Path) -> Build:
    """Render every template and write it (unchanged files are not rewritten)."""
    start = time.perf_counter()
    files = _render()
    synth = time.perf_counter() - start
    paths = render.write(out_dir, files)
    return Build(files, paths, synth)
