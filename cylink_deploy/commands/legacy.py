"""The command line before subcommands: ``deploy`` is the default, and the old mode flags
(``--build-only``, ``--delete``, ...) still work, each turned into its subcommand with a notice."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from cylink_deploy.errors import BadInput

LEGACY = {
    "--build-only": "build",
    "--serve-local": "serve-local",
    "--delete": "delete",
    "--bootstrap": "bootstrap",
    "--execute-change-set": "execute",
}


LINTING = ("build", "deploy")


def _split_front(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The options every subcommand takes (``--project-dir DIR``, ``--debug``) that come before it, and the rest."""
    args, front = list(argv), list[str]()
    while args and (args[0] in ("--debug", "--project-dir") or args[0].startswith("--project-dir=")):
        take = 2 if args[0] == "--project-dir" else 1
        front, args = front + args[:take], args[take:]
    return front, args


def lints(argv: Sequence[str]) -> bool:
    """Whether this command line builds and lints (``build``, ``deploy``, the default): judged from its words
    alone, before the parser and its imports exist. A wrong guess costs an idle process, never a result."""
    args = _split_front(argv)[1]
    if args and not args[0].startswith("-"):
        return args[0] in LINTING
    return not any(a in ("-h", "--help") or LEGACY.get(a, "deploy") not in LINTING for a in args)


def normalize(argv: Sequence[str], commands: Sequence[str]) -> tuple[list[str], str | None]:
    """Default to ``deploy``; turn an old mode flag into its subcommand. Returns (argv, notice).
    The options every subcommand takes (``--project-dir DIR``, ``--debug``) may come before it."""
    front, args = _split_front(argv)
    if args[:1] and args[0] in commands:
        return [args[0], *front, *args[1:]], None
    args = front + args
    if any(a in ("-h", "--help") for a in args[:1]):
        return args, None
    legacy = [a for a in args if a in LEGACY]
    if len(legacy) > 1:
        raise BadInput(f"{' and '.join(legacy)} cannot be combined: use one subcommand ({', '.join(commands)})")
    if not legacy:
        return ["deploy", *args], None
    flag = legacy[0]
    at = args.index(flag)
    rest = args[:at] + args[at + 1 :]
    if flag == "--execute-change-set":
        if at + 1 >= len(args):
            raise BadInput("--execute-change-set needs a change set name")
        rest = args[:at] + args[at + 2 :] + [args[at + 1]]
    new = [LEGACY[flag], *rest]
    return new, f"note: {flag} is now the subcommand: {shlex.join(['python', 'deploy.py', *new])}"
