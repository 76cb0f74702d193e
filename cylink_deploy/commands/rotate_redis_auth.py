"""``rotate-redis-auth``: a new Redis AUTH token without downtime (ROTATE, secret, backend redeploy, SET)."""

from __future__ import annotations

from cylink_deploy.commands.base import FOLLOWS, Command, Context
from cylink_deploy.ops import rotation


def run(ctx: Context) -> int:
    request = rotation.RotateRequest(ctx.args.env, ctx.args.stack_name)
    rotation.rotate_redis_auth(request, ctx.clients(), ctx.reporter, ctx.sleep)
    return 0


COMMAND = Command(
    "rotate-redis-auth",
    "operating",
    "new Redis AUTH token without downtime (ROTATE, secret, backend redeploy, SET); see docs/security.md",
    run,
    FOLLOWS,
    asks=lambda a: True,
)
