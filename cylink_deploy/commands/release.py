"""``release``: an image tag to both services (checked in ECR; ``--build`` builds and pushes first), or
``--rollback-to`` an earlier one, through the same reviewed change set as a deploy."""

from __future__ import annotations

import argparse
from pathlib import Path

from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.errors import BadInput
from cylink_deploy.jobs import build as build_job
from cylink_deploy.ops import release as release_job
from cylink_deploy.preflight import params
from templates_src.common import SERVICES


def arguments(p: argparse.ArgumentParser) -> None:
    tag = p.add_mutually_exclusive_group(required=True)
    tag.add_argument(
        "--image-tag", metavar="TAG", help="the tag to release (must be in both ECR repositories, unless --build)"
    )
    tag.add_argument("--rollback-to", metavar="TAG", help="go back to an earlier tag (the same checks; no --build)")
    p.add_argument(
        "--build",
        action="store_true",
        help="build both images with docker, push them to ECR and verify their digests first",
    )
    p.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="as for deploy: override a parameter of the file (repeatable)",
    )
    p.add_argument("--allow-replacement", action="append", default=[], metavar="LOGICAL_ID", help="as for deploy")
    p.add_argument(
        "--skip-image-check",
        action="store_true",
        help="release even if an image's config misses what its task definition expects (port, user, volumes)",
    )
    for svc in SERVICES:
        p.add_argument(
            f"--{svc.name}-dir",
            type=Path,
            metavar="DIR",
            help=f"with --build: the {svc.name}'s build context (its Dockerfile)",
        )


def build_spec(args: argparse.Namespace) -> release_job.BuildSpec | None:
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
    return release_job.BuildSpec(dirs)


def run(ctx: Context) -> int:
    a = ctx.args
    spec = build_spec(a)
    ctx.require_terminal()
    request = release_job.ReleaseRequest(
        a.env,
        a.rollback_to or a.image_tag,
        a.stack_name,
        spec,
        rollback=bool(a.rollback_to),
        overrides=params.parse_overrides(a.parameter),
        allow_replacement=frozenset(a.allow_replacement),
        supersede=a.supersede,
        skip_image_check=a.skip_image_check,
    )
    # bad input (a malformed tag) stops here, before any AWS call
    prepared = build_job.prepare(request.deploy_request(), ctx.project, ctx.reporter)
    try:
        release_job.release(request, ctx.clients(), ctx.reporter, ctx.project, prepared, ctx.sleep)
    finally:
        prepared.close()
    return 0


COMMAND = Command(
    "release",
    "deploying",
    "release an image tag to both services (checks ECR; --build builds and pushes)",
    run,
    (*FOLLOWS, "supersede"),
    arguments,
    asks=lambda a: True,
)
