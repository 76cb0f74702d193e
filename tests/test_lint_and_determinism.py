"""cfn-lint (as a library) on every built template and parameter file, and byte-identical builds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cylink_deploy.preflight import build as build_step
from cylink_deploy.preflight import lint as lint_step
from templates_src import render
from templates_src.root import CHILDREN

from .conftest import REPO, project_copy


@pytest.fixture(scope="module")
def lint_paths(built_dir):
    return sorted(built_dir.glob("*.json"))


def test_every_built_template_lints_clean(lint_paths):
    assert len(lint_paths) == len(CHILDREN) + 1
    assert lint_step.lint(lint_paths) == []


def test_every_parameter_file_lints_clean_against_the_root(built_dir, project):
    files = sorted(project.params_dir.glob("*.yaml"))
    assert [f.stem for f in files] == ["dev", "prod", "staging"]
    assert lint_step.lint([built_dir / render.ROOT_FILE], files) == []


def test_a_parameter_file_naming_another_template_is_a_lint_problem_not_a_crash(built_dir, tmp_path):
    bad = tmp_path / "dev.yaml"
    bad.write_text("template-file-path: elsewhere/root.json\nparameters: {}\n")
    (problem,) = lint_step.lint([built_dir / render.ROOT_FILE], [bad])
    assert "template-file-path must be build/root.json" in problem


def test_a_parameter_file_with_yaml_aliases_is_a_lint_problem_never_expanded(built_dir, tmp_path):
    """The build refuses aliases before linting (params.load); the lint process refuses them as well rather
    than expand an alias bomb while checking the file against Git sync's schema."""
    aliased = tmp_path / "dev.yaml"
    aliased.write_text("template-file-path: build/root.json\nparameters:\n  EgressMode: &x none\n  VpcCidr: *x\n")
    (problem,) = lint_step.lint([built_dir / render.ROOT_FILE], [aliased])
    assert problem == f"{aliased}:1: YAML anchors and aliases are not allowed (an alias bomb would be expanded here)"


def test_clean_lint_units_are_cached_so_an_edit_to_one_child_relints_only_that_child(tmp_path, project):
    out = tmp_path / "build"
    result = build_step.build(out)
    dev = [project.params_dir / "dev.yaml"]
    first = lint_step.Lint(result.paths, dev, out / ".lint-cache")
    assert first.result() == [] and len(first.pending) == len(result.paths)  # the root is linted with its parameters
    again = lint_step.Lint(result.paths, dev, out / ".lint-cache")
    assert again.cached and again.result() == []
    child = next(p for p in result.paths if p.name.startswith("dns-"))
    edited = json.loads(child.read_text())
    edited["Description"] += " (edited)"
    renamed = child.with_name("dns-0123456789ab.json")  # a new content hash, as a rebuild would name it
    renamed.write_text(json.dumps(edited))
    child.unlink()
    root = out / render.ROOT_FILE
    root.write_text(root.read_text().replace(child.name.removesuffix(".json"), "dns-0123456789ab"))
    paths = [renamed if p == child else p for p in result.paths]
    third = lint_step.Lint(paths, dev, out / ".lint-cache")
    assert [u.template.name for u in third.pending] == [renamed.name]  # not the root: only a child's name changed in it
    assert third.result() == []


def test_an_unwritable_lint_cache_is_a_warning_not_a_failure(tmp_path, built_dir):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    lint = lint_step.Lint([built_dir / render.ROOT_FILE], [], blocker)
    assert lint.result() == []
    assert lint.warnings and "cannot use the lint cache" in lint.warnings[0]


def test_an_unreadable_lint_cache_is_a_miss_and_a_warning_not_a_crash(tmp_path, built_dir):
    unreadable = tmp_path / ("x" * 300)  # a lookup fails with an OSError (name too long), as EACCES would
    lint = lint_step.Lint([built_dir / render.ROOT_FILE], [], unreadable)
    assert lint.pending and lint.result() == []
    assert lint.warnings == [
        f"cannot use the lint cache {unreadable} (File name too long): every deploy will lint again"
    ]


def test_lint_reports_a_broken_template(tmp_path, lint_paths):
    broken = json.loads(lint_paths[0].read_text())
    first = next(iter(broken["Resources"].values()))
    first["Properties"]["NotAProperty"] = True
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert any("NotAProperty" in line for line in lint_step.lint([path]))


def test_two_builds_are_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    render.write(a, render.render())
    render.write(b, render.render())
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in a.iterdir():
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name


@pytest.mark.slow
def test_rendering_is_deterministic_across_processes():
    """Hash seeds differ per process: any set/dict-order leak would show here."""
    code = (
        "from templates_src import render; import hashlib; "
        "print(hashlib.sha256(repr(render.render()).encode()).hexdigest())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": s},
        ).stdout
        for s in ("1", "2")
    }
    assert len(outs) == 1


@pytest.mark.slow
def test_build_writes_root_and_children_into_the_project_and_exits_zero(tmp_path):
    where = project_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "build", "--env", "dev", "--project-dir", str(where)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Synthesised {len(CHILDREN) + 1} templates" in proc.stdout
    assert (where / "build" / "root.json").is_file()


@pytest.mark.slow
def test_the_old_build_only_flag_still_works_and_names_the_new_form(tmp_path):
    where = project_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "--build-only", "--project-dir", str(where)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stderr.strip() == f"note: --build-only is now the subcommand: python deploy.py build --project-dir {where}"
    )


def test_cfn_lint_checks_the_values_as_deploy_sends_them(built_dir, tmp_path):
    """An unquoted date or 1.10 is sent as written (params._Loader); cfn-lint read them with YAML 1.1 (a date
    object: "is not of type" at line 1, exit 1) and must lint the same text instead."""
    written = tmp_path / "dev.yaml"
    written.write_text("template-file-path: build/root.json\nparameters:\n  ImageTag: 2026-11-28\n  EgressMode: none\n")
    assert lint_step.lint([built_dir / render.ROOT_FILE], [written]) == []
    leading_zero = tmp_path / "staging.yaml"  # linted as 07 (deploy refuses it earlier), never as 7
    leading_zero.write_text("template-file-path: build/root.json\nparameters:\n  LogRetentionDays: 07\n")
    (problem,) = lint_step.lint([built_dir / render.ROOT_FILE], [leading_zero])
    assert "'07' is not one of" in problem
