"""Where the project's files are: one place, so nothing depends on the working directory.

The root is ``--project-dir``, else the nearest directory at or above the working directory that holds
``params/`` and ``templates_src/``, else the checkout this package lives in (today's default). Tests
give a temporary ``build_dir`` so they never write into the repository and can run in parallel.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import templates_src
from cylink_deploy.errors import BadInput

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# git in a tree somebody else prepared runs what its config names: ``core.fsmonitor`` on every status
# (git-config(1), core.fsmonitor), hooks (githooks(5)); these settings on the command line win over the
# repository's config (git(1), -c). Clean filters and submodules are handled in ``git_commit``.
SAFE_GIT = ("git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")


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
        """The tool's own policies (protection, stack policy): always this package's, never the project
        directory's -- a ``--project-dir`` holding only ``params/`` is a whole project, and an untrusted tree
        must not choose a weaker stack policy."""
        return PACKAGE_ROOT / "policies"

    def check_build_dir(self) -> Path:
        """The build directory, refused when it would send the build's writes elsewhere: a ``build`` (or its
        lint cache) that is a symlink, or that resolves outside the project (``--project-dir`` may name a
        tree somebody else prepared; its ``build`` -> ~/.aws would be rewritten by every build). A directory
        chosen by the caller (``build_override``: tests, benchmarks) is the caller's."""
        build = self.build_dir
        if self.build_override is None:
            for path in (build, build / ".lint-cache"):
                if path.is_symlink():
                    raise BadInput(
                        f"{path} is a symlink (to {os.readlink(path)}): the build writes only into a real directory "
                        "of the project; remove it (python deploy.py build recreates it)"
                    )
            if build.exists() and build.resolve().parent != self.root.resolve():
                raise BadInput(
                    f"{build} resolves to {build.resolve()}, outside {self.root}: remove it "
                    "(python deploy.py build recreates it)"
                )
        return build

    def lock_build(self, waiting: Callable[[str], None]) -> Callable[[], None]:
        """Hold the build directory until the returned function is called: a second build there would
        rewrite root.json and remove stale children while this one still lints them (and this one could
        then cache as clean content it never linted). A second build waits; the lock ends with the process.
        The directory is checked first (``check_build_dir``)."""
        self.check_build_dir()
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform (Windows): builds are not serialised
            return lambda: None
        self.build_dir.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a planted .lock symlink is an error (ELOOP, reported as an unwritable build directory)
        handle = os.fdopen(
            os.open(self.build_dir / ".lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666), "a"
        )
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
        """The commit deployed (recorded in the change set's description), "-dirty" with local edits. git runs
        none of the tree's commands: no fsmonitor, no hooks (``SAFE_GIT``), no clean filter (``_no_filters``),
        no submodule's own git (``--ignore-submodules=all``)."""
        try:
            sha = self._git("rev-parse", "--short", "HEAD").strip()
            defined = self._git(  # reading the config runs nothing; exit 1 is "no filter defined"
                "config", "--null", "--get-regexp", r"^filter\..*\.(clean|process|required)$", check=False
            )
            status = ("status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all")
            dirty = self._git(*_no_filters(defined), *status).strip()
            return sha + ("-dirty" if dirty else "")
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return "no git commit"

    def _git(self, *args: str, check: bool = True) -> str:
        return subprocess.run(
            [*SAFE_GIT, *args], cwd=self.root, capture_output=True, text=True, check=check, timeout=60
        ).stdout


def _no_filters(defined: str) -> list[str]:
    """``-c`` options that switch off every filter driver ``defined`` names (``git config --null
    --get-regexp`` output): git status runs a driver's clean command on content it must compare
    (gitattributes(5), filter), an empty command is no filter (git's convert.c applies a command only when
    it is not empty), and ``required`` is turned off so that an emptied filter does not fail the status."""
    options = []
    for entry in filter(None, defined.split("\0")):
        name = entry.split("\n", 1)[0]  # filter.<driver>.<key>; the driver's name may itself hold dots
        driver, _, key = name.removeprefix("filter.").rpartition(".")
        options += ["-c", f"filter.{driver}.{key}={'false' if key == 'required' else ''}"]
    return options
