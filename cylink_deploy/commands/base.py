"""What a subcommand is made of, and what every subcommand shares.

A ``Command`` names itself, its help group, the shared flag sets it takes (attached here, in one place),
its own arguments and its ``run``. ``run`` gets a ``Context``: the parsed flags, the project, the reporter
and the AWS clients, which are made on first use -- after the command validated its input, and after the
one terminal/``--yes`` rule (``Context.require_terminal``), so bad input is reported as bad input and
nothing reaches AWS from a job that could not ask its question.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from cylink_deploy import aws
from cylink_deploy.errors import Aborted, BadInput
from cylink_deploy.output.human import HumanReporter
from cylink_deploy.project import Project

if TYPE_CHECKING:
    import boto3

GROUPS = {  # the help output's sections, in this order
    "deploying": "change the stack, through reviewed change sets",
    "operating": "look after a running environment",
    "local": "no AWS account needed",
    "account": "once per account and region, as an administrator",
}
STACK_NAME = re.compile(r"^cylink-[a-z0-9-]{1,100}$")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{message} (see: {self.prog} --help)")


def stack_name(value: str) -> str:
    if not STACK_NAME.fullmatch(value) or value != value.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: use cylink-<lower-case letters, digits, hyphens> (the service role and deployer policy "
            "cover cylink-* stacks)"
        )
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-dir", type=Path, help="the repository (default: found from the working directory)")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="environment: reads params/ENV.yaml, deploys stack cylink-ENV")
    p.add_argument("--stack-name", type=stack_name, help="override the stack name (default cylink-ENV)")


def _yes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not prompt (CI)")


def _aws(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, {aws.DEFAULT_REGION})"
    )
    p.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE / default chain)")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (humans: stderr)")


def _allow(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-replacement",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="allow replacing/removing exactly this stateful resource (logical ID or Stack/LogicalId; repeatable)",
    )


FLAG_SETS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "target": _target,  # --env, --stack-name
    "yes": _yes,
    "aws": _aws,  # --region, --profile
    "json": _json,
    "allow": _allow,  # --allow-replacement
}
STACK = ("target", "yes", "aws", "json")  # what a command on one environment's stack takes


def _nothing(p: argparse.ArgumentParser) -> None:
    """A command without arguments of its own."""


def _never(args: argparse.Namespace) -> bool:
    return False


@dataclass(frozen=True)
class Command:
    """One subcommand: one module in commands/ defines it, one line in the registry lists it."""

    name: str
    group: str  # a key of GROUPS
    help: str
    run: Callable[[Context], int]
    flags: tuple[str, ...] = ()  # shared flag sets (FLAG_SETS keys); --project-dir and --debug always
    arguments: Callable[[argparse.ArgumentParser], None] = _nothing
    asks: Callable[[argparse.Namespace], bool] = _never  # will it ask for confirmation (needs a terminal)?
    no_terminal_hint: str = ""  # said after "pass --yes (CI)" when there is no terminal

    def add_to(self, sub: argparse._SubParsersAction, epilog: str = "") -> argparse.ArgumentParser:
        """This command's parser: the common options, its shared flag sets, then its own arguments (its help
        line is in the grouped list of the top-level help, not argparse's flat one)."""
        p = sub.add_parser(
            self.name, description=self.help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        _common(p)
        for name in self.flags:
            FLAG_SETS[name](p)
        self.arguments(p)
        return p


@dataclass
class Context:
    """What a command's ``run`` gets. ``preset`` clients (tests, a caller with its own) skip making them."""

    command: Command
    args: argparse.Namespace
    stdin: IO[str]
    sleep: Callable[[float], None]
    project: Project
    reporter: HumanReporter
    out: IO[str] | None = None
    preset: aws.Clients | None = None
    preset_account: aws.AccountClients | None = None
    _made: list[aws.Clients] = field(default_factory=list)
    _sessions: list[boto3.Session] = field(default_factory=list)

    @property
    def yes(self) -> bool:
        return bool(getattr(self.args, "yes", False))

    def require_terminal(self) -> None:
        """The one terminal rule: a command that will ask for confirmation needs a terminal, or --yes."""
        if self.command.asks(self.args) and not self.yes and not self.stdin.isatty():
            raise Aborted(f"no terminal to confirm on: pass --yes (CI){self.command.no_terminal_hint}")

    def _session(self, credentials: dict[str, str] | None = None) -> boto3.Session:
        if not self._sessions:
            profile = None if credentials else getattr(self.args, "profile", None)
            self._sessions.append(aws.make_session(getattr(self.args, "region", None), profile, credentials))
        return self._sessions[0]

    def clients(self, endpoint_url: str | None = None, credentials: dict[str, str] | None = None) -> aws.Clients:
        """The AWS clients (made once), after the terminal rule: nothing reaches AWS before it holds."""
        self.require_terminal()
        if self.preset is not None:
            return self.preset
        if not self._made:
            self._made.append(aws.make_clients(self._session(credentials), endpoint_url))
        return self._made[0]

    def account_clients(self) -> aws.AccountClients:
        """``doctor``'s extra clients, from the same session as ``clients``."""
        self.require_terminal()
        if self.preset_account is not None:
            return self.preset_account
        return aws.make_account_clients(self._session())
