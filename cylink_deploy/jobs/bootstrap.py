"""The bootstrap job (administrator, once per account and region): artifacts bucket, service role,
the deployer policy, and optionally the GitHub OIDC provider and deployer role."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from cylink_deploy import aws
from cylink_deploy.cfn import bootstrap as boot
from cylink_deploy.cfn import github_oidc
from cylink_deploy.jobs.deploy import ensure_bootstrap
from cylink_deploy.jobs.model import Result, Status
from cylink_deploy.jobs.reporter import Reporter


@dataclass(frozen=True)
class BootstrapRequest:
    """What a bootstrap sets up besides the bucket and the service role: with ``github``, the GitHub OIDC
    provider and the role GitHub Actions of that repository deploy with (no long-lived keys)."""

    github: github_oidc.GitHubTrust | None = None


def bootstrap(clients: aws.Clients, reporter: Reporter, request: BootstrapRequest | None = None) -> Result:
    """(Administrator, once per account and region) the artifacts bucket and the service role."""
    request = request or BootstrapRequest()
    account = aws.account_id(clients.sts)
    bucket, role_arn = ensure_bootstrap(clients, account, reporter, update=True)
    linked = boot.ensure_service_linked_roles(clients.iam)
    created = [s for s, new in linked.items() if new]
    reporter.step(
        "Service-linked roles: "
        + (f"created for {', '.join(created)}" if created else "all there")
        + f" ({len(linked)} needed: {', '.join(linked)})"
    )
    reporter.step(
        f"Bootstrapped account {account} in {clients.region}: bucket {bucket}, service role {role_arn} (policies and "
        f"the stack roles' permissions boundary {boot.PERMISSIONS_BOUNDARY} updated)"
    )
    reporter.detail("Deployers now need only this policy (see docs/security.md, 'Deployer permissions'):")
    policy = boot.as_json(boot.deployer_policy(account, clients.region, bucket))
    reporter.detail(policy)
    extra: dict[str, Any] = {
        "bucket": bucket,
        "serviceRoleArn": role_arn,
        "serviceLinkedRolesCreated": created,
        "permissionsBoundaryArn": boot.boundary_arn(account),
        "deployerPolicy": json.loads(policy),
        "installedPolicies": boot.installed_policies(account, bucket),
    }
    if request.github:
        extra.update(_bootstrap_github(clients, account, bucket, request.github, reporter))
    result = Result(Status.BOOTSTRAPPED, extra=extra)
    reporter.result(result.document())
    return result


def pin_commands(roles: list[github_oidc.Role], account: str, region: str) -> dict[str, str]:
    """Per environment role bootstrapped here, the command that pins the environment to this account and region:
    with several accounts, where each environment lives is written down once, in the repository."""
    return {
        r.environment: shlex.join(
            ["python", "deploy.py", "pin", "--env", r.environment, "--account", account, "--region", region]
        )
        for r in roles
        if r.environment
    }


def _bootstrap_github(
    clients: aws.Clients, account: str, bucket: str, trust: github_oidc.GitHubTrust, reporter: Reporter
) -> dict[str, object]:
    """The OIDC provider, the plan role and one deployer role per environment, each trusting exactly its jobs;
    then what to set on GitHub for each (issue 24 finding 2)."""
    provider, created = github_oidc.ensure_provider(clients.iam, account)
    reporter.step(f"{'Created' if created else 'Reusing'} the GitHub OIDC provider {provider}")
    roles = github_oidc.ensure_roles(clients.iam, account, clients.region, bucket, trust)
    for role in roles:
        does = (
            "creates change sets, never executes them"
            if role.environment is None
            else f"deploys only stack cylink-{role.environment}"
        )
        reporter.step(f"{'Created' if role.created else 'Updated'} role {role.arn} ({does}); it trusts only:")
        for subject in role.subjects:
            reporter.detail(subject)
    reporter.step("Set on GitHub (see docs/ci.md, 'GitHub Actions'):")
    for role in roles:
        for line in github_oidc.protections(trust, role):
            reporter.detail(line)
    pins = pin_commands(roles, account, clients.region)
    if pins:
        reporter.step(
            f"Pin each environment to account {account} in {clients.region} and commit params/pins/ (every command "
            "then refuses other accounts and regions; the deploy workflow's plan job assumes the plan role of the "
            "pinned account):"
        )
        for command in pins.values():
            reporter.detail(command)
    plan = next((r.arn for r in roles if r.environment is None), None)
    return {
        "pinCommands": pins,
        "githubOidcProviderArn": provider,
        "githubPlanRoleArn": plan,
        "githubDeployRoleArns": {r.environment: r.arn for r in roles if r.environment},
        "githubSubjects": trust.subjects(),
        "githubProtections": [line for role in roles for line in github_oidc.protections(trust, role)],
    }
