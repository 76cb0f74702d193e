"""Command line of ``deploy.py``: parse -> the registered command's ``run`` -> exit code.

One subcommand per job (``deploy`` is the default, so ``python deploy.py --env prod`` works); each lives
in ``commands/`` and is listed in ``commands/registry.py``. This module is the one place that turns a
named error, an AWS error, Ctrl-C or a surprise into one line and an exit code.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any

import botocore.exceptions as bex

from cylink_deploy import aws, documents
from cylink_deploy.commands.base import Context
from cylink_deploy.commands.legacy import normalize
from cylink_deploy.commands.registry import COMMANDS, parser
from cylink_deploy.errors import EXIT_FAILED, Aborted, DeployError
from cylink_deploy.output.human import HumanReporter, JsonReporter, printable
from cylink_deploy.preflight import params
from cylink_deploy.project import Project

STACK_OPERATION = (
    "the CloudFormation operation already sent continues: follow it in the console or with 'aws cloudformation "
    "describe-stack-events'"
)
# What Ctrl-C leaves behind, by the operation last sent (Reporter.sent); none sent: nothing was executed.
AFTER_SENT = {
    "rotation": (
        "the rotation is part-way; no step leaves a task without a working token: run the same command again to "
        "finish it"
    ),
}
CREATES_CHANGE_SETS = ("deploy", "release")


def main(
    argv: Sequence[str] | None = None,
    stdin: IO[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    project: Project | None = None,
    out: IO[str] | None = None,
) -> int:
    """Run one command line; ``out`` receives the --json document (default stdout). Returns the exit code.
    With --json on the command line, a failure is a document on stdout too, unless one was written already:
    a pipeline gets exactly one document (docs/json.md)."""
    raw = list(sys.argv[1:] if argv is None else argv)
    sink = Written(out or sys.stdout) if "--json" in raw else None
    code, said = outcome(raw, stdin or sys.stdin, sleep, project, sink or out)
    if said is not None:
        print(f"error: {said}", file=sys.stderr)
        if sink is not None and not sink.written:
            sink.write(documents.dumps(documents.error(code, said)))
    return code


class Written:
    """The --json stream, remembering whether a document (or a JSON line) went out on it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream, self.written = stream, False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def outcome(
    raw: list[str],
    stdin: IO[str],
    sleep: Callable[[float], None],
    project: Project | None,
    out: Any,
) -> tuple[int, str | None]:
    """The exit code and, for a failure, its one line: the one place errors become exit codes."""
    debug = "--debug" in raw
    try:
        normalized, notice = normalize(raw, tuple(COMMANDS))
        args = parser().parse_args(normalized)
        if notice:
            print(notice, file=sys.stderr)
        return run(args, stdin, sleep, project, out), None
    except DeployError as exc:  # the messages quote AWS (stack reasons, ECS events): escaped as the reporter does
        return exc.exit_code, printable(str(exc))
    except (bex.BotoCoreError, bex.ClientError) as exc:
        translated = aws.translate(exc)
        if debug:
            traceback.print_exc()
        said = str(translated) if translated else f"AWS call failed: {aws.one_line(str(exc))}"
        return (translated.exit_code if translated else EXIT_FAILED), printable(said)
    except Exception as exc:  # the one place that turns a surprise into one line
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        return EXIT_FAILED, (
            f"unexpected {type(exc).__name__}: {printable(first)} (rerun with --debug for the traceback)"
        )


def interrupted(sent: str | None, command: str) -> str:
    """The one line for Ctrl-C: honest about what already runs in AWS."""
    if sent:
        return AFTER_SENT.get(sent, STACK_OPERATION)
    if command in CREATES_CHANGE_SETS:
        return "nothing was executed (a change set left behind changes nothing until executed)"
    return "nothing was executed"


def run(
    args: argparse.Namespace,
    stdin: IO[str],
    sleep: Callable[[float], None],
    project: Project | None = None,
    out: IO[str] | None = None,
) -> int:
    """Pick the reporter and run the command; Ctrl-C says honestly whether AWS carries on."""
    command = COMMANDS[args.command]
    project = project or Project.find(args.project_dir)
    yes = getattr(args, "yes", False)
    reporter: HumanReporter
    if getattr(args, "json", False):
        reporter = JsonReporter(answers=stdin, assume_yes=yes, document_out=out)
    else:
        reporter = HumanReporter(out=out, answers=stdin, assume_yes=yes)
    if isinstance(getattr(args, "env", None), str):  # every command that names one environment: it must exist
        params.env_file(project.params_dir, args.env)  # (a typo once 'deleted' a stack that never existed)
    try:
        return command.run(Context(command, args, stdin, sleep, project, reporter, out))
    except KeyboardInterrupt:
        raise Aborted(f"interrupted; {interrupted(reporter.in_flight, command.name)}") from None
