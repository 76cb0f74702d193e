"""The review of a change set for a GitHub Actions job summary, from ``deploy.py --no-execute --json``.

    python -m cylink_deploy.summary plan.json >> "$GITHUB_STEP_SUMMARY"     # the Markdown table
    python -m cylink_deploy.summary plan.json --outputs >> "$GITHUB_OUTPUT"  # status, change-set-id, ...
    python -m cylink_deploy.summary plan.json --fail-on-refused               # exit 6 if deploy.py would refuse

The reviewer approving the ``prod`` environment reads this table, so it shows what the terminal review
shows: every stack's changes, replacements and removals marked, parameter changes (NoEcho values stay
masked as deploy.py masked them), and the stateful resources deploy.py refuses to replace. Written as a
module, not as jq in the workflow, so it is tested (tests/test_summary.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cylink_deploy.errors import EXIT_BAD_INPUT, EXIT_UNSAFE

HEADERS = ("", "Stack", "Action", "Logical ID", "Type", "Replacement", "Changed")


def _cell(value: Any) -> str:
    """A table cell: pipes and line breaks would break the Markdown row."""
    return str(value if value not in (None, "") else "-").replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any]) -> str:
    """The job summary of one ``--json`` document (a review, a no-op or a finished deploy)."""
    status, stack = doc.get("status", "?"), doc.get("stack", "?")
    if status == "NO_CHANGES":
        return f"### {stack}: no changes\n\nThe stack already matches this commit; there is nothing to approve.\n"
    lines = [f"### Change set `{doc.get('changeSetName', '?')}` for `{stack}` ({status})", ""]
    if doc.get("changeSetId"):
        lines += [f"Change set ARN: `{doc['changeSetId']}`", ""]
    rows: list[list[str]] = []
    parameters: list[str] = []
    for node in doc.get("changeSets", []):
        for p in node.get("parameters", []):
            parameters.append(f"`{node.get('stack')}` {p['key']}: `{p['old']}` → `{p['new']}`")
        for c in node.get("changes", []):
            mark = "⚠️" if c.get("destructive") else ""
            rows.append(
                [
                    mark,
                    c.get("stack"),
                    c.get("action"),
                    c.get("logical_id"),
                    c.get("resource_type"),
                    c.get("replacement"),
                    c.get("details"),
                ]
            )
    destructive = sum(1 for r in rows if r[0])
    lines.append(
        f"{len(rows)} change(s) in {len(doc.get('changeSets', []))} change set(s); {destructive} "
        "replacement(s)/removal(s) (⚠️)."
    )
    lines.append("")
    if rows:
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "---|" * len(HEADERS))
        lines += ["| " + " | ".join(_cell(v) if i else v for i, v in enumerate(r)) + " |" for r in rows]
        lines.append("")
    if parameters:
        lines += ["Parameters changed:", "", *[f"- {p}" for p in parameters], ""]
    refused = doc.get("refused") or []
    if refused:
        lines.append(
            f"**Refused**: {', '.join(f'`{r}`' for r in refused)} would be replaced or removed and lose data; "
            "deploy.py will not execute this change set. To let exactly one go, rerun with "
            + " ".join(f"`--allow-replacement {r}`" for r in refused)
            + "."
        )
        lines.append("")
    return "\n".join(lines)


def outputs(doc: dict[str, Any]) -> str:
    """``key=value`` lines for ``$GITHUB_OUTPUT``: what the approval job needs to execute exactly this change set."""
    values = {
        "status": doc.get("status", ""),
        "stack": doc.get("stack", ""),
        "change-set-name": doc.get("changeSetName", ""),
        "change-set-id": doc.get("changeSetId", ""),
        "refused": str(len(doc.get("refused") or [])),
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cylink_deploy.summary", description="Job summary of a deploy.py --json document."
    )
    p.add_argument("document", type=Path, help="the JSON written by 'deploy.py deploy --no-execute --json'")
    p.add_argument(
        "--outputs", action="store_true", help="print key=value lines for $GITHUB_OUTPUT instead of Markdown"
    )
    p.add_argument(
        "--fail-on-refused",
        action="store_true",
        help="exit 6 when deploy.py refuses the change set (a stateful replacement)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        doc = json.loads(args.document.read_text())
        if not isinstance(doc, dict) or "status" not in doc:
            raise ValueError("no 'status' key")
    except (OSError, ValueError) as exc:
        print(
            f"error: {args.document}: not a deploy.py --json document ({exc}); run 'deploy.py deploy --no-execute "
            "--json > FILE' first",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    sys.stdout.write(outputs(doc) if args.outputs else markdown(doc))
    if args.fail_on_refused and doc.get("refused"):
        print(f"error: deploy.py refuses this change set: {', '.join(doc['refused'])} would lose data", file=sys.stderr)
        return EXIT_UNSAFE
    return 0


if __name__ == "__main__":
    sys.exit(main())
