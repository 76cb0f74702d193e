"""Each compatibility fix is needed: its scenario passes with every fix and fails without that one."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cylink_deploy import motocompat

from .compat_scenarios import SCENARIOS, run
from .conftest import REPO


def test_every_fix_has_a_scenario_and_the_moto_pin_is_checked():
    assert sorted(SCENARIOS) == sorted(motocompat.FIXES)
    import moto

    assert moto.__version__ == motocompat.MOTO_VERSION


@pytest.mark.parametrize("name", sorted(motocompat.FIXES))
def test_the_scenario_passes_with_all_fixes(name):
    motocompat.apply()
    run(name)


@pytest.mark.parametrize("name", sorted(motocompat.FIXES))
def test_the_scenario_fails_without_its_fix(name):
    others = [f for f in motocompat.FIXES if f != name]
    proc = subprocess.run([sys.executable, "-m", "tests.compat_scenarios", name, *others], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, f"{name} passes without its fix:\n{proc.stdout}{proc.stderr}"
    assert "Traceback" in proc.stderr  # it failed by raising, not by a crash elsewhere
