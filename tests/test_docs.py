"""The README tells the truth: every root parameter, every flag, and the two set-up commands."""

from __future__ import annotations

import json

from cylink_deploy.commands.registry import parser
from templates_src import render

from .conftest import REPO

README = (REPO / "README.md").read_text()


def test_every_root_parameter_is_documented():
    for name in json.loads(render.render()["root.json"])["Parameters"]:
        assert f"`{name}`" in README, name


def _subparsers():
    import argparse

    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_subcommand_and_flag_is_documented():
    for name, sub in _subparsers().items():
        assert f"python deploy.py {name}" in README or name == "deploy", name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, (name, flag)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in README and "make local" in README
    assert [
        line for line in ci.splitlines() if line and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ] == ["make test"]


def test_every_emulator_compatibility_fix_is_documented():
    from cylink_deploy.emulator import FIXES

    for name in FIXES:
        assert f"| `{name}` |" in README, name
