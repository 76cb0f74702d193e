#!/usr/bin/env python3
"""Golden snapshots of what the build produces: every template, and every environment's resolved
parameters (file values + template defaults) and tags. ``make snapshots`` rewrites them after a
deliberate change, so the change shows up as a reviewable diff; tests/test_snapshots.py fails on any
difference (a refactor must not change a template).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cylink_deploy.preflight import params  # noqa: E402
from templates_src import render  # noqa: E402

SNAPSHOTS = REPO / "tests" / "snapshots"


def expected() -> dict[str, str]:
    """Relative path -> text of every snapshot file, computed from the current sources."""
    files = render.render()
    out = {f"templates/{name}": text for name, text in files.items()}
    root_parameters = json.loads(files[render.ROOT_FILE])["Parameters"]
    for path in sorted((REPO / "params").glob("*.yaml")):
        deployment = params.resolve(path.stem, path, root_parameters, deploying=False)
        effective = {
            k: str(v.get("Default", "")) for k, v in root_parameters.items() if k not in params.PLACEMENT_PARAMS
        }
        effective.update(deployment.parameters)
        doc = {"parameters": dict(sorted(effective.items())), "tags": deployment.tags}
        out[f"environments/{path.stem}.json"] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return out


def update() -> None:
    for old in SNAPSHOTS.glob("*/*.json"):
        old.unlink()
    for rel, text in expected().items():
        target = SNAPSHOTS / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    print(f"wrote {len(expected())} snapshot files under {SNAPSHOTS.relative_to(REPO)}")


if __name__ == "__main__":
    update()
