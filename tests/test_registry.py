"""One command registry: a subcommand is one module in commands/ plus one line in the registry; the shared
flag sets and the terminal/--yes rule live in one place (commands/base.py); the help is grouped."""

from __future__ import annotations

import argparse
import importlib
import io

import pytest

from cylink_deploy import aws
from cylink_deploy.cfn import identity
from cylink_deploy.commands import base, registry
from cylink_deploy.errors import Aborted
from cylink_deploy.project import Project

from .conftest import REPO

NOT_COMMANDS = {"__init__", "base", "registry", "legacy"}


def test_every_command_module_is_registered_once_and_nothing_else_is():
    modules = {p.stem for p in (REPO / "cylink_deploy" / "commands").glob("*.py")} - NOT_COMMANDS
    defined = {importlib.import_module(f"cylink_deploy.commands.{m}").COMMAND.name for m in modules}
    names = [c.name for c in registry.REGISTRY]
    assert len(names) == len(set(names))
    assert set(names) == defined
    assert all(c.group in base.GROUPS for c in registry.REGISTRY)


def test_the_parser_has_exactly_the_registered_commands():
    (sub,) = [a for a in registry.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == [c.name for c in registry.REGISTRY]


def test_the_help_lists_the_commands_by_group():
    text = registry.parser().format_help()
    starts = [text.index(f"\n{group}: ") for group in base.GROUPS]
    assert starts == sorted(starts)
    for c in registry.REGISTRY:
        here = text.index(f"\n  {c.name} ")
        group_at = text.index(f"\n{c.group}: ")
        later = [s for s in starts if s > group_at]
        assert group_at < here < (later[0] if later else len(text)), c.name


@pytest.mark.parametrize(
    "argv, flags",
    [
        (["status", "--env", "dev"], {"env", "stack_name", "yes", "region", "profile", "json"}),
        (["bootstrap"], {"region", "profile", "json"}),
        (["build"], {"env"}),
    ],
)
def test_shared_flag_sets_are_attached_by_the_registry(argv, flags):
    args = vars(registry.parser().parse_args(argv))
    assert flags | {"command", "project_dir", "debug"} <= set(args)


def ask(argv: list[str]) -> bool:
    args = registry.parser().parse_args(argv)
    return registry.COMMANDS[args.command].asks(args)


def test_which_commands_ask_for_confirmation():
    assert ask(["deploy", "--env", "dev"]) and not ask(["deploy", "--env", "dev", "--no-execute"])
    assert ask(["execute", "--env", "dev", "cs"]) and ask(["delete", "--env", "dev"])
    assert ask(["release", "--env", "dev", "--image-tag", "1"]) and ask(["rotate-redis-auth", "--env", "dev"])
    assert not any(ask(a) for a in (["status", "--env", "dev"], ["logs", "--env", "dev", "backend"], ["bootstrap"]))


class NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


def context(argv: list[str], stdin: io.StringIO) -> base.Context:
    args = registry.parser().parse_args(argv)
    command = registry.COMMANDS[args.command]
    return base.Context(command, args, stdin, lambda s: None, Project.find(), None)  # type: ignore[arg-type]


def test_the_terminal_rule_holds_before_any_client_is_made(monkeypatch):
    """A command that will ask needs a terminal or --yes: refused before a session or client exists."""
    monkeypatch.setattr(aws, "make_session", lambda *a, **k: pytest.fail("no session before the terminal rule"))
    with pytest.raises(Aborted, match=r"^no terminal to confirm on: pass --yes \(CI\), or review first"):
        context(["deploy", "--env", "dev"], NotATerminal()).clients()
    with pytest.raises(Aborted, match=r"^no terminal to confirm on: pass --yes \(CI\)$"):
        context(["delete", "--env", "dev"], NotATerminal()).clients()


def test_yes_or_a_command_that_never_asks_gets_its_clients(monkeypatch):
    made: list[object] = []

    def session(*a: object, **k: object) -> str:
        made.append(a)
        return "session"

    monkeypatch.setattr(aws, "make_session", session)

    class Made(str):
        cloudformation = "cfn"

    monkeypatch.setattr(aws, "make_clients", lambda session, endpoint=None: Made(f"clients of {session}"))
    checked: list[tuple[str, str]] = []
    monkeypatch.setattr(identity, "require_env", lambda cfn, stack, env: checked.append((stack, env)))
    ctx = context(["delete", "--env", "dev", "--yes"], NotATerminal())
    first, again = ctx.clients(), ctx.clients()
    assert [first, again] == ["clients of session"] * 2  # type: ignore[comparison-overlap]
    assert len(made) == 1  # made once, on first use
    status = context(["status", "--env", "dev"], NotATerminal()).clients()
    assert [status] == ["clients of session"]  # type: ignore[comparison-overlap]
    assert checked == [("cylink-dev", "dev")] * 2  # once per command, however often it asks for its clients
