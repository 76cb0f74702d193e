"""``build``: render the templates into build/ and cfn-lint them and the parameter files; no AWS calls."""

from __future__ import annotations

import argparse

from cylink_deploy.commands.base import Command, Context
from cylink_deploy.jobs import build as build_job


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="lint only this environment's parameter file")


def run(ctx: Context) -> int:
    build_job.build(ctx.project, ctx.reporter, ctx.args.env)
    return 0


COMMAND = Command(
    "build",
    "local",
    "render templates into build/ and cfn-lint them and the parameter files; no AWS calls",
    run,
    ("progress",),
    arguments,
)
