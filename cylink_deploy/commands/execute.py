"""``execute``: run a change set reviewed earlier (``deploy --no-execute``), checked AVAILABLE and shown again."""

from __future__ import annotations

import argparse

from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import ExecuteRequest


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "change_set", metavar="CHANGE_SET", help="the change set's name (printed by deploy --no-execute) or ARN"
    )


def run(ctx: Context) -> int:
    a = ctx.args
    request = ExecuteRequest(a.env, a.change_set, a.stack_name, frozenset(a.allow_replacement), a.supersede)
    deploy_job.execute(request, ctx.clients(), ctx.reporter, ctx.project, ctx.sleep)
    return 0


COMMAND = Command(
    "execute",
    "deploying",
    "execute a reviewed change set (checked AVAILABLE and shown again)",
    run,
    (*FOLLOWS, "allow", "supersede"),
    arguments,
    asks=lambda a: True,
)
