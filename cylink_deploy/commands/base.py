"""What a subcommand is made of, and what every subcommand shares.

A ``Command`` names itself, its help group, the shared flag sets it takes (attached here, in one place),
its own arguments and its ``run``. ``run`` gets a ``Context``: the parsed flags, the project, the reporter
and the AWS clients, which are made on first use -- after the command validated its input, and after the
one terminal/``--yes`` rule (``Context.require_terminal``), so bad input is reported as bad input and
nothing reaches AWS from a job that could not ask its question.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from cylink_deploy import aws
from cylink_deploy.cfn import identity
from cylink_deploy.errors import Aborted, BadInput
from cylink_deploy.jobs import model
from cylink_deploy.output.human import HumanReporter
from cylink_deploy.preflight import pins
from cylink_deploy.project import Project

if TYPE_CHECKING:
    import boto3

GROUPS = {  # the help output's sections, in this order
    "deploying": "change the stack, through reviewed change sets",
    "operating": "look after a running environment",
    "local": "no AWS account needed",
    "account": "once per account and region, as an administrator",
}
STACK_NAME = identity.ROOT_STACK_NAME


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


def _supersede(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--supersede",
        action="store_true",
        help="execute even though it makes other change sets under review obsolete (CloudFormation deletes them)",
    )


PROGRESS = ("auto", "live", "plain")


def _progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        choices=PROGRESS,
        default="auto",
        help="how a stack operation is followed: live (a tree of the stacks, redrawn), plain (one line per event), "
        "auto (default: live on a terminal, plain when stdout is not one or CI is set)",
    )


FLAG_SETS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "target": _target,  # --env, --stack-name
    "yes": _yes,
    "aws": _aws,  # --region, --profile
    "json": _json,
    "allow": _allow,  # --allow-replacement
    "supersede": _supersede,  # --supersede
    "progress": _progress,  # --progress
}
STACK = ("target", "yes", "aws", "json")  # what a command on one environment's stack takes
FOLLOWS = (*STACK, "progress")  # ... and follows a stack operation (or another long wait) as it runs


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
    _checked: list[identity.Identity | None] = field(default_factory=list)
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
        """The AWS clients (made once), after the terminal rule and the environment's pin: nothing reaches AWS
        before the one holds, nothing is written before the other does. For a command on one environment's stack
        (--env), the first call also refuses a stack that records another environment: the one identity check
        every such command passes before anything reads or writes its stack."""
        self.require_terminal()
        if not self._made:
            if self.preset is not None:
                made = self.preset
            else:
                made = aws.make_clients(self._session(credentials), endpoint_url)
            if credentials is None:  # the embedded emulator (--local) is no account anybody pinned
                self.check_pins(made)
            self._made.append(made)
        made = self._made[0]
        if "target" in self.command.flags and not self._checked:
            self._checked.append(identity.require_env(made.cloudformation, self.stack, self.args.env))
        return made

    @property
    def stack(self) -> str:
        """The stack a command with --env / --stack-name works on."""
        return model.stack_name(self.args.env, self.args.stack_name)

    def pinned_envs(self) -> list[str]:
        """The environments this command acts on: --env, and bootstrap's --github-environment roles."""
        env = getattr(self.args, "env", None)
        return ([env] if isinstance(env, str) else []) + list(getattr(self.args, "github_environment", None) or [])

    def check_pins(self, clients: aws.Clients) -> None:
        """The one pin check (preflight/pins.py), before a command's first write: the credentials' account
        (STS GetCallerIdentity) and the region must be each environment's pin; an unpinned prod is warned about."""
        pinned = []
        for env in self.pinned_envs():
            pin = pins.load(self.project.params_dir, env)
            if pin is not None:
                pinned.append(pin)
            elif warning := pins.unpinned(env):
                self.reporter.warn(warning)
        if not pinned:
            return
        account = aws.account_id(
            clients.sts
        )  # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
        for pin in pinned:
            why = pins.refusal(pin, account, clients.region)
            if why:
                raise pins.WrongAccount(why)

    def account_clients(self) -> aws.AccountClients:
        """``doctor``'s extra clients, from the same session as ``clients``."""
        self.require_terminal()
        if self.preset_account is not None:
            return self.preset_account
        return aws.make_account_clients(self._session())
