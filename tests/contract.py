"""Every ``--json`` output a test reads goes through its command's schema first (docs/schemas/): the helpers
that run deploy.py (in-process or as a process) call ``parsed``, so each real document the test suite
produces -- results and error documents alike -- is checked against the contract (docs/json.md)."""

from __future__ import annotations

import json
from typing import Any

from cylink_deploy import documents
from cylink_deploy.commands.legacy import normalize
from cylink_deploy.commands.registry import COMMANDS
from cylink_deploy.errors import DeployError


def command_of(argv: list[str] | tuple[str, ...]) -> str:
    """The subcommand of a command line, as deploy.py reads it (``--env dev`` alone deploys; old mode flags)."""
    try:
        return normalize(list(argv), tuple(COMMANDS))[0][0]
    except DeployError:
        return "error"


def parsed(command: str, text: str) -> Any:
    """The document ``text`` (JSON Lines for ``logs``: a list), each checked against ``command``'s schema; None
    for empty output (a command that prints no document, e.g. ``pin --github-output``)."""
    if not text.strip():
        return None
    docs = [json.loads(line) for line in text.splitlines() if line.strip()] if command == "logs" else [json.loads(text)]
    for doc in docs:
        found = documents.problems(command, doc)
        assert not found, f"{command} --json breaks docs/schemas/{command}.schema.json: {found[:5]}"
    return docs if command == "logs" else docs[0]
