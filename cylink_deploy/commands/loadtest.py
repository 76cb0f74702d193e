"""``loadtest``: WebSocket users against the environment's own endpoint (or ``--url``), with Locust."""

from __future__ import annotations

import argparse
from pathlib import Path

from cylink_deploy.commands.base import Command, Context
from cylink_deploy.ops import loadtest as job


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=int, required=True, help=f"concurrent WebSocket users (1..{job.MAX_USERS})")
    p.add_argument("--ramp", default="60s", metavar="TIME", help="time to connect them all (default 60s)")
    p.add_argument("--hold", default="5m", metavar="TIME", help="then hold them connected this long (default 5m)")
    p.add_argument("--protocol", choices=tuple(job.PATHS), default="socketio", help="Socket.IO (default) or plain")
    p.add_argument("--path", help="WebSocket path (default /socket.io/ or /ws by --protocol)")
    p.add_argument(
        "--url",
        action="append",
        default=[],
        help="target this base URL instead of the stack's ApiUrl (repeatable: users alternate between them)",
    )
    p.add_argument("--workers", type=int, default=0, help="local Locust worker processes (0: one process)")
    p.add_argument("--remote-workers", type=int, default=0, help="also wait for this many workers on other machines")
    p.add_argument("--every", type=float, default=5.0, metavar="SECONDS", help="seconds between a user's messages")
    p.add_argument("--room-size", type=int, default=10, help="users per room (default 10)")
    p.add_argument("--interval", type=float, default=10.0, metavar="SECONDS", help="seconds between progress lines")
    p.add_argument("--report-dir", type=Path, help="where the HTML report goes (default build/loadtest)")
    p.add_argument("--allow-prod", action="store_true", help="allow a load test on prod")


def run(ctx: Context) -> int:
    a = ctx.args
    request = job.LoadTestRequest(
        a.env,
        a.users,
        a.ramp,
        a.hold,
        a.protocol,
        a.path,
        tuple(a.url),
        a.workers,
        a.remote_workers,
        a.allow_prod,
        a.every,
        a.room_size,
        a.interval,
        a.report_dir or ctx.project.check_build_dir() / "loadtest",
        a.stack_name,
    )
    job.loadtest(request, lambda: ctx.clients().cloudformation, ctx.reporter)
    return 0


COMMAND = Command(
    "loadtest",
    "operating",
    "WebSocket users (Locust) against the environment's endpoint: connects, round trip, fan-out across tasks",
    run,
    ("target", "aws", "json"),
    arguments,
)
