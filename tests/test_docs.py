"""The documentation tells the truth: every root parameter, every flag, every emulator fix and the Layout, each in
the docs page that holds it (in both languages where the page is translated), the two set-up commands in the
README, a README short enough to be a guide, and no link to a file or heading that does not exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cylink_deploy.commands.registry import parser
from templates_src import render

from .conftest import REPO
from .docspages import anchor, documents, headings, links, page, page_names, section

README = (REPO / "README.md").read_text()
README_JA = (REPO / "README.ja.md").read_text()
LANGS = ("en", "ja")
# Pages another change writes (issue 23 item 2, the --json documents), linked before they land: remove a name
# from here once its file exists. A name here whose file exists fails, so the list cannot outlive its reason.
PENDING: set[str] = set()


@pytest.mark.parametrize("lang", LANGS)
def test_every_root_parameter_is_documented(lang):
    text = page("parameters", lang)
    for name in json.loads(render.render()["root.json"])["Parameters"]:
        assert f"`{name}`" in text, name


def _subparsers():
    import argparse

    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


@pytest.mark.parametrize("lang", LANGS)
def test_every_subcommand_and_flag_is_documented_in_the_commands_page(lang):
    text = page("commands", lang)
    for name, sub in _subparsers().items():
        assert f"python deploy.py {name}" in text or name == "deploy", name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert re.search(rf"{re.escape(flag)}(?![\w-])", text), (name, flag)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    for readme in (README, README_JA):
        assert "make test" in readme and "make local" in readme
    assert [
        line for line in ci.splitlines() if line and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ] == ["make test"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_emulator_compatibility_fix_is_documented(lang):
    from cylink_deploy.emulator import FIXES

    text = page("emulator", lang)
    for name in FIXES:
        assert f"| `{name}` |" in text, name


def _layout_rows(lang: str) -> dict[str, set[str]]:
    """Folder -> the modules its row lists, from the Layout page's table."""
    rows = {}
    for line in page("layout", lang).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`cylink_deploy"):
            rows[cells[0].strip("`").rstrip("/")] = set(re.findall(r"`([\w]+\.py)`", cells[2]))
    return rows


@pytest.mark.parametrize("lang", LANGS)
def test_the_layout_names_every_package_folder_and_module(lang):
    """The Layout page is the map a newcomer reads first: it must stay true as folders and modules change."""
    actual = {
        str(d.relative_to(REPO)): {p.name for p in d.glob("*.py") if p.name != "__init__.py"}
        for d in sorted((REPO / "cylink_deploy").rglob("__init__.py"))
        for d in [d.parent]
    }
    assert _layout_rows(lang) == actual


@pytest.mark.parametrize("lang", LANGS)
def test_the_layout_names_every_top_level_folder_and_both_readmes_link_it(lang):
    layout = page("layout", lang)
    skip = ("__pycache__", "taskcat_outputs")  # made by tools, never committed
    folders = {".ci", ".github"} | {
        p.name
        for p in REPO.iterdir()
        if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".egg-info") and p.name not in skip
    }
    assert {f for f in folders if f"`{f}/`" not in layout} == set()
    assert "](docs/layout.md)" in README and "](docs/ja/layout.md)" in README_JA


# -- the README is a guide; the reference is in docs/ ----------------------------------------------------------


@pytest.mark.parametrize("readme", ["README.md", "README.ja.md"])
def test_the_readme_is_a_guide_under_400_lines(readme):
    assert len((REPO / readme).read_text().splitlines()) < 400


def test_every_docs_page_has_its_japanese_page_and_both_readmes_link_every_page():
    assert page_names("en") == page_names("ja")
    for name in page_names("en"):
        assert f"](docs/{name}.md)" in README, name
        assert f"](docs/ja/{name}.md)" in README_JA, name
        assert f"](ja/{name}.md)" in page(name), f"docs/{name}.md links its Japanese page"
        assert f"](../{name}.md)" in page(name, "ja"), f"docs/ja/{name}.md links its English page"


def _target(source: str, link: str) -> tuple[str, str]:
    """A relative link of ``source`` as (path relative to the repository, anchor)."""
    file, _, fragment = link.partition("#")
    path = Path(source).parent / file if file else Path(source)
    return str(Path(*_normalised(path.parts))), fragment


def _normalised(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            assert out, f"a link leaves the repository: {parts}"
            out.pop()
        elif part != ".":
            out.append(part)
    return out or ["."]


def test_every_relative_link_points_to_a_file_and_heading_that_exist():
    missing = []
    for source in documents():
        for link in links((REPO / source).read_text()):
            if re.match(r"[a-z][a-z0-9+.-]*:", link):
                continue  # https:, mailto:
            path, fragment = _target(source, link)
            if path in PENDING and not (REPO / path).exists():
                continue
            if not (REPO / path).exists():
                missing.append(f"{source}: {link} (no file {path})")
            elif fragment and path.endswith(".md"):
                if fragment not in {anchor(h) for h in headings((REPO / path).read_text())}:
                    missing.append(f"{source}: {link} (no heading #{fragment} in {path})")
    assert missing == []


def test_pending_pages_are_only_those_not_yet_written():
    assert {p for p in PENDING if (REPO / p).exists()} == set(), "written now: remove it from PENDING"


def test_the_link_check_sees_files_anchors_and_code():
    text = "[a](../x.md#b) `[c](d)`\n```\n[e](f)\n```\n[g](https://h)\n"
    assert links(text) == ["../x.md#b", "d", "https://h"]
    assert _target("docs/ja/p.md", "../x.md#b") == ("docs/x.md", "b")
    assert _target("docs/p.md", "#here") == ("docs/p.md", "here")
    assert anchor("Releasing (the guide's §12, as code)") == "releasing-the-guides-12-as-code"
    assert anchor("リリース手順（手順書 §12 をコードで）") == "リリース手順手順書-12-をコードで"
    assert section("# T\n## A\na\n```\n## no\n```\n### B\nb\n## C\nc\n", "## A") == "a\n```\n## no\n```\n### B\nb\n"
