"""Where the project's files are: one place, so nothing depends on the working directory.

The root is ``--project-dir``, else the nearest directory at or above the working directory that holds
``params/`` and ``templates_src/``, else the checkout this package lives in (today's default). Tests
give a temporary ``build_dir`` so they never write into the repository and can run in parallel.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import templates_src
from cylink_deploy.errors import BadInput

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _same_templates(root: Path, named_by: str) -> None:
    """The templates are the ``templates_src`` this deploy.py imports; a project with templates of its own
    would silently be built from another checkout's."""
    theirs = root / "templates_src"
    if theirs.is_dir() and theirs.resolve() != Path(templates_src.__file__).resolve().parent:
        raise BadInput(
            f"{named_by} {root} has templates_src/ of its own, but this deploy.py builds "
            f"{Path(templates_src.__file__).resolve().parent}: run {root / 'deploy.py'} instead"
        )


@dataclass(frozen=True)
class Project:
    root: Path
    build_override: Path | None = None

    @classmethod
    def find(cls, project_dir: Path | None = None, start: Path | None = None, build_dir: Path | None = None) -> Project:
        """The project at ``project_dir``, or found from ``start`` (the working directory) upwards."""
        if project_dir is not None:
            _same_templates(project_dir, "--project-dir")
            if not any((project_dir / "params").glob("*.yaml")):  # else a typo creates DIR/build, lints nothing
                raise BadInput(
                    f"--project-dir {project_dir}: no params/*.yaml there; pass the checkout's root "
                    "(the directory with params/ and deploy.py)"
                )
            return cls(project_dir.resolve(), build_dir)
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "params").is_dir() and (candidate / "templates_src").is_dir():
                _same_templates(candidate, "the working directory's checkout")
                return cls(candidate, build_dir)
        return cls(PACKAGE_ROOT, build_dir)

    @property
    def build_dir(self) -> Path:
        return self.build_override or self.root / "build"

    @property
    def params_dir(self) -> Path:
        return self.root / "params"

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    def lock_build(self, waiting: Callable[[str], None]) -> Callable[[], None]:
        """Hold the build directory until the returned function is called: a second build there would
        rewrite root.json and remove stale children while this one still lints them (and this one could
        then cache as clean content it never linted). A second build waits; the lock ends with the process."""
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform (Windows): builds are not serialised
            return lambda: None
        self.build_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.build_dir / ".lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting(f"another build is using {self.build_dir}: waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        return handle.close

    @property
    def lint_cache(self) -> Path:
        return self.build_dir / ".lint-cache"

    def git_commit(self) -> str:
        """The commit deployed (recorded in the change set's description), "-dirty" with local edits."""
        try:
            run = {"cwd": self.root, "capture_output": True, "text": True, "check": True}
            sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **run).stdout.strip()  # type: ignore[call-overload]
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **run).stdout.strip()  # type: ignore[call-overload]
            return sha + ("-dirty" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            return "no git commit"
