"""Command line of ``deploy.py``: flags in, a workflow call, its result mapped to an exit code.

One subcommand per job (``deploy`` is the default, so ``python deploy.py --env prod`` works); the jobs
themselves live in ``workflow`` and report through ``report``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, NoReturn

import botocore.exceptions as bex

from . import aws, costcmd, github_oidc, opscmd, params, workflow
from .errors import EXIT_FAILED, Aborted, BadInput, DeployError
from .legacy import normalize
from .project import Project
from .report import HumanReporter, JsonReporter

EPILOG = """exit codes:
  0  deployed, or no changes          1  deployment (or lint) failed, or an unexpected error
  2  bad flag, region or parameter file  3  credentials, permissions, unreachable endpoint
  4  stack needs recovery first       5  declined at the prompt, or no TTY without --yes
  6  refused: the change set would replace or remove a stateful resource (see --allow-replacement)
  7  release --build: docker missing, not running, or a build/push failed

examples:
  python deploy.py --env dev --local --yes --image-tag 1.0.0   # whole stack on the embedded emulator
  python deploy.py --env prod --no-execute                     # review in the console, then:
  python deploy.py execute --env prod CHANGE_SET_NAME
  python deploy.py release --env prod --image-tag v1.1.0       # release (guide section 12)
  python deploy.py status --env prod; python deploy.py logs --env prod backend --follow
