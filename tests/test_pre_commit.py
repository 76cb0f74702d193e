"""pre-commit (.pre-commit-config.yaml): clean on the repository as it is, and each guard bites — a staged
build/ file is refused at `git commit`, a broken parameter file fails the build + cfn-lint hook. Runs in a
copy of the working tree (tests never write into the repository), with the project's .venv tools. The ruff
and mypy hooks are skipped there: `make test` runs the same commands over every Python file just before
pytest (checked below), and mypy on a fresh copy without its cache was most of this file's time."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

VENV = Path(sys.executable).parent.parent
PRE_COMMIT = VENV / "bin" / "pre-commit"
CONFIG = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
HOOKS = {h["id"]: h for h in CONFIG["repos"][0]["hooks"]}
SKIPPED = ("ruff", "mypy")  # in the full run: `make test` runs them


def git(where: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=where,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def pre_commit(where: Path, *args: str, skip: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(where.parent / "pre-commit-home"), "SKIP": ",".join(skip)}
    return subprocess.run([str(PRE_COMMIT), *args], cwd=where, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree (tracked and new files, not ignored ones) as a fresh git repository, .venv linked in."""
    assert PRE_COMMIT.exists(), "pre-commit comes with the dev extras (setup.cfg): pip install -e '.[dev]'"
    where = tmp_path_factory.mktemp("precommit") / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, where / name)
    (where / ".venv").symlink_to(VENV)
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "snapshot", "--no-verify")
    return where


def test_every_hook_is_local_and_runs_the_projects_own_tools():
    assert [r["repo"] for r in CONFIG["repos"]] == ["local"]  # nothing fetched at commit time
    assert {"ruff", "mypy", "build-and-cfn-lint", "no-build-dir"} <= set(HOOKS)
    for hook in HOOKS.values():
        assert hook["language"] == "fail" or hook["entry"].startswith(".venv/bin/"), hook["id"]


def make_test_recipe() -> list[str]:
    """The commands of the Makefile's ``test`` target, $(VENV) as .venv (its default)."""
    (recipe,) = re.findall(r"^test:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)
    return [line.strip().replace("$(VENV)", ".venv") for line in recipe.splitlines()]


def test_make_test_runs_the_skipped_hooks_commands_over_every_python_file():
    recipe = make_test_recipe()
    assert HOOKS["mypy"]["entry"] in recipe and HOOKS["mypy"]["pass_filenames"] is False  # mypy: setup.cfg's files
    command = HOOKS["ruff"]["entry"].split(" --")[0]  # .venv/bin/ruff check
    (ruff,) = [line for line in recipe if line.startswith(command + " ")]
    paths = ruff.removeprefix(command).split()
    python_files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert python_files and [f for f in python_files if not any(f == p or f.startswith(p + "/") for p in paths)] == []


@pytest.mark.slow
def test_pre_commit_runs_clean_on_the_repository(checkout):
    proc = pre_commit(checkout, "run", "--all-files", skip=SKIPPED)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    for hook in ("build + cfn-lint", "actionlint"):
        assert any(line.startswith(hook) and line.endswith("Passed") for line in lines), (hook, proc.stdout)
    for hook in SKIPPED:  # known to pre-commit, and only skipped
        assert any(line.startswith(HOOKS[hook]["name"]) and line.endswith("Skipped") for line in lines), proc.stdout


@pytest.mark.slow
def test_a_staged_build_file_is_refused_at_commit(checkout):
    assert pre_commit(checkout, "install").returncode == 0
    (checkout / "build").mkdir(exist_ok=True)
    (checkout / "build" / "root.json").write_text("{}\n")
    git(checkout, "add", "-f", "build/root.json")  # -f: build/ is git-ignored, so only a forced add stages it
    try:
        proc = git(checkout, "commit", "-m", "oops", check=False)
        assert proc.returncode != 0
        assert "build/ is generated" in proc.stdout + proc.stderr
        assert (
            "build/root.json" in git(checkout, "diff", "--cached", "--name-only").stdout
        )  # still staged, not committed
    finally:
        git(checkout, "reset", "-q", "build/root.json")
        pre_commit(checkout, "uninstall")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_build_as_a_symlink_or_a_file_is_refused_at_commit_too(checkout, kind):
    """`build` that is not a directory (a symlink to anywhere, a file) is refused like build/ is: a committed
    symlink would make every build of a checkout write where it points."""
    assert pre_commit(checkout, "install").returncode == 0
    build = checkout / "build"
    shutil.rmtree(build, ignore_errors=True)
    if kind == "symlink":
        build.symlink_to("/tmp")
    else:
        build.write_text("x\n")
    git(checkout, "add", "-f", "build")
    try:
        proc = git(checkout, "commit", "-m", "oops", check=False)
        assert proc.returncode != 0
        assert "build/ is generated" in proc.stdout + proc.stderr
        assert git(checkout, "diff", "--cached", "--name-only").stdout.split() == ["build"]
    finally:
        git(checkout, "reset", "-q", "build")
        build.unlink()
        pre_commit(checkout, "uninstall")


@pytest.mark.slow
def test_a_broken_parameter_file_fails_the_build_hook(checkout):
    dev = checkout / "params" / "dev.yaml"
    original = dev.read_text()
    document = yaml.safe_load(original)
    document["parameters"]["EgressMode"] = "bogus"
    dev.write_text(yaml.safe_dump(document))
    try:
        proc = pre_commit(checkout, "run", "build-and-cfn-lint", "--files", "params/dev.yaml")
        assert proc.returncode != 0
        assert "bogus" in proc.stdout or "EgressMode" in proc.stdout, proc.stdout[-3000:]
    finally:
        dev.write_text(original)
