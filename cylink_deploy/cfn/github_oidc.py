"""GitHub Actions deploys without long-lived keys: the account's OIDC provider for GitHub and a role that
trusts only one repository's chosen branches, tags and environments (``deploy.py bootstrap --github-repo``).

GitHub signs a token per job whose ``sub`` names the repository and either the ref (a job without an
environment) or the environment (a job with one, e.g. the approved ``prod`` execute job); AWS lets the job
assume the role only if ``aud`` is ``sts.amazonaws.com`` and ``sub`` is one of those named here. The role
carries exactly the deployer policy (``bootstrap.deployer_policy``), nothing more.

The role is named outside the ``cylink-*`` namespace on purpose: the CloudFormation service role may manage
``cylink-*`` roles, and no stack should be able to rewrite who may deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from awacs import sts
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from botocore.exceptions import ClientError

from cylink_deploy.cfn import bootstrap
from cylink_deploy.errors import BadInput

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

ISSUER_HOST = "token.actions.githubusercontent.com"
ISSUER_URL = f"https://{ISSUER_HOST}"
AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials asks GitHub for
ROLE_NAME = "github-actions-cylink-deployer"
MAX_SESSION_SECONDS = 3600  # a deploy of every nested stack fits; the token is useless an hour later

REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EXACT_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9_./-]+$")
TAG_PATTERN = re.compile(r"^refs/tags/[A-Za-z0-9_./-]*\*[A-Za-z0-9_./*-]*$")
ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


def policy_name(region: str) -> str:
    """One inline deployer policy per region: the stack and bucket ARNs in it are regional."""
    return f"cylink-deployer-{region}"


@dataclass(frozen=True)
class GitHubTrust:
    """Which GitHub Actions jobs may deploy: one repository, its chosen refs and environments."""

    repo: str
    refs: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Bad input is one line before any AWS call; a trust that admits more than was meant is refused."""
        if not REPO.fullmatch(self.repo):
            raise BadInput(
                f"--github-repo {self.repo!r}: use OWNER/REPO as in the repository's URL (e.g. cylink/infra)"
            )
        if not self.refs and not self.environments:
            raise BadInput(
                "--github-repo needs at least one --github-ref (e.g. refs/heads/main) or --github-environment (e.g. "
                "prod)"
            )
        for ref in self.refs:
            if "*" in ref and not TAG_PATTERN.fullmatch(ref):
                raise BadInput(
                    f"--github-ref {ref!r}: a wildcard is allowed only in a tag pattern such as refs/tags/v* (a "
                    "branch pattern would let any branch deploy)"
                )
            if "*" not in ref and not EXACT_REF.fullmatch(ref):
                raise BadInput(f"--github-ref {ref!r}: use a full ref such as refs/heads/main or refs/tags/v1.2.0")
        for name in self.environments:
            if not ENVIRONMENT.fullmatch(name):
                raise BadInput(
                    f"--github-environment {name!r}: use the environment's name as in the repository settings "
                    "(letters, digits, . _ -)"
                )

    def subjects(self) -> list[str]:
        """The ``sub`` claims GitHub puts in the token of the jobs this trust admits, in a stable order."""
        return [f"repo:{self.repo}:ref:{ref}" for ref in sorted(set(self.refs))] + [
            f"repo:{self.repo}:environment:{name}" for name in sorted(set(self.environments))
        ]


def provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{ISSUER_HOST}"


def trust_policy(account: str, trust: GitHubTrust) -> PolicyDocument:
    """Only GitHub's tokens for this audience and exactly these subjects may assume the role.

    Exact subjects use StringEquals. A tag pattern needs StringLike; then every subject goes under
    StringLike (two operators on one key would have to hold at once), which is still exact for the
    subjects without a wildcard: no other character is special in it and none is allowed in the names.
    """
    subjects = trust.subjects()
    audience, subject = f"{ISSUER_HOST}:aud", f"{ISSUER_HOST}:sub"
    # one element per operator: awacs keeps only the last of two elements with the same operator
    if any("*" in s for s in subjects):
        conditions = [StringEquals(audience, AUDIENCE), StringLike(subject, subjects)]
    else:
        conditions = [StringEquals({audience: AUDIENCE, subject: subjects})]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="GitHubActionsOfThisRepository",
                Effect=Allow,
                Principal=Principal("Federated", provider_arn(account)),
                Action=[sts.AssumeRoleWithWebIdentity],
                Condition=Condition(conditions),
            )
        ],
    )


def ensure_provider(iam_client: IAMClient, account: str) -> tuple[str, bool]:
    """The account's GitHub OIDC provider, created when missing, reused (audience added) when there.
    Returns (arn, created). No thumbprint: AWS verifies GitHub's certificate through its own CA store."""
    arn = provider_arn(account)
    listed = {p["Arn"] for p in iam_client.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])}
    if arn in listed:
        if AUDIENCE not in iam_client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get(
            "ClientIDList", []
        ):
            iam_client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=AUDIENCE)
        return arn, False
    created = iam_client.create_open_id_connect_provider(
        Url=ISSUER_URL, ClientIDList=[AUDIENCE], Tags=[{"Key": "Project", "Value": "Cylink"}]
    )["OpenIDConnectProviderArn"]
    return created, True


def ensure_role(
    iam_client: IAMClient, account: str, region: str, artifacts_bucket: str, trust: GitHubTrust
) -> tuple[str, bool]:
    """The deployer role for GitHub Actions: created, or its trust replaced by exactly ``trust``; the
    deployer policy of this region (re)written inline. Returns (arn, created)."""
    document = trust_policy(account, trust).to_json()
    try:
        arn = iam_client.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        iam_client.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=document)
        created = False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        arn = iam_client.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=document,
            Description=f"GitHub Actions of {trust.repo} deploy the Cylink stacks (created by deploy.py bootstrap)",
            MaxSessionDuration=MAX_SESSION_SECONDS,
            Tags=[{"Key": "Project", "Value": "Cylink"}],
        )["Role"]["Arn"]
        created = True
    iam_client.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName=policy_name(region),
        PolicyDocument=bootstrap.deployer_policy(account, region, artifacts_bucket).to_json(),
    )
    return arn, created
