"""Command line of ``deploy.py``: parse -> the registered command's ``run`` -> exit code.

One subcommand per job (``deploy`` is the default, so ``python deploy.py --env prod`` works); each lives
in ``commands/`` and is listed in ``commands/registry.py``. This module is the one place that turns a
named error, an AWS error, Ctrl-C or a surprise into one line and an exit code.
"""

from __future__ import annotations

import argparse
import os
import shlex
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
from cylink_deploy.errors import EXIT_FAILED, Aborted, BadInput, DeployError
from cylink_deploy.jobs.deploy import CREATE, UPLOAD
from cylink_deploy.ops.release import PUSH
from cylink_deploy.output.human import HumanReporter, JsonReporter, printable
from cylink_deploy.output.live import LiveReporter, wanted
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
    PUSH: (
        "nothing was executed and no change set was created; an image pushed so far stays in ECR under its tag "
        "(tags are immutable: release --build again with a new tag)"
    ),
    UPLOAD: (
        "nothing was executed and no change set was created; templates uploaded to the artifacts bucket (and, on "
        "a first deploy, the bucket and the service role) stay for the next deploy: nothing to clean up"
    ),
    CREATE: "nothing was executed (a change set left behind changes nothing until executed)",
}
# Commands that create change sets: interrupted before anything was sent, nothing in AWS changed.
CREATES_CHANGE_SETS = ("deploy", "release", "event")


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
        args, unknown = parser().parse_known_args(normalized)
        if unknown:  # argparse would point at the top-level help; the flags are the subcommand's
            raise BadInput(f"unrecognized arguments: {' '.join(unknown)} (see: deploy.py {args.command} --help)")
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
        return "nothing was executed and nothing changed in AWS (no change set was created): nothing to clean up"
    return "nothing was executed"


BEFORE_EXECUTION = (PUSH, UPLOAD, CREATE)  # sent, but nothing of them goes on in AWS without this run


def still_going(sent: str | None, args: argparse.Namespace) -> str | None:
    """What may go on in AWS when this run loses AWS (an unreachable endpoint, expired credentials) after it
    sent an operation, and how to follow it; None before anything was executed (the failure says it all)."""
    if not sent or sent in BEFORE_EXECUTION:
        return None
    if sent in AFTER_SENT:
        return AFTER_SENT[sent]
    status = ["python", "deploy.py", "status", "--env", str(getattr(args, "env", "ENV"))]
    for flag in ("stack_name", "region", "profile"):
        if getattr(args, flag, None):
            status += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    return (
        "the CloudFormation operation already sent may go on in AWS without this run: follow it with "
        f"'{shlex.join(status)}' once AWS answers again, or in the CloudFormation console"
    )


def reporter_for(args: argparse.Namespace, stdin: IO[str], out: IO[str] | None) -> HumanReporter:
    """The one choice of reporter: ``--json``; the live view (``--progress``, and on ``auto`` a terminal outside
    CI); else the plain log."""
    yes = getattr(args, "yes", False)
    if getattr(args, "json", False):
        return JsonReporter(answers=stdin, assume_yes=yes, document_out=out)
    screen = out or sys.stdout
    if wanted(getattr(args, "progress", "plain"), screen, os.environ):
        return LiveReporter(screen, answers=stdin, assume_yes=yes)
    return HumanReporter(out=out, answers=stdin, assume_yes=yes)


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
    if isinstance(getattr(args, "env", None), str):  # every command that names one environment: it must exist
        params.env_file(project.params_dir, args.env)  # (a typo once 'deleted' a stack that never existed)
    reporter = reporter_for(args, stdin, out)
    try:
        try:
            return command.run(Context(command, args, stdin, sleep, project, reporter, out))
        finally:
            reporter.close()  # the live view's last screen stays, before any error line
    except KeyboardInterrupt:
        raise Aborted(f"interrupted; {interrupted(reporter.in_flight, command.name)}") from None
    except (bex.BotoCoreError, bex.ClientError) as exc:  # AWS lost mid-run: say what may go on without us
        going_on = still_going(reporter.in_flight, args)
        if going_on is None:
            raise
        translated = aws.translate(exc)
        said = str(translated) if translated else f"AWS call failed: {aws.one_line(str(exc))}"
        raise (type(translated) if translated else DeployError)(f"{said}; {going_on}") from exc
