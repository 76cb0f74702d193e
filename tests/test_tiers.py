"""The suite's own machinery (tests/conftest.py): the guard that keeps slow work out of the fast tier
refuses a process or the emulator's server before it starts, lets git through, and `make test-fast`
runs exactly the tests not marked slow; the longest-first file order names files that exist."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import LONGEST_FIRST, REPO, _refusing_slow_work


def test_the_guard_refuses_a_process_before_it_starts(tmp_path):
    ran = tmp_path / "ran"
    refused: list[str] = []
    with pytest.raises(pytest.fail.Exception, match="starts a process"), _refusing_slow_work(refused):
        subprocess.run([sys.executable, "-c", f"open({str(ran)!r}, 'w')"], check=False)
    assert refused and not ran.exists()


def test_the_guard_refuses_the_emulators_server():
    from cylink_deploy.emulator.server import _listening_server

    refused: list[str] = []
    with pytest.raises(pytest.fail.Exception, match="serves the emulator"), _refusing_slow_work(refused):
        _listening_server(0)
    assert refused


def test_the_guard_lets_git_through():
    refused: list[str] = []
    with _refusing_slow_work(refused):
        assert subprocess.run(["git", "--version"], capture_output=True, check=False).returncode == 0
    assert refused == []


def test_make_test_fast_needs_only_the_project_venv_and_runs_the_tests_not_marked_slow():
    (prerequisites, recipe) = re.findall(r"^test-fast: (.*)\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)[0]
    assert prerequisites.split() == ["$(STAMP)"]  # no checkov, guard or taskcat venv to install
    assert recipe.strip() == '$(PY) -m pytest -m "not slow"'


def test_the_longest_first_order_names_test_files_that_exist():
    assert LONGEST_FIRST and all((REPO / name).is_file() for name in LONGEST_FIRST)
