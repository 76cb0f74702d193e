"""The documentation the tests keep true: the two READMEs (the guide) and the pages of docs/ (the reference),
English in docs/NAME.md and Japanese in docs/ja/NAME.md, in step."""

from __future__ import annotations

import re

from .conftest import REPO

DOCS = REPO / "docs"
README_PAIR = ("README.md", "README.ja.md")


def page(name: str, lang: str = "en") -> str:
    """The text of docs/NAME.md (``lang="ja"``: docs/ja/NAME.md)."""
    return (DOCS / ("ja" if lang == "ja" else "") / f"{name}.md").read_text()


def page_names(lang: str = "en") -> list[str]:
    return sorted(p.stem for p in (DOCS / ("ja" if lang == "ja" else "")).glob("*.md"))


def pairs() -> list[tuple[str, str]]:
    """Every English document and its Japanese counterpart, as paths relative to the repository."""
    return [README_PAIR] + [(f"docs/{name}.md", f"docs/ja/{name}.md") for name in page_names("en")]


def documents() -> list[str]:
    """Every document, English then Japanese, as paths relative to the repository."""
    return [path for pair in pairs() for path in pair]


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (e.g. ``"## IAM analysers"``) up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    body = text.split(f"\n{heading}\n", 1)[1]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{level}}} ", body, re.M) if not _in_code(body, m.start())]
    return body[: ends[0]] if ends else body


def _in_code(text: str, at: int) -> bool:
    return text[:at].count("\n```") % 2 == 1


def headings(text: str) -> list[str]:
    """The Markdown headings of a text, outside fenced code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#+ ", line):
            found.append(line.lstrip("#").strip())
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters of any script kept), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def links(text: str) -> list[str]:
    """The targets of the Markdown links of a text, outside fenced code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            found += re.findall(r"\]\(([^)\s]+)\)", line)
    return found