"""
COMMANDS = ("deploy", "execute", "delete", "bootstrap", "build", "cost", "serve-local", *opscmd.COMMANDS)
STACK_NAME = re.compile(r"^cylink-[a-z0-9-]{1,100}$")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{message} (see: {self.prog} --help)")


def _stack_name(value: str) -> str:
    if not STACK_NAME.fullmatch(value) or value != value.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: use cylink-<lower-case letters, digits, hyphens> (the service role and deployer policy "
            "cover cylink-* stacks)"
        )
    return value


def _port(value: str) -> int:
    if not value.isdigit() or not 1024 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value}: use a free port between 1024 and 65535 (default 4566)")
    return int(value)


def parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--project-dir", type=Path, help="the repository (default: found from the working directory)")
    common.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")
    aws_opts = Parser(add_help=False)
    aws_opts.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, {aws.DEFAULT_REGION})"
    )
    aws_opts.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE / default chain)")
    aws_opts.add_argument("--json", action="store_true", help="print the result as JSON on stdout (humans: stderr)")
    target = Parser(add_help=False)
    target.add_argument("--env", required=True, help="environment: reads params/ENV.yaml, deploys stack cylink-ENV")
    target.add_argument("--stack-name", type=_stack_name, help="override the stack name (default cylink-ENV)")
    target.add_argument("--yes", "-y", action="store_true", help="do not prompt (CI)")
    allow = Parser(add_help=False)
    allow.add_argument(
        "--allow-replacement",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="allow replacing/removing exactly this stateful resource (logical ID or Stack/LogicalId; repeatable)",
    )

    p = Parser(
        prog="deploy.py",
        description="Build, lint and deploy Cylink's nested CloudFormation stacks through reviewed change sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}", parser_class=Parser)
    d = sub.add_parser(
        "deploy",
        parents=[common, target, aws_opts, allow],
        help="(default) create a change set, review it, execute it",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter of the file (repeatable)",
    )
    d.add_argument(
        "--image-tag",
        metavar="TAG",
        help="image tag both services run (a new tag rolls the services; omitted: keep the running one)",
    )
    d.add_argument(
        "--remove-services",
        action="store_true",
        help="deliberately remove both services (empties ImageTag); never implied by a missing tag",
    )
    d.add_argument(
        "--no-execute",
        action="store_true",
        help="stop after showing the change set; print its name, ARN, console URL and the execute command",
    )
    d.add_argument("--local", action="store_true", help="deploy to an embedded AWS emulator on 127.0.0.1 for this run")
    e = sub.add_parser(
        "execute",
        parents=[common, target, aws_opts, allow],
        help="execute a reviewed change set (checked AVAILABLE and shown again)",
    )
    e.add_argument(
        "change_set", metavar="CHANGE_SET", help="the change set's name (printed by deploy --no-execute) or ARN"
    )
    sub.add_parser("delete", parents=[common, target, aws_opts], help="delete the stack after showing what is retained")
    bs = sub.add_parser(
        "bootstrap",
        parents=[common, aws_opts],
        help="(administrator, once per account/region) artifacts bucket, service role, deployer policy",
    )
    bs.add_argument(
        "--github-repo",
        metavar="OWNER/REPO",
        help="also create the GitHub OIDC provider and a deployer role that trusts only this repository",
    )
    bs.add_argument(
        "--github-ref",
        action="append",
        default=[],
        metavar="REF",
        help="with --github-repo: a ref whose jobs may deploy, e.g. refs/heads/main or refs/tags/v* (repeatable)",
    )
    bs.add_argument(
        "--github-environment",
        action="append",
        default=[],
        metavar="NAME",
        help="with --github-repo: a GitHub environment whose jobs may deploy, e.g. prod (repeatable)",
    )
    b = sub.add_parser(
        "build",
        parents=[common],
        help="render templates into build/ and cfn-lint them and the parameter files; no AWS calls",
    )
    b.add_argument("--env", help="lint only this environment's parameter file")
    opscmd.add_parsers(sub, common, target, aws_opts)
    costcmd.add_arguments(
        sub.add_parser("cost", parents=[common], help="offline monthly and event cost estimate per environment")
    )
    s = sub.add_parser("serve-local", parents=[common], help="run the AWS emulator in the foreground until Ctrl-C")
    s.add_argument("--port", type=_port, default=None, help="port (default 4566)")
    return p


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
        print(f"error: {translated or f'AWS call failed: {exc}'}", file=sys.stderr)
        return translated.exit_code if translated else EXIT_FAILED
    except Exception as exc:  # the one place that turns a surprise into one line
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"error: unexpected {type(exc).__name__}: {first} (rerun with --debug for the traceback)", file=sys.stderr
        )
        return EXIT_FAILED


INTERRUPTED = {
    False: "nothing was executed (a change set left behind changes nothing until executed)",
    True: (
        "the CloudFormation operation already started continues: follow it in the console or with 'aws "
        "cloudformation describe-stack-events'"
    ),
}


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
        print(f"error: interrupted; {INTERRUPTED[reporter.in_flight]}", file=sys.stderr)
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
    if prompts and not yes and not stdin.isatty():
        hint = ", or review first with --no-execute" if args.command == "deploy" else ""
        raise Aborted(f"no terminal to confirm on: pass --yes (CI){hint}")
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
        prepared = workflow.prepare(request, project)  # bad input stops here, before any AWS call
        try:
            if args.local:
                return deploy_local(args, request, prepared, reporter, project, sleep)
            clients = aws.make_clients(aws.make_session(args.region, args.profile))
            workflow.deploy(request, clients, reporter, project, prepared, sleep)
        finally:
            prepared.close()
        return 0
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


def bootstrap_request(args: argparse.Namespace) -> workflow.BootstrapRequest:
    """``--github-*`` flags into the request; a ref or environment without the repository is an error."""
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
    from .emulator import FAKE_CREDENTIALS, Emulator

    with Emulator() as emulator:
        reporter.step(f"Local AWS emulator on {emulator.endpoint} (moto, fake credentials)")
        clients = aws.make_clients(aws.make_session(args.region, None, FAKE_CREDENTIALS), emulator.endpoint)
        workflow.deploy(request, clients, reporter, project, prepared, sleep)
    return 0


def serve(port: int | None, reporter: HumanReporter) -> int:
    from .emulator import DEFAULT_PORT, serve_forever

    def announce(endpoint: str) -> None:
        reporter.step(f"AWS emulator listening on {endpoint} (Ctrl-C to stop). In another shell:")
        reporter.line(f"    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        reporter.line("    python deploy.py --env dev --yes --image-tag 1.0.0")
        reporter.line(f"    aws --endpoint-url {endpoint} cloudformation describe-stacks")

    serve_forever(port or DEFAULT_PORT, announce)
    return 0
