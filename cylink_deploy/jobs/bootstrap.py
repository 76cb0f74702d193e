"""The bootstrap job (administrator, once per account and region): artifacts bucket, service role,
the deployer policy, and optionally the GitHub OIDC provider and deployer role."""

from __future__ import annotations

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
    reporter.step(
        f"Bootstrapped account {account} in {clients.region}: bucket {bucket}, service role {role_arn} (policies and "
        f"the stack roles' permissions boundary {boot.PERMISSIONS_BOUNDARY} updated)"
    )
    reporter.detail("Deployers now need only this policy (see README 'Deployer permissions'):")
    reporter.detail(boot.as_json(boot.deployer_policy(account, clients.region, bucket)))
    extra: dict[str, Any] = {"bucket": bucket, "serviceRoleArn": role_arn}
    if request.github:
        extra.update(_bootstrap_github(clients, account, bucket, request.github, reporter))
    result = Result(Status.BOOTSTRAPPED, extra=extra)
    reporter.result(result.document())
    return result


def _bootstrap_github(
    clients: aws.Clients, account: str, bucket: str, trust: github_oidc.GitHubTrust, reporter: Reporter
) -> dict[str, Any]:
    """The OIDC provider and the deployer role that trusts exactly ``trust``."""
    provider, created = github_oidc.ensure_provider(clients.iam, account)
    reporter.step(f"{'Created' if created else 'Reusing'} the GitHub OIDC provider {provider}")
    role, created = github_oidc.ensure_role(clients.iam, account, clients.region, bucket, trust)
    reporter.step(f"{'Created' if created else 'Updated'} role {role} with the deployer policy; it trusts only:")
    for subject in trust.subjects():
        reporter.detail(subject)
    reporter.detail(f"Set the repository variable AWS_DEPLOY_ROLE_ARN={role} (see README 'GitHub Actions')")
    return {"githubOidcProviderArn": provider, "githubRoleArn": role, "githubSubjects": trust.subjects()}
