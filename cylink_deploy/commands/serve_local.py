"""``serve-local``: the AWS emulator in the foreground until Ctrl-C, for the AWS CLI and deploy.py alike."""

from __future__ import annotations

import argparse

from cylink_deploy import aws
from cylink_deploy.commands.base import Command, Context


def _port(value: str) -> int:
    if not value.isdigit() or not 1024 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value}: use a free port between 1024 and 65535 (default 4566)")
    return int(value)


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=_port, default=None, help="port (default 4566)")


def run(ctx: Context) -> int:
    from cylink_deploy.emulator import DEFAULT_PORT, serve_forever

    reporter = ctx.reporter

    def announce(endpoint: str) -> None:
        reporter.step(f"AWS emulator listening on {endpoint} (Ctrl-C to stop). In another shell:")
        reporter.line(
            f"    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            f"AWS_DEFAULT_REGION={aws.DEFAULT_REGION}"
        )
        reporter.line("    python deploy.py --env dev --yes --image-tag 1.0.0")
        reporter.line(f"    aws --endpoint-url {endpoint} cloudformation describe-stacks")

    serve_forever(ctx.args.port or DEFAULT_PORT, announce)
    return 0


COMMAND = Command("serve-local", "local", "run the AWS emulator in the foreground until Ctrl-C", run, (), arguments)
