"""Render every template to deterministic JSON and write them to ``build/``.

Children are written as ``<name>-<sha256[:12]>.json`` so an unchanged child keeps its file name (and
S3 key, and TemplateURL) from one build to the next; the root is always ``root.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from troposphere import Template

from . import ROOT_FILE, root


def to_json(t: Template) -> str:
    """Sorted keys, fixed indentation, trailing newline: byte-identical for the same input."""
    return t.to_json(indent=2, sort_keys=True) + "\n"


def render() -> dict[str, str]:
    """File name -> JSON text for the root and every child. Pure: no I/O."""
    children = {c.name: c.build() for c in root.CHILDREN}
    files: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, tpl in children.items():
        text = to_json(tpl)
        names[name] = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
        files[names[name]] = text
    files[ROOT_FILE] = to_json(root.build(children, names))
    return dict(sorted(files.items()))


def write(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Replace the JSON files in ``out_dir`` with ``files`` (stale children are removed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.json"):
        if old.name not in files:
            old.unlink()
    paths = []
    for name, text in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths
