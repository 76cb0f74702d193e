"""``delete``: delete the environment's stack after showing what deletion retains."""

from __future__ import annotations

from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.jobs import delete as delete_job
from cylink_deploy.jobs.model import DeleteRequest


def run(ctx: Context) -> int:
    delete_job.delete(DeleteRequest(ctx.args.env, ctx.args.stack_name), ctx.clients(), ctx.reporter, ctx.sleep)
    return 0


COMMAND = Command(
    "delete", "deploying", "delete the stack after showing what is retained", run, FOLLOWS, asks=lambda a: True
)
