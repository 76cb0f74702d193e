"""The flags of ``deploy.py``: one subparser per job, shared option groups, and argparse made to fail
in one line. ``cli`` turns the parsed flags into workflow calls."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import NoReturn

from cylink_deploy import aws, opscmd
from cylink_deploy.commands import cost as costcmd
from cylink_deploy.errors import BadInput

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
