"""Day-2 subcommands (``release``, ``status``, ``logs``, ``drift``, ``rotate-redis-auth``): their flags, and
flags -> job -> exit code.

Kept out of ``cli.py`` so the CLI stays a dispatcher: ``add_parsers`` defines the subcommands, ``run``
executes one. The jobs are in ``release``, ``status``, ``logs``, ``drift`` and ``rotation``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cylink_deploy import aws
from cylink_deploy.errors import Aborted, BadInput
from cylink_deploy.jobs import deploy as workflow
from cylink_deploy.ops.drift import Drifted, DriftRequest, drift
from cylink_deploy.ops.logs import LogsRequest, logs
from cylink_deploy.ops.release import BuildSpec, ReleaseRequest, release
from cylink_deploy.ops.rotation import RotateRequest, rotate_redis_auth
from cylink_deploy.ops.status import StatusRequest, Unhealthy, status
from cylink_deploy.output.human import HumanReporter
from cylink_deploy.preflight import params
from cylink_deploy.project import Project
from templates_src.common import SERVICES

COMMANDS = ("release", "status", "logs", "drift", "rotate-redis-auth")


def add_parsers(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    target: argparse.ArgumentParser,
    aws_opts: argparse.ArgumentParser,
) -> None:
    """The day-2 subcommands, sharing the CLI's --env/--stack-name/--yes and --region/--profile/--json."""
    r = sub.add_parser(
        "release",
        parents=[common, target, aws_opts],
        help="release an image tag to both services (checks ECR; --build builds and pushes)",
    )
    tag = r.add_mutually_exclusive_group(required=True)
    tag.add_argument(
        "--image-tag", metavar="TAG", help="the tag to release (must be in both ECR repositories, unless --build)"
    )
    tag.add_argument("--rollback-to", metavar="TAG", help="go back to an earlier tag (the same checks; no --build)")
    r.add_argument(
        "--build",
        action="store_true",
        help="build both images with docker, push them to ECR and verify their digests first",
    )
    r.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="as for deploy: override a parameter of the file (repeatable)",
    )
    r.add_argument("--allow-replacement", action="append", default=[], metavar="LOGICAL_ID", help="as for deploy")
    for svc in SERVICES:
        r.add_argument(
            f"--{svc.name}-dir",
            type=Path,
            metavar="DIR",
            help=f"with --build: the {svc.name}'s build context (its Dockerfile)",
        )
    sub.add_parser(
        "status",
        parents=[common, target, aws_opts],
        help="one screen of the environment's health; exit 1 when not healthy",
    )
    g = sub.add_parser(
        "logs", parents=[common, target, aws_opts], help="a service's container logs, all tasks in time order"
    )
    g.add_argument(
        "service", choices=[svc.name for svc in SERVICES], help="which service's log group (from the stack outputs)"
    )
    g.add_argument("--since", default="10m", metavar="AGE", help="how far back: 30s, 10m (default), 2h, 1d")
    g.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    g.add_argument("--filter", metavar="TEXT", help="only events containing TEXT (literal)")
    sub.add_parser(
        "drift",
        parents=[common, target, aws_opts],
        help="drift detection on the root and every nested stack; exit 1 when drifted",
    )
    sub.add_parser(
        "rotate-redis-auth",
        parents=[common, target, aws_opts],
        help="new Redis AUTH token without downtime (ROTATE, secret, backend redeploy, SET); see README",
    )


def build_spec(args: argparse.Namespace) -> BuildSpec | None:
    """--build's directories, each checked to hold a Dockerfile; None without --build."""
    dirs = {svc.name: getattr(args, f"{svc.name}_dir") for svc in SERVICES}
    if not args.build:
        given = [f"--{k}-dir" for k, v in dirs.items() if v is not None]
        if given:
            raise BadInput(f"{' and '.join(given)} only apply with --build")
        return None
    if args.rollback_to:
        raise BadInput("--rollback-to releases an image that is already in ECR: drop --build")
    for name, path in dirs.items():
        if path is None:
            raise BadInput(f"--build needs --{name}-dir DIR (the directory with the {name}'s Dockerfile)")
        if not (path / "Dockerfile").is_file():
            raise BadInput(f"--{name}-dir {path}: no Dockerfile there")
    return BuildSpec(dirs)


def run(
    args: argparse.Namespace,
    stdin: IO[str],
    project: Project,
    reporter: HumanReporter,
    sleep: Callable[[float], None] = time.sleep,
    clients: aws.Clients | None = None,
) -> int:
    """Run one day-2 subcommand; a problem found (unhealthy, drifted, rolled back) is raised as a named error."""
    if args.command == "release":
        return _release(args, stdin, project, reporter, sleep, clients)
    if args.command == "rotate-redis-auth" and not args.yes and not stdin.isatty():
        raise Aborted("no terminal to confirm on: pass --yes (CI)")
    clients = clients or aws.make_clients(aws.make_session(args.region, args.profile))
    if args.command == "status":
        view = status(StatusRequest(args.env, args.stack_name), clients, reporter)
        if view.problems:
            raise Unhealthy(f"{view.stack} is not healthy: {'; '.join(view.problems)}")
    elif args.command == "logs":
        logs(
            LogsRequest(args.env, args.service, args.since, args.follow, args.filter, args.stack_name),
            clients,
            reporter,
            sleep,
        )
    elif args.command == "rotate-redis-auth":
        rotate_redis_auth(RotateRequest(args.env, args.stack_name), clients, reporter, sleep)
    else:
        report = drift(DriftRequest(args.env, args.stack_name), clients, reporter, sleep)
        if report.drifted:
            raise Drifted(
                f"{len(report.drifted)} resource(s) drifted: "
                + ", ".join(f"{d.stack}/{d.logical_id}" for d in report.drifted[:5])
                + " (see README 'Troubleshooting' to resolve)"
            )
    return 0


def _release(
    args: argparse.Namespace,
    stdin: IO[str],
    project: Project,
    reporter: HumanReporter,
    sleep: Callable[[float], None],
    clients: aws.Clients | None,
) -> int:
    spec = build_spec(args)
    if not args.yes and not stdin.isatty():
        raise Aborted("no terminal to confirm on: pass --yes (CI)")
    request = ReleaseRequest(
        args.env,
        args.rollback_to or args.image_tag,
        args.stack_name,
        spec,
        rollback=bool(args.rollback_to),
        overrides=params.parse_overrides(args.parameter),
        allow_replacement=frozenset(args.allow_replacement),
    )
    prepared = workflow.prepare(
        request.deploy_request(), project, reporter
    )  # bad input (a malformed tag) stops here, before any AWS call
    try:
        clients = clients or aws.make_clients(aws.make_session(args.region, args.profile))
        release(request, clients, reporter, project, prepared, sleep)
    finally:
        prepared.close()
    return 0
