"""The lint process: cfn-lint loaded once (early, by deploy.py) and shared by forked helpers. What a user
sees must not change: the same matches as cfn-lint's own API, one line on Ctrl-C, no process left behind,
no hang when the lint process is not needed or dies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cfnlint.api import lint_by_config
from cfnlint.config import ManualArgs
from cfnlint.context.parameters import ParameterSet

from cylink_deploy.commands import legacy
from cylink_deploy.errors import EXIT_ABORTED, EXIT_BAD_INPUT
from cylink_deploy.preflight import lint as lint_step
from templates_src import render

from .conftest import REPO, project_copy


def _as_lines(matches) -> list[str]:
    return sorted(f"{m.filename}:{m.linenumber}: {m.rule.id} {m.message}" for m in matches)


def test_rules_loaded_once_find_what_cfn_lints_own_api_finds(tmp_path, built_dir):
    """The same rules serve every unit of a process: a clean template between two broken ones, and a
    parameter file with a value the root refuses, give exactly lint_by_config's matches."""
    child = next(p for p in sorted(built_dir.glob("*.json")) if p.name != render.ROOT_FILE)
    broken = json.loads(child.read_text())
    next(iter(broken["Resources"].values()))["Properties"]["NotAProperty"] = True
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken))
    params = tmp_path / "dev.yaml"
    params.write_text("template-file-path: build/root.json\nparameters:\n  EgressMode: nowhere\n")
    root = built_dir / render.ROOT_FILE

    found = [lint_step.lint_unit(lint_step.LintUnit(p)) for p in (bad, child, bad)]
    expected = _as_lines(lint_by_config(ManualArgs(templates=[str(bad)], regions=lint_step.LINT_REGIONS)))
    assert expected and sorted(found[0]) == expected == sorted(found[2])
    assert found[1] == []
    config = ManualArgs(
        templates=[str(root)],
        parameters=[ParameterSet(str(params), {"EgressMode": "nowhere"})],
        regions=lint_step.LINT_REGIONS,
    )
    expected = [
        f"{root}:{m.linenumber}: {m.rule.id} {m.message} (with the values of {params})" for m in lint_by_config(config)
    ]
    assert any("nowhere" in line for line in expected)
    assert sorted(lint_step.lint_unit(lint_step.LintUnit(root, params))) == sorted(expected)


def test_a_missing_template_is_a_match_not_an_exit():
    """lint_by_config calls sys.exit for a path that does not exist; the lint process reports it as E0003."""
    (line,) = lint_step.lint_unit(lint_step.LintUnit(Path("no-such-template.json")))
    assert "E0003" in line and "no-such-template.json" in line


@pytest.mark.parametrize(
    ("argv", "lints"),
    [
        ([], True),
        (["--env", "dev"], True),
        (["deploy", "--env", "prod"], True),
        (["build"], True),
        (["--project-dir", "x", "build"], True),
        (["--debug", "--project-dir=x", "deploy"], True),
        (["--build-only"], True),
        (["status", "--env", "dev"], False),
        (["release", "--env", "dev", "--image-tag", "1"], False),
        (["cost"], False),
        (["--delete", "--env", "dev"], False),
        (["--serve-local"], False),
        (["--help"], False),
        (["--env", "dev", "-h"], False),
        (["--project-dir", "x", "delete"], False),
    ],
)
def test_the_early_start_is_for_the_commands_that_lint(argv, lints):
    assert legacy.lints(argv) is lints


