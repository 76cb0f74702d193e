"""Every subcommand, one line each, in the order ``--help`` lists them within their group. A new
subcommand is one module in commands/ (its ``COMMAND``) plus one line here."""

from __future__ import annotations

import argparse

from cylink_deploy.commands import (
    bootstrap,
    build,
    cost,
    delete,
    deploy,
    doctor,
    drift,
    event,
    execute,
    loadtest,
    logs,
    pin,
    release,
    rotate_redis_auth,
    serve_local,
    status,
)
from cylink_deploy.commands.base import GROUPS, Command, Parser

REGISTRY: tuple[Command, ...] = (
    deploy.COMMAND,
    execute.COMMAND,
    release.COMMAND,
    event.COMMAND,
    delete.COMMAND,
    status.COMMAND,
    logs.COMMAND,
    drift.COMMAND,
    loadtest.COMMAND,
    rotate_redis_auth.COMMAND,
    build.COMMAND,
    cost.COMMAND,
    serve_local.COMMAND,
    pin.COMMAND,
    bootstrap.COMMAND,
    doctor.COMMAND,
)
COMMANDS = {c.name: c for c in REGISTRY}

EPILOG = """exit codes:
  0  deployed, or no changes          1  deployment (or lint) failed, or an unexpected error
  2  bad flag, region or parameter file  3  credentials, permissions, unreachable endpoint
  4  stack needs recovery first, or the credentials' account/region is not the environment's pin
  5  declined at the prompt, or no TTY without --yes
  6  refused: the change set would replace or remove a stateful resource (see --allow-replacement)
  7  release --build: docker missing, not running, or a build/push failed

examples:
  python deploy.py --env dev --local --yes --image-tag 1.0.0   # whole stack on the embedded emulator
  python deploy.py --env prod --no-execute                     # review in the console, then:
  python deploy.py execute --env prod CHANGE_SET_NAME
  python deploy.py release --env prod --image-tag v1.1.0       # release (guide section 12)
  python deploy.py status --env prod; python deploy.py logs --env prod backend --follow
  python deploy.py pin --env prod --account 123456789012 --region ap-northeast-1   # prod only there
"""


def command_list() -> str:
    """The subcommands by group, for the top-level help."""
    width = max(len(c.name) for c in REGISTRY) + 2
    parts = []
    for group, about in GROUPS.items():
        parts.append(f"{group}: {about}")
        parts += [f"  {c.name:<{width}}{c.help}" for c in REGISTRY if c.group == group]
    return "\n".join(parts)


def parser() -> argparse.ArgumentParser:
    """The whole command line: every registered command with its shared flag sets and its own arguments."""
    p = Parser(
        prog="deploy.py",
        description="Build, lint and deploy Cylink's nested CloudFormation stacks through reviewed change sets.\n\n"
        + command_list(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in REGISTRY:
        command.add_to(sub, EPILOG)
    return p
