"""``bootstrap`` (administrator, once per account and region): artifacts bucket, service role, deployer
policy; with ``--github-repo`` also the GitHub OIDC provider, the plan role and one deployer role per
environment."""

from __future__ import annotations

import argparse

from cylink_deploy.cfn import github_oidc
from cylink_deploy.commands.base import Command, Context
from cylink_deploy.errors import BadInput
from cylink_deploy.jobs import bootstrap as bootstrap_job


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--github-repo",
        metavar="OWNER/REPO",
        help="also create the GitHub OIDC provider and roles that trust only this repository's jobs",
    )
    p.add_argument(
        "--github-ref",
        action="append",
        default=[],
        metavar="REF",
        help="with --github-repo: a ref whose plan jobs may create change sets (never execute them), e.g. "
        "refs/heads/main or refs/tags/v* (repeatable)",
    )
    p.add_argument(
        "--github-environment",
        action="append",
        default=[],
        metavar="NAME",
        help="with --github-repo: a GitHub environment whose jobs may deploy its stack cylink-NAME, with a role "
        "of its own, e.g. prod (repeatable)",
    )


def request(args: argparse.Namespace) -> bootstrap_job.BootstrapRequest:
    """``--github-*`` flags into the request; a ref or environment without the repository is an error."""
    if args.github_repo == "":  # an unset CI variable: never a plain bootstrap in its place
        raise BadInput("--github-repo is empty (an unset CI variable?): give OWNER/REPO, or leave the flag out")
    if not args.github_repo:
        if args.github_ref or args.github_environment:
            raise BadInput("--github-ref and --github-environment need --github-repo OWNER/REPO")
        return bootstrap_job.BootstrapRequest()
    trust = github_oidc.GitHubTrust(args.github_repo, tuple(args.github_ref), tuple(args.github_environment))
    return bootstrap_job.BootstrapRequest(trust)


def run(ctx: Context) -> int:
    wanted = request(ctx.args)  # bad input stops here, before any AWS call
    bootstrap_job.bootstrap(ctx.clients(), ctx.reporter, wanted)
    return 0


COMMAND = Command(
    "bootstrap",
    "account",
    "(administrator, once per account/region) artifacts bucket, service role, deployer policy",
    run,
    ("aws", "json"),
    arguments,
)
