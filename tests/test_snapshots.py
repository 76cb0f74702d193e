"""The built templates and every environment's resolved parameters equal the golden snapshots in
tests/snapshots/: a refactor that changes any template fails here; a deliberate change is made with
``make snapshots`` and reviewed as a diff."""

from __future__ import annotations

import difflib

from tools import snapshots


def test_the_build_matches_the_golden_snapshots():
    expected = snapshots.expected()
    stored = {
        p.relative_to(snapshots.SNAPSHOTS).as_posix(): p.read_text() for p in snapshots.SNAPSHOTS.glob("*/*.json")
    }
    assert sorted(stored) == sorted(expected), "files differ: run 'make snapshots' and review the diff"
    for rel, text in expected.items():
        if stored[rel] != text:
            diff = "".join(
                difflib.unified_diff(
                    stored[rel].splitlines(True), text.splitlines(True), f"snapshot/{rel}", f"build/{rel}", n=2
                )
            )
            raise AssertionError(f"{rel} changed (run 'make snapshots' if deliberate):\n{diff[:4000]}")


def test_a_changed_template_is_caught(monkeypatch):
    real = snapshots.render.render

    def renamed() -> dict[str, str]:
        files = real()
        files["root.json"] = files["root.json"].replace('"KeysStack"', '"KeyStack"')
        return files

    monkeypatch.setattr(snapshots.render, "render", renamed)
    try:
        test_the_build_matches_the_golden_snapshots()
    except AssertionError as exc:
        assert "root.json changed" in str(exc) and '-    "KeysStack"' in str(exc)
    else:
        raise AssertionError("a renamed nested stack passed the snapshot test")
