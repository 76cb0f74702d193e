"""``deploy`` (the default): a change set for the environment, shown, then executed after confirmation
(``--no-execute``: stop after the review; ``--local``: the same against an emulator started for this run)."""

from __future__ import annotations

import argparse

from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.jobs import build as build_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import DeployRequest
from cylink_deploy.preflight import params


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter of the file (repeatable)",
    )
    p.add_argument(
        "--image-tag",
        metavar="TAG",
        help="image tag both services run (a new tag rolls the services; omitted: keep the running one)",
    )
    p.add_argument(
        "--remove-services",
        action="store_true",
        help="deliberately remove both services (empties ImageTag); never implied by a missing tag",
    )
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="stop after showing the change set; print its name, ARN, console URL and the execute command",
    )
    p.add_argument(
        "--allow-name-prefix-change",
        action="store_true",
        help="let --parameter NamePrefix rename an existing stack's named resources (a stack keeps its prefix)",
    )
    p.add_argument("--local", action="store_true", help="deploy to an embedded AWS emulator on 127.0.0.1 for this run")


def run(ctx: Context) -> int:
    a = ctx.args
    request = DeployRequest(
        a.env,
        a.stack_name,
        params.parse_overrides(a.parameter),
        a.image_tag,
        frozenset(a.allow_replacement),
        execute=not a.no_execute,
        remove_services=a.remove_services,
        allow_name_prefix_change=a.allow_name_prefix_change,
        supersede=a.supersede,
    )
    prepared = build_job.prepare(request, ctx.project, ctx.reporter)  # bad input stops here, before any AWS call
    try:
        if a.local:
            return _local(ctx, request, prepared)
        deploy_job.deploy(request, ctx.clients(), ctx.reporter, ctx.project, prepared, ctx.sleep)
    finally:
        prepared.close()
    return 0


def _local(ctx: Context, request: DeployRequest, prepared: build_job.Prepared) -> int:
    """The same deploy against an emulator started for this run (fake credentials, loopback only)."""
    from cylink_deploy.emulator import FAKE_CREDENTIALS, Emulator

    ctx.require_terminal()  # before the emulator starts
    with Emulator() as emulator:
        ctx.reporter.step(f"Local AWS emulator on {emulator.endpoint} (moto, fake credentials)")
        clients = ctx.clients(emulator.endpoint, FAKE_CREDENTIALS)
        deploy_job.deploy(request, clients, ctx.reporter, ctx.project, prepared, ctx.sleep)
    return 0


COMMAND = Command(
    "deploy",
    "deploying",
    "(default) create a change set, review it, execute it",
    run,
    (*FOLLOWS, "allow", "supersede"),
    arguments,
    asks=lambda a: not a.no_execute,
    no_terminal_hint=", or review first with --no-execute",
)