def _deploy_py(where: Path, *args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "deploy.py"), *args, "--project-dir", str(where)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _session_processes(sid: int) -> list[int]:
    """Processes still alive in session ``sid`` (zombies excluded)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields after the name: state, ppid, pgrp, session
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_an_early_lint_process_that_is_not_needed_does_not_hold_up_the_exit(tmp_path):
    """deploy.py starts cfn-lint before it knows the environment; a bad one must still end at once."""
    where = project_copy(tmp_path)
    proc = _deploy_py(where, "build", "--env", "nosuch", start_new_session=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_BAD_INPUT
    assert err.strip().splitlines() == [err.strip()] and "--env nosuch" in err
    assert _session_processes(proc.pid) == []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_ctrl_c_while_linting_is_one_line_and_leaves_no_process(tmp_path):
    """Ctrl-C reaches the whole foreground process group: the deploy answers in one line, the lint
    process and its helpers print nothing and are gone."""
    where = project_copy(tmp_path)
    proc = _deploy_py(where, "build", start_new_session=True)
    assert proc.stdout is not None
    assert "Synthesised" in proc.stdout.readline()  # linting is under way (nothing cached in a fresh copy)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_ABORTED, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: interrupted"), err
    deadline = time.monotonic() + 10
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session_processes(proc.pid) == []


def test_a_lint_process_that_dies_is_an_error_not_a_hang(built_dir):
    linter = lint_step.Linter()
    assert linter._process is not None and linter._process.pid is not None
    os.kill(linter._process.pid, signal.SIGKILL)
    linter.lint([lint_step.LintUnit(built_dir / render.ROOT_FILE)])
    with pytest.raises(RuntimeError, match="the cfn-lint process stopped"):
        linter.results()
    linter.close()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_a_killed_deploy_does_not_leave_its_lint_process_behind(tmp_path):
    """SIGKILL gives the deploy no chance to stop the lint process: it must notice by itself (it used to
    hold a copy of the deploy's end of their pipe, so it waited for work forever)."""
    where = project_copy(tmp_path)
    proc = _deploy_py(where, "build", start_new_session=True)
    assert proc.stdout is not None
    assert "Synthesised" in proc.stdout.readline()  # the lint process is loading cfn-lint
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 60
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(proc.pid) == []
    proc.communicate(timeout=10)


START_INTERRUPTED = """
import builtins, os, runpy, signal, sys
real = builtins.__import__
def interrupting(name, *args, **kwargs):
    if name == "cylink_deploy.cli":  # Ctrl-C while deploy.py is still importing itself
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)
builtins.__import__ = interrupting
sys.argv = [sys.argv[1], "build", "--project-dir", sys.argv[2]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_ctrl_c_while_deploy_py_is_still_loading_is_one_line(tmp_path):
    where = project_copy(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", START_INTERRUPTED, str(REPO / "deploy.py"), str(where)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (EXIT_ABORTED, "error: interrupted; nothing was executed\n")
    deadline = time.monotonic() + 60
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(proc.pid) == []


def test_cfnlintrc_files_in_the_working_directory_or_home_change_nothing(tmp_path, built_dir, monkeypatch):
    """cfn-lint reads ./.cfnlintrc and ~/.cfnlintrc by itself; a result cached from one directory would
    then hide a problem everywhere. Only cylink_deploy/cfnlintrc.yaml counts."""
    broken = json.loads(next(p for p in sorted(built_dir.glob("*.json")) if p.name != render.ROOT_FILE).read_text())
    next(iter(broken["Resources"].values()))["Properties"]["NotAProperty"] = True
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken))
    expected = lint_step.lint([bad])
    assert any("NotAProperty" in line for line in expected)
    for where in ("cwd", "home"):
        (tmp_path / where).mkdir()
        (tmp_path / where / ".cfnlintrc").write_text("ignore_checks:\n  - E3002\n  - E3030\n")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lint_step.lint([bad]) == expected
    cache = tmp_path / "cache"
    assert lint_step.Lint([bad], [], cache).result() == expected  # in the lint process too


@pytest.mark.slow
def test_a_second_build_in_the_same_directory_waits_for_the_first(tmp_path):
    """Two builds at once: the second would rewrite root.json and remove stale children under the first
    one's lint (a FileNotFoundError, or a clean result cached for content never linted). It waits."""
    from cylink_deploy.project import Project

    where = project_copy(tmp_path)
    release = Project.find(where).lock_build(lambda text: None)  # a first build, still linting
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "deploy.py"), "build", "--project-dir", str(where)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    said = proc.stdout.readline()
    assert f"another build is using {where / 'build'}: waiting for it to finish" in said
    assert proc.poll() is None and not list((where / "build").glob("*.json"))  # nothing written while it waits
    release()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "Synthesised" in out


ORPHANED = """
import sys, time
from pathlib import Path
from cylink_deploy.preflight import lint
linter = lint.Linter()
linter.lint([lint.LintUnit(Path(sys.argv[1]))] * 400)  # minutes of work for the lint process and its helper
print("linting", flush=True)
time.sleep(600)
"""


def _kill_session(sid: int) -> None:
    """What the test started and left behind (only when the code under test failed to end it)."""
    for pid in _session_processes(sid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_a_lint_process_whose_parent_is_killed_mid_lint_stops_with_its_helpers(built_dir):
    """SIGKILL of the deploy while the lint process lints (busy, not waiting on the pipe): it and its helpers
    notice the parent is gone and leave, instead of linting on for minutes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHANED, str(built_dir / render.ROOT_FILE)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "linting\n"
        time.sleep(3)  # the lint process has loaded cfn-lint and forked its helper
        assert len(_session_processes(proc.pid)) >= 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session_processes(proc.pid) == []
    finally:
        _kill_session(proc.pid)
        proc.communicate(timeout=10)


BOMB = "".join(f"  - &{chr(97 + i)} [{', '.join([f'*{chr(96 + i)}' if i else 'lol'] * 9)}]\n" for i in range(9))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads sessions from /proc (Linux)")
def test_a_yaml_alias_bomb_in_a_parameter_file_is_one_line_at_once(tmp_path):
    """template-file-path was never read by the build, and cfn-lint's schema check walked the expanded
    aliases for minutes. Anchors and aliases are refused before anything is linted."""
    where = project_copy(tmp_path)
    dev = where / "params" / "dev.yaml"
    dev.write_text(dev.read_text().replace("template-file-path: build/root.json\n", f"template-file-path:\n{BOMB}"))
    proc = _deploy_py(where, "build", start_new_session=True)
    try:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == EXIT_BAD_INPUT, err
        (line,) = err.splitlines()
        assert line.startswith(f"error: {dev}:") and "anchors and aliases" in line, line
        deadline = time.monotonic() + 10
        while _session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session_processes(proc.pid) == []
    finally:
        _kill_session(proc.pid)
        proc.kill()
        proc.communicate(timeout=10)
