"""``pin``: write or show which AWS account and region an environment lives in (``params/pins/ENV.yaml``), so
nobody hand-edits account IDs; every command on that environment then refuses other credentials or regions."""

from __future__ import annotations

import argparse
import os

from cylink_deploy import aws
from cylink_deploy.cfn import github_oidc
from cylink_deploy.commands.base import Command, Context
from cylink_deploy.errors import BadInput
from cylink_deploy.preflight import pins


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="the environment (params/ENV.yaml) to pin or show")
    p.add_argument("--account", metavar="ID", help="pin ENV to this AWS account (12 digits); without it: show the pin")
    p.add_argument(
        "--region",
        help=f"with --account: the region (default: AWS_REGION, AWS_DEFAULT_REGION, {aws.DEFAULT_REGION})",
    )
    p.add_argument("--json", action="store_true", help="print the pin as JSON on stdout")
    p.add_argument(
        "--github-output",
        action="store_true",
        help="print account=, region= and plan-role-arn= lines for $GITHUB_OUTPUT (empty values without a pin)",
    )


def github_output(pin: pins.Pin | None) -> str:
    """What the deploy workflow's plan job needs to reach the environment's account: its region and the plan
    role bootstrap created there (the role name is the same in every account)."""
    values = {"account": "", "region": "", "plan-role-arn": ""}
    if pin is not None:
        arn = f"arn:aws:iam::{pin.account}:role/{github_oidc.PLAN_ROLE_NAME}"
        values = {"account": pin.account, "region": pin.region, "plan-role-arn": arn}
    return "".join(f"{key}={value}\n" for key, value in values.items())


def run(ctx: Context) -> int:
    a, params_dir = ctx.args, ctx.project.params_dir
    if a.github_output and (a.account is not None or a.json):
        raise BadInput("--github-output only shows the pin (its lines go to $GITHUB_OUTPUT): drop --account and --json")
    if a.account is None:
        if a.region is not None:
            raise BadInput("--region applies with --account ID: pin --env ENV --account ID --region R")
        pin = pins.load(params_dir, a.env)
    else:
        pin = pins.check(a.env, a.account, aws.choose_region(a.region, os.environ, None))
        path = pins.write(params_dir, pin)
        ctx.reporter.step(f"Pinned {pin.env} to account {pin.account} in {pin.region}: {path} (commit it)")
    if a.github_output:
        print(github_output(pin), end="", file=ctx.out)
        return 0
    if pin is None:
        ctx.reporter.step(f"{a.env} is not pinned: any account and region can deploy it")
        if warning := pins.unpinned(a.env):
            ctx.reporter.warn(warning)
    elif a.account is None:
        ctx.reporter.step(f"{pin.env} is pinned to account {pin.account} in {pin.region}")
    ctx.reporter.result(pin.document() if pin else {"environment": a.env, "account": None, "region": None})
    return 0


COMMAND = Command(
    "pin",
    "local",
    "pin an environment to its AWS account and region (params/pins/ENV.yaml), or show the pin",
    run,
    (),
    arguments,
)
