"""The README tells the truth: every root parameter, every flag, and the two set-up commands."""

from __future__ import annotations

import json
import re

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


def _layout() -> str:
    return README.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]


def _layout_rows() -> dict[str, set[str]]:
    """Folder -> the modules its row lists, from the README's Layout table."""
    rows = {}
    for line in _layout().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`cylink_deploy"):
            rows[cells[0].strip("`").rstrip("/")] = set(re.findall(r"`([\w]+\.py)`", cells[2]))
    return rows


def test_the_layout_names_every_package_folder_and_module():
    """The Layout section is the map a newcomer reads first: it must stay true as folders and modules change."""
    actual = {
        str(d.relative_to(REPO)): {p.name for p in d.glob("*.py") if p.name != "__init__.py"}
        for d in sorted((REPO / "cylink_deploy").rglob("__init__.py"))
        for d in [d.parent]
    }
    assert _layout_rows() == actual


def test_the_layout_names_every_top_level_folder_and_is_near_the_top():
    layout = _layout()
    skip = ("__pycache__", "taskcat_outputs")  # made by tools, never committed
    folders = {".ci", ".github"} | {
        p.name
        for p in REPO.iterdir()
        if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".egg-info") and p.name not in skip
    }
    assert {f for f in folders if f"`{f}/`" not in layout} == set()
    assert README.index("\n## Layout\n") < README.index("\n## What is deployed\n")
