"""``logs``: a service's container logs, every task in time order (``--follow`` until Ctrl-C)."""

from __future__ import annotations

import argparse

from cylink_deploy.commands.base import STACK, Command, Context
from cylink_deploy.ops import logs as logs_job
from templates_src.common import SERVICES


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "service", choices=[svc.name for svc in SERVICES], help="which service's log group (from the stack outputs)"
    )
    p.add_argument("--since", default="10m", metavar="AGE", help="how far back: 30s, 10m (default), 2h, 1d")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    p.add_argument("--filter", metavar="TEXT", help="only events containing TEXT (literal)")


def run(ctx: Context) -> int:
    a = ctx.args
    request = logs_job.LogsRequest(a.env, a.service, a.since, a.follow, a.filter, a.stack_name)
    logs_job.logs(request, ctx.clients(), ctx.reporter, ctx.sleep)
    return 0


COMMAND = Command("logs", "operating", "a service's container logs, all tasks in time order", run, STACK, arguments)
