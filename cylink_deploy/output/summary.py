"""The review of a change set for a GitHub Actions job summary, from ``deploy.py --no-execute --json``.

    python -m cylink_deploy.summary plan.json >> "$GITHUB_STEP_SUMMARY"     # the Markdown table
    python -m cylink_deploy.summary plan.json --outputs >> "$GITHUB_OUTPUT"  # status, change-set-id, ...
    python -m cylink_deploy.summary plan.json --fail-on-refused               # exit 6 if deploy.py would refuse
    python -m cylink_deploy.summary result.json --command execute >> "$GITHUB_STEP_SUMMARY"  # what was executed

The reviewer approving the ``prod`` environment reads this table, so it shows what the terminal review
shows: every stack's changes, replacements and removals marked, parameter changes (NoEcho values stay
masked as deploy.py masked them), and the stateful resources deploy.py refuses to replace. Written as a
module, not as jq in the workflow, so it is tested (tests/test_summary.py).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cylink_deploy import documents
from cylink_deploy.errors import EXIT_BAD_INPUT, EXIT_UNSAFE

COMMANDS = {  # the documents the deploy workflow summarises, and what writes each
    "deploy": "deploy.py deploy --no-execute --json",
    "execute": "deploy.py execute --env ENV CHANGE_SET --json",
}
HEADERS = ("", "Stack", "Action", "Logical ID", "Type", "Replacement", "Changed")


# What Markdown would read as markup in text: the escape itself, code, emphasis, links and images (``[``),
# GFM strikethrough and table pipes. Any ASCII punctuation may be backslash-escaped (CommonMark 0.31,
# "Backslash escapes"); a pipe in a cell is escaped that way (GFM spec, "Tables": "including inside other
# inline spans"). HTML (an image, a comment hiding what follows) is escaped as entities.
MARKDOWN = re.compile(r"([\\`*_\[\]~|])")


def _text(value: Any) -> str:
    """A value (from AWS, or from a template an app user may have influenced) as Markdown text shown as
    it is: HTML-escaped, Markdown's characters backslash-escaped, line breaks a space."""
    return MARKDOWN.sub(r"\\\1", html.escape(" ".join(str(value).splitlines()), quote=False))


def _code(value: Any) -> str:
    """A value as a code span: inside one neither HTML nor escapes apply (CommonMark, "Code spans"), so the
    value only has to be kept from closing it: the fence is one backtick longer than any run in the value,
    with a space inside when the value starts or ends with a backtick (the parser strips one each side)."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(value: Any) -> str:
    """A table cell (``-`` when empty)."""
    return _text(value if value not in (None, "") else "-")


def markdown(doc: dict[str, Any]) -> str:
    """The job summary of one ``--json`` document (a review, a no-op, a finished deploy, or a failed run's error)."""
    if "error" in doc:
        return f"### deploy.py failed (exit {doc['error']['code']})\n\n{_text(doc['error']['message'])}\n"
    status, stack = doc.get("status", "?"), doc.get("stackName", "?")
    if status == "NO_CHANGES":
        return (
            f"### {_text(stack)}: no changes\n\nThe stack already matches this commit; there is nothing to approve.\n"
        )
    lines = [f"### Change set {_code(doc.get('changeSetName', '?'))} for {_code(stack)} ({_text(status)})", ""]
    if doc.get("changeSetId"):
        lines += [f"Change set ARN: {_code(doc['changeSetId'])}", ""]
    rows: list[list[str]] = []
    parameters: list[str] = []
    for node in doc.get("changeSets", []):
        for p in node.get("parameters", []):
            parameters.append(
                f"{_code(node.get('stackPath'))} {_text(p['key'])}: {_code(p['old'])} → {_code(p['new'])}"
            )
        for c in node.get("changes", []):
            mark = "⚠️" if c.get("destructive") else ""
            rows.append(
                [
                    mark,
                    c.get("stackPath"),
                    c.get("action"),
                    c.get("logicalId"),
                    c.get("resourceType"),
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
            f"**Refused**: {', '.join(_code(r) for r in refused)} would be replaced or removed and lose data; "
            "deploy.py will not execute this change set. To let exactly one go, rerun with "
            + " ".join(_code(f"--allow-replacement {shlex.quote(r)}") for r in refused)
            + "."
        )
        lines.append("")
    return "\n".join(lines)


def outputs(doc: dict[str, Any]) -> str:
    """``key=value`` lines for ``$GITHUB_OUTPUT``: what the approval job needs to execute exactly this change set."""
    if "error" in doc:
        raise ValueError(f"deploy.py failed (exit {doc['error']['code']}): {doc['error']['message']}")
    values = {
        "status": doc.get("status", ""),
        "stack": doc.get("stackName", ""),
        "change-set-name": doc.get("changeSetName", ""),
        "change-set-id": doc.get("changeSetId", ""),
        "refused": str(len(doc.get("refused") or [])),
    }
    broken = [k for k, v in values.items() if len(str(v).splitlines()) > 1 or str(v).endswith(("\n", "\r"))]
    if broken:  # one key=value a line (GitHub's "Setting an output parameter"): a break would start another
        raise ValueError(f"a line break in {', '.join(broken)}: refusing to write outputs from it")
    return "".join(f"{k}={v}\n" for k, v in values.items())


def read(path: Path, command: str = "deploy") -> dict[str, Any]:
    """The document, read through its command's schema (docs/schemas/<command>.schema.json): a document of another
    schemaVersion (an older or newer deploy.py) or of another command is refused, never half-read. A failed run's
    error document is one too: its summary says the failure, and it gives no outputs."""
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    documents.validate(command, doc)
    return dict(doc)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cylink_deploy.summary", description="Job summary of a deploy.py --json document."
    )
    p.add_argument("document", type=Path, help="the JSON written by 'deploy.py deploy --no-execute --json'")
    p.add_argument(
        "--command",
        choices=sorted(COMMANDS),
        default="deploy",
        help="the command that wrote it: deploy (the plan, the default) or execute (the result)",
    )
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
        doc = read(args.document, args.command)
    except (OSError, ValueError) as exc:
        print(f"error: {args.document}: {exc}; write it with '{COMMANDS[args.command]}'", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        written = outputs(doc) if args.outputs else markdown(doc)
    except ValueError as exc:
        print(f"error: {args.document}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(written)
    if "error" in doc:  # the summary says the failure; the step fails as the run did
        return int(doc["error"]["code"]) or 1
    if args.fail_on_refused and doc.get("refused"):
        print(f"error: deploy.py refuses this change set: {', '.join(doc['refused'])} would lose data", file=sys.stderr)
        return EXIT_UNSAFE
    return 0


if __name__ == "__main__":
    sys.exit(main())
