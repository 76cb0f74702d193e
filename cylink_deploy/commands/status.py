"""``status``: one screen of the environment's health; exit 1 when it is not healthy."""

from __future__ import annotations

from cylink_deploy.commands.base import STACK, Command, Context
from cylink_deploy.ops import status as status_job


def run(ctx: Context) -> int:
    request = status_job.StatusRequest(ctx.args.env, ctx.args.stack_name)
    view = status_job.status(request, ctx.clients(), ctx.reporter)
    if view.problems:
        raise status_job.Unhealthy(f"{view.stack} is not healthy: {'; '.join(view.problems)}")
    return 0


COMMAND = Command("status", "operating", "one screen of the environment's health; exit 1 when not healthy", run, STACK)
