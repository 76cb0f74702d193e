"""The Japanese documentation keeps in step with the English: README.ja.md with README.md, and each page of
docs/ja/ with its page of docs/, name the same commands (deploy.py, the summary module, make targets, pre-commit),
the same --flags and the same template parameters, in both directions. A section added to an English page with a
new command, flag or parameter fails here until its Japanese page says it too."""

from __future__ import annotations

import json
import re

import pytest

from templates_src import render

from .conftest import REPO
from .docspages import pairs

EN = (REPO / "README.md").read_text()
JA_PATH = REPO / "README.ja.md"
COMMAND = re.compile(
    r"^(?:\.venv/bin/)?(?:python (?:deploy\.py|-m cylink_deploy\.\w+)|make [\w-]+|pre-commit|\.venv/bin/pre-commit)\b"
)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def commands(text: str) -> set[str]:
    """Every command line of the text: in code blocks (fenced or indented) and in inline code; a trailing
    comment, a trailing `&` and a `\\` line continuation do not count, nor does spacing."""
    text = text.replace("\\\n", " ")
    candidates, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            candidates.append(line.strip())  # a code block line
        else:
            candidates += re.findall(r"`([^`]+)`", line)  # inline code in prose
    found = set()
    for candidate in candidates:
        for part in candidate.split("&&"):
            part = re.sub(r"\s+#\s.*$", "", part.strip()).rstrip("&").strip()
            if COMMAND.match(part):
                found.add(re.sub(r"\s+", " ", part))
    return found


def flags(text: str) -> set[str]:
    return set(FLAG.findall(text))


def parameters(text: str) -> set[str]:
    names = json.loads(render.render()["root.json"])["Parameters"]
    return {name for name in names if re.search(rf"\b{name}\b", text)}


@pytest.fixture(scope="module")
def ja() -> str:
    assert JA_PATH.exists(), "README.ja.md is the README for the guide's (Japanese) readers"
    return JA_PATH.read_text()


def test_the_english_readme_links_to_the_japanese_one_at_the_top():
    assert "(README.ja.md)" in "\n".join(EN.splitlines()[:5])


def test_the_japanese_readme_links_back_and_is_written_in_japanese(ja):
    assert "(README.md)" in "\n".join(ja.splitlines()[:5])
    kana = len(re.findall(r"[\u3040-\u30ff]", ja))
    assert kana > 2000, "README.ja.md must be prose in Japanese, not a copy of the English text"


def test_every_japanese_page_is_written_in_japanese_and_links_its_english_page():
    for english, japanese in pairs()[1:]:
        text = (REPO / japanese).read_text()
        assert len(re.findall(r"[\u3040-\u30ff]", text)) > 100, f"{japanese} must be prose in Japanese"
        assert f"(../{english.removeprefix('docs/')})" in "\n".join(text.splitlines()[:5]), japanese


@pytest.mark.parametrize("pair", pairs(), ids=lambda pair: pair[0])
@pytest.mark.parametrize("what", [commands, flags, parameters], ids=["commands", "flags", "parameters"])
def test_both_languages_name_the_same(pair, what):
    english, japanese = ((REPO / path).read_text() for path in pair)
    en, ja = what(english), what(japanese)
    assert sorted(en - ja) == [], f"in {pair[0]} but not {pair[1]} ({what.__name__})"
    assert sorted(ja - en) == [], f"in {pair[1]} but not {pair[0]} ({what.__name__})"


def test_the_extraction_sees_each_kind_of_command():
    sample = """
To make it work, make sure of it:
```bash
make test   # comment
python deploy.py --env prod --image-tag v1.1.0 --no-execute     # review
python deploy.py serve-local --port 4566 &
make taskcat-venv && .venv/bin/python deploy.py build
```
    python deploy.py cost --env prod --json
Then `python -m cylink_deploy.output.summary plan.json` and `python deploy.py bootstrap \\
  --github-repo O/R`.
"""
    assert commands(sample) == {
        "make test",
        "python deploy.py --env prod --image-tag v1.1.0 --no-execute",
        "python deploy.py serve-local --port 4566",
        "make taskcat-venv",
        ".venv/bin/python deploy.py build",
        "python deploy.py cost --env prod --json",
        "python -m cylink_deploy.output.summary plan.json",
        "python deploy.py bootstrap --github-repo O/R",
    }
    assert flags(sample) >= {"--env", "--image-tag", "--no-execute", "--port", "--json", "--github-repo"}
    assert parameters("`WafEnabled` and RedisNodeCount, not NamePrefixes") == {"WafEnabled", "RedisNodeCount"}
