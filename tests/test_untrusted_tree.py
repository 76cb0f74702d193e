"""``--project-dir`` may name a tree somebody else prepared (a fork's checkout, a downloaded archive): its
``build`` must not turn the build's writes and deletions into writes outside it, and asking git for the
commit must not run the tree's own commands (``core.fsmonitor``, a clean filter). ``build`` in any form is
never committed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cylink_deploy.errors import EXIT_BAD_INPUT
from cylink_deploy.project import Project
from templates_src import render

from .conftest import REPO, project_copy


def git(where: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.mark.slow
def test_a_build_directory_that_is_a_symlink_out_of_the_tree_is_refused_and_nothing_outside_changes(tmp_path):
    where = project_copy(tmp_path / "tree")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.json").write_text("keep me\n")
    (where / "build").symlink_to(outside)
    proc = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "build", "--project-dir", str(where)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == EXIT_BAD_INPUT, proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: {where / 'build'} is a symlink") and "python deploy.py build recreates it" in line
    assert sorted(p.name for p in outside.iterdir()) == ["precious.json"]
    assert (outside / "precious.json").read_text() == "keep me\n"


def test_a_build_directory_inside_the_tree_but_through_a_symlink_is_refused_too(tmp_path):
    where = project_copy(tmp_path / "tree")
    (where / "elsewhere").mkdir()
    (where / "build").symlink_to(where / "elsewhere")
    with pytest.raises(Exception, match="is a symlink"):
        Project.find(where).lock_build(lambda text: None)
    assert list((where / "elsewhere").iterdir()) == []


def test_a_lint_cache_or_lock_that_is_a_symlink_is_refused(tmp_path):
    from cylink_deploy.errors import BadInput
    from cylink_deploy.jobs.build import render_into

    where = project_copy(tmp_path / "tree")
    (tmp_path / "elsewhere").mkdir()
    (where / "build").mkdir()
    (where / "build" / ".lint-cache").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadInput, match=r"\.lint-cache is a symlink"):
        render_into(Project.find(where), lambda text: None)
    (where / "build" / ".lint-cache").unlink()
    (where / "build" / ".lock").symlink_to(tmp_path / "elsewhere" / "created")
    with pytest.raises(BadInput, match="cannot write the build directory"):
        render_into(Project.find(where), lambda text: None)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_symlinked_file_in_build_is_replaced_not_written_through(tmp_path):
    files = render.render()
    out, outside = tmp_path / "build", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("secret\n")
    (outside / "same").write_text(files[render.ROOT_FILE])  # identical content: the link still goes
    child = next(name for name in files if name != render.ROOT_FILE)
    (out / render.ROOT_FILE).symlink_to(outside / "victim")
    (out / child).symlink_to(outside / "same")
    render.write(out, files)
    assert (outside / "victim").read_text() == "secret\n"
    assert (outside / "same").read_text() == files[render.ROOT_FILE]
    for name in (render.ROOT_FILE, child):
        assert not (out / name).is_symlink() and (out / name).read_text() == files[name]


def test_only_files_the_build_wrote_itself_are_removed_as_stale(tmp_path):
    """Stale children are removed by the tool's manifest of what it wrote, never by a glob: a JSON file
    somebody put there stays, and a planted manifest cannot name anything outside the directory."""
    out = tmp_path / "build"
    first = {"network-aaaaaaaaaaaa.json": "{}\n", render.ROOT_FILE: '{"a": 1}\n'}
    render.write(out, first)
    (out / "notes.json").write_text("mine\n")
    render.write(out, {"network-bbbbbbbbbbbb.json": "{}\n", render.ROOT_FILE: '{"a": 2}\n'})
    assert sorted(p.name for p in out.glob("*.json")) == ["network-bbbbbbbbbbbb.json", "notes.json", "root.json"]
    (tmp_path / "victim.json").write_text("keep\n")
    manifest = next(p for p in out.iterdir() if p.name.startswith(".") and p.is_file())
    manifest.write_text(f"../victim.json\n{tmp_path / 'victim.json'}\n.\n..\nnotes.json/\n")
    render.write(out, first)
    assert (tmp_path / "victim.json").read_text() == "keep\n"
    assert sorted(p.name for p in out.glob("*.json")) == [
        "network-aaaaaaaaaaaa.json",
        "network-bbbbbbbbbbbb.json",  # not in the planted manifest: kept (never a guess)
        "notes.json",
        "root.json",
    ]


@pytest.fixture
def hostile_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout whose git config runs commands: an fsmonitor hook and a clean filter, each leaving a mark."""
    where = project_copy(tmp_path / "tree")
    marks = tmp_path / "marks"
    marks.mkdir()
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "snapshot", "--no-verify")
    hook = where / ".git" / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marks / 'fsmonitor'}\n")
    hook.chmod(0o755)
    git(where, "config", "core.fsmonitor", str(hook))
    (where / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    git(where, "config", "filter.evil.clean", f"touch {marks / 'filter'}; cat")
    git(where, "config", "filter.evil.required", "true")
    edited = where / "params" / "dev.yaml"  # same size, new mtime: git status must read the content to compare
    text = edited.read_text()
    edited.write_text(text.replace("dev", "dvx", 1))
    return where, marks


def test_the_commit_is_read_without_running_the_trees_git_commands(hostile_repo):
    where, marks = hostile_repo
    sha = git(where, "-c", "core.fsmonitor=false", "rev-parse", "--short", "HEAD").strip()
    assert Project.find(where).git_commit() == f"{sha}-dirty"
    assert list(marks.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "symlink", "directory"])
def test_gitignore_ignores_build_in_any_form(tmp_path, kind):
    git(tmp_path, "init", "-q")
    shutil.copy(REPO / ".gitignore", tmp_path / ".gitignore")
    build = tmp_path / "build"
    if kind == "file":
        build.write_text("x\n")
    elif kind == "symlink":
        build.symlink_to(tmp_path / "elsewhere")
    else:
        build.mkdir()
        (build / "root.json").write_text("{}\n")
    git(tmp_path, "add", "-A")
    assert git(tmp_path, "diff", "--cached", "--name-only").split() == [".gitignore"]


def test_a_planted_symlink_in_the_lint_cache_creates_nothing_where_it_points(tmp_path, built_dir):
    """A clean unit is remembered by creating an empty file named by its digest (predictable for a given
    template and cfn-lint): a dangling symlink of that name must not make the build create its target."""
    from cylink_deploy.preflight import lint as lint_step

    child = next(p for p in sorted(built_dir.glob("*.json")) if p.name.startswith("dns-"))
    cache = tmp_path / "cache"
    probe = lint_step.Lint([child], [], cache)  # only to learn the unit's digest
    probe.close()
    cache.mkdir()
    (cache / probe.keys[probe.units[0]]).symlink_to(tmp_path / "created-outside")
    lint = lint_step.Lint([child], [], cache)
    assert lint.result() == []
    assert not (tmp_path / "created-outside").exists()
    assert lint.warnings and "cannot use the lint cache" in lint.warnings[0]
