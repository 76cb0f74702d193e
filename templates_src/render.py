"""Render every template to deterministic JSON and write them to ``build/``.

Children are written as ``<name>-<sha256[:12]>.json`` so an unchanged child keeps its file name (and
S3 key, and TemplateURL) from one build to the next; the root is always ``root.json``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from pathlib import Path

from troposphere import Template

from . import ROOT_FILE, root

MANIFEST = ".written"  # the names ``write`` wrote last time, one a line: the only files it ever removes
OWN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.json")  # a file name in the directory, never a path


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
    """Replace the JSON files in ``out_dir`` with ``files``: unchanged files are not rewritten, stale
    children that this function wrote before (its manifest) are removed, and nothing else is touched. Each
    file is replaced, never written through: a symlink planted in its place is replaced by the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = out_dir / name
        if not _holds(path, text):
            _replace(path, text)
        paths.append(path)
    for stale in sorted(_written_before(out_dir) - set(files)):
        (out_dir / stale).unlink(missing_ok=True)  # a symlink is removed itself, not what it points to
    _replace(out_dir / MANIFEST, "".join(f"{name}\n" for name in sorted(files)))
    return paths


def _holds(path: Path, text: str) -> bool:
    """``path`` is a regular file (not a symlink, FIFO, ...) with exactly ``text``."""
    return _is_file(path) and path.read_text() == text


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to a new file beside ``path`` and rename it over ``path``: rename replaces the
    directory entry, so a symlink at ``path`` is replaced, not followed (os.replace; POSIX rename()), and a
    reader never sees half a file. O_EXCL|O_NOFOLLOW: the temporary name is ours alone."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _written_before(out_dir: Path) -> set[str]:
    """The names of the manifest (none if there is none yet); an entry that is not a plain JSON file name
    of this directory (``../x``, an absolute path) is ignored: the directory may come from somebody else."""
    try:
        listed = (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines() if _is_file(out_dir / MANIFEST) else []
    except UnicodeDecodeError:
        return set()
    return {name for name in listed if OWN_NAME.fullmatch(name)}


def _is_file(path: Path) -> bool:
    """A regular file itself, not through a symlink."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False
