"""Command line of ``deploy.py``: flags in, a workflow call, its result mapped to an exit code.

One subcommand per job (``deploy`` is the default, so ``python deploy.py --env prod`` works); the jobs
themselves live in ``workflow`` and report through ``report``.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO

import botocore.exceptions as bex

from cylink_deploy import aws, opscmd
from cylink_deploy.cfn import github_oidc
from cylink_deploy.commands import cost as costcmd
from cylink_deploy.commands.legacy import normalize
from cylink_deploy.errors import EXIT_FAILED, Aborted, BadInput, DeployError
from cylink_deploy.flags import COMMANDS, parser
from cylink_deploy.jobs import deploy as workflow
from cylink_deploy.output.human import HumanReporter, JsonReporter
from cylink_deploy.preflight import params
from cylink_deploy.project import Project


def main(
    argv: Sequence[str] | None = None,
    stdin: IO[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    project: Project | None = None,
    out: IO[str] | None = None,
) -> int:
    """Run one command line; ``out`` receives the --json document (default stdout). Returns the exit code."""
    raw = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in raw
    try:
        normalized, notice = normalize(raw, COMMANDS)
        args = parser().parse_args(normalized)
        if notice:
            print(notice, file=sys.stderr)
        return run(args, stdin or sys.stdin, sleep, project, out)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (bex.BotoCoreError, bex.ClientError) as exc:
        translated = aws.translate(exc)
        if debug:
            traceback.print_exc()
        print(f"error: {translated or f'AWS call failed: {aws.one_line(str(exc))}'}", file=sys.stderr)
        return translated.exit_code if translated else EXIT_FAILED
    except Exception as exc:  # the one place that turns a surprise into one line
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"error: unexpected {type(exc).__name__}: {first} (rerun with --debug for the traceback)", file=sys.stderr
        )
        return EXIT_FAILED


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
    """Pick the reporter and run the job; Ctrl-C says honestly whether CloudFormation carries on."""
    project = project or Project.find(args.project_dir)
    yes = getattr(args, "yes", False)
    reporter: HumanReporter
    if getattr(args, "json", False):
        reporter = JsonReporter(answers=stdin, assume_yes=yes, document_out=out)
    else:
        reporter = HumanReporter(out=out, answers=stdin, assume_yes=yes)
    try:
        return dispatch(args, stdin, sleep, project, reporter, out)
    except KeyboardInterrupt:
        said = interrupted(reporter.in_flight, args.command)
        print(f"error: interrupted; {said}", file=sys.stderr)
        return Aborted.exit_code


def dispatch(
    args: argparse.Namespace,
    stdin: IO[str],
    sleep: Callable[[float], None],
    project: Project,
    reporter: HumanReporter,
    out: IO[str] | None = None,
) -> int:
    yes = getattr(args, "yes", False)
    if isinstance(getattr(args, "env", None), str):  # every command that names one environment: it must exist
        params.env_file(project.params_dir, args.env)  # (a typo once 'deleted' a stack that never existed)
    if args.command == "build":
        workflow.build(project, reporter, args.env)
        return 0
    if args.command == "cost":
        return costcmd.run(args, project.params_dir, out or sys.stdout, sys.stderr)
    if args.command == "serve-local":
        return serve(args.port, reporter)
    if args.command in opscmd.COMMANDS:
        return opscmd.run(args, stdin, project, reporter, sleep)
    prompts = args.command in ("execute", "delete") or (args.command == "deploy" and not args.no_execute)
    if args.command == "deploy":
        request = workflow.DeployRequest(
            args.env,
            args.stack_name,
            params.parse_overrides(args.parameter),
            args.image_tag,
            frozenset(args.allow_replacement),
            execute=not args.no_execute,
            remove_services=args.remove_services,
        )
        prepared = workflow.prepare(request, project, reporter)  # bad input stops here, before any AWS call
        try:
            _require_terminal(prompts and not yes, stdin, args.command)
            if args.local:
                return deploy_local(args, request, prepared, reporter, project, sleep)
            clients = aws.make_clients(aws.make_session(args.region, args.profile))
            workflow.deploy(request, clients, reporter, project, prepared, sleep)
        finally:
            prepared.close()
        return 0
    _require_terminal(prompts and not yes, stdin, args.command)
    if args.command == "bootstrap":
        request_b = bootstrap_request(args)  # bad input stops here, before any AWS call
    clients = aws.make_clients(aws.make_session(args.region, args.profile))
    if args.command == "execute":
        workflow.execute(
            workflow.ExecuteRequest(args.env, args.change_set, args.stack_name, frozenset(args.allow_replacement)),
            clients,
            reporter,
            project,
            sleep,
        )
    elif args.command == "delete":
        workflow.delete(workflow.DeleteRequest(args.env, args.stack_name), clients, reporter, sleep)
    else:
        workflow.bootstrap(clients, reporter, request_b)
    return 0


def _require_terminal(asks: bool, stdin: IO[str], command: str) -> None:
    """A command that will ask for confirmation needs a terminal (or --yes); checked after the input is
    validated, so bad input is reported as such (exit 2) rather than as a missing terminal."""
    if asks and not stdin.isatty():
        hint = ", or review first with --no-execute" if command == "deploy" else ""
        raise Aborted(f"no terminal to confirm on: pass --yes (CI){hint}")


def bootstrap_request(args: argparse.Namespace) -> workflow.BootstrapRequest:
    """``--github-*`` flags into the request; a ref or environment without the repository is an error."""
    if args.github_repo == "":  # an unset CI variable: never a plain bootstrap in its place
        raise BadInput("--github-repo is empty (an unset CI variable?): give OWNER/REPO, or leave the flag out")
    if not args.github_repo:
        if args.github_ref or args.github_environment:
            raise BadInput("--github-ref and --github-environment need --github-repo OWNER/REPO")
        return workflow.BootstrapRequest()
    return workflow.BootstrapRequest(
        github_oidc.GitHubTrust(args.github_repo, tuple(args.github_ref), tuple(args.github_environment))
    )


def deploy_local(
    args: argparse.Namespace,
    request: workflow.DeployRequest,
    prepared: workflow.Prepared,
    reporter: HumanReporter,
    project: Project,
    sleep: Callable[[float], None],
) -> int:
    """The same deploy against an emulator started for this run (fake credentials, loopback only)."""
    from cylink_deploy.emulator import FAKE_CREDENTIALS, Emulator

    with Emulator() as emulator:
        reporter.step(f"Local AWS emulator on {emulator.endpoint} (moto, fake credentials)")
        clients = aws.make_clients(aws.make_session(args.region, None, FAKE_CREDENTIALS), emulator.endpoint)
        workflow.deploy(request, clients, reporter, project, prepared, sleep)
    return 0


def serve(port: int | None, reporter: HumanReporter) -> int:
    from cylink_deploy.emulator import DEFAULT_PORT, serve_forever

    def announce(endpoint: str) -> None:
        reporter.step(f"AWS emulator listening on {endpoint} (Ctrl-C to stop). In another shell:")
        reporter.line(
            f"    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"AWS_DEFAULT_REGION={aws.DEFAULT_REGION}"
        )
        reporter.line("    python deploy.py --env dev --yes --image-tag 1.0.0")
        reporter.line(f"    aws --endpoint-url {endpoint} cloudformation describe-stacks")

    serve_forever(port or DEFAULT_PORT, announce)
    return 0
