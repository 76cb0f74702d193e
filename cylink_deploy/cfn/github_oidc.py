"""GitHub Actions deploys without long-lived keys: the account's OIDC provider for GitHub and one role per job
kind, each trusting only what that job's token says (``deploy.py bootstrap --github-repo``).

GitHub signs a token per job whose ``sub`` names the repository and either the ref (a job without an
environment: the ``plan`` job) or the environment (a job with one: the approved ``execute`` job). AWS lets the
job assume a role only if ``aud`` is ``sts.amazonaws.com`` and ``sub`` is one that role names (issue 24,
finding 2: nobody who can push a branch can own the account):

- ``github-actions-cylink-plan`` trusts the chosen refs (``repo:O/R:ref:refs/heads/main``, a tag pattern) and
  carries the deployer policy without anything that executes, deletes or changes a stack or a service
  (``bootstrap.deployer_policy(plan=True)``): it creates change sets for review, nothing more;
- ``github-actions-cylink-deployer-<ENV>``, one per environment, trusts only ``repo:O/R:environment:ENV`` (the
  job GitHub runs after that environment's protection rules, e.g. required reviewers, passed) and carries the
  deployer policy narrowed to that environment's stack ``cylink-ENV`` (``deployer_policy(environment=ENV)``).

``protections`` says what to set on GitHub so that those subjects mean what they should: a ref is only as
trusted as who may push to it, an environment only as its reviewers. The roles are named outside the
``cylink-*`` namespace on purpose, and the service role's policy denies every write to ``github-actions-cylink-*``:
no stack can rewrite who may deploy.
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
ROLE_NAME = "github-actions-cylink-deployer"  # + "-<ENV>": one per environment
PLAN_ROLE_NAME = "github-actions-cylink-plan"
# The longest session a role grants (IAM's default is 3600 s; at most 43200:
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html, MaxSessionDuration). A first prod deploy
# (two NAT gateways, a Multi-AZ Redis, certificate validation, ECS bake time) outlasts one hour, and an expired
# session fails the polling while the stack goes on (issue 21 finding 9). The execute job asks for exactly this
# (role-duration-seconds in .github/workflows/deploy.yml, which cannot exceed it: aws-actions/configure-aws-credentials
# docs/ci.md) and its timeout-minutes fits inside; the plan job keeps the action's 1-hour default.
MAX_SESSION_SECONDS = 4 * 3600

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
        return self.plan_subjects() + [self.environment_subject(name) for name in sorted(set(self.environments))]

    def plan_subjects(self) -> list[str]:
        """The plan job's tokens: a job without an environment, on one of the chosen refs."""
        return [f"repo:{self.repo}:ref:{ref}" for ref in sorted(set(self.refs))]

    def environment_subject(self, name: str) -> str:
        """The token of a job that runs in the GitHub environment ``name``."""
        return f"repo:{self.repo}:environment:{name}"


def deploy_role_name(environment: str) -> str:
    return f"{ROLE_NAME}-{environment}"


@dataclass(frozen=True)
class Role:
    """One GitHub Actions role as bootstrap left it."""

    name: str
    arn: str
    created: bool
    subjects: tuple[str, ...]
    environment: str | None = None  # None: the plan role


def provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{ISSUER_HOST}"


def trust_policy(account: str, subjects: list[str]) -> PolicyDocument:
    """Only GitHub's tokens for this audience and exactly these subjects may assume the role.

    Exact subjects use StringEquals. A tag pattern needs StringLike; then every subject goes under
    StringLike (two operators on one key would have to hold at once), which is still exact for the
    subjects without a wildcard: no other character is special in it and none is allowed in the names.
    """
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


def ensure_roles(
    iam_client: IAMClient, account: str, region: str, artifacts_bucket: str, trust: GitHubTrust
) -> list[Role]:
    """The plan role (when refs are given) and one deployer role per environment, each trusting exactly its
    subjects and carrying its policy of this region. Returns them, the plan role first."""
    roles = []
    if trust.refs:
        subjects = trust.plan_subjects()
        policy = bootstrap.deployer_policy(account, region, artifacts_bucket, plan=True)
        description = f"GitHub Actions plan jobs of {trust.repo}: create Cylink change sets, never execute them"
        arn, created = _ensure_role(iam_client, account, region, PLAN_ROLE_NAME, subjects, policy, description)
        roles.append(Role(PLAN_ROLE_NAME, arn, created, tuple(subjects)))
    for environment in sorted(set(trust.environments)):
        name, subjects = deploy_role_name(environment), [trust.environment_subject(environment)]
        policy = bootstrap.deployer_policy(account, region, artifacts_bucket, environment=environment)
        description = f"GitHub Actions of {trust.repo} in environment {environment} deploy stack cylink-{environment}"
        arn, created = _ensure_role(iam_client, account, region, name, subjects, policy, description)
        roles.append(Role(name, arn, created, tuple(subjects), environment))
    return roles


def _ensure_role(
    iam_client: IAMClient,
    account: str,
    region: str,
    name: str,
    subjects: list[str],
    policy: PolicyDocument,
    description: str,
) -> tuple[str, bool]:
    """A role created, or its trust replaced by exactly ``subjects``; ``policy`` (re)written inline as this
    region's. Returns (arn, created)."""
    document = trust_policy(account, subjects).to_json()
    try:
        arn = iam_client.get_role(RoleName=name)["Role"]["Arn"]
        iam_client.update_assume_role_policy(RoleName=name, PolicyDocument=document)
        iam_client.update_role(RoleName=name, MaxSessionDuration=MAX_SESSION_SECONDS)  # roles made with 1 h
        created = False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        arn = iam_client.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=document,
            Description=f"{description} (created by deploy.py bootstrap)"[:1000],
            MaxSessionDuration=MAX_SESSION_SECONDS,
            Tags=[{"Key": "Project", "Value": "Cylink"}],
        )["Role"]["Arn"]
        created = True
    iam_client.put_role_policy(RoleName=name, PolicyName=policy_name(region), PolicyDocument=policy.to_json())
    return arn, created


def protections(trust: GitHubTrust, role: Role) -> list[str]:
    """What to set on GitHub so that the role's subjects admit only the jobs meant: a ref is as trusted as who
    may push to it, an environment as its reviewers and the refs it accepts."""
    refs = ", ".join(sorted(set(trust.refs))) or "the release refs"
    if role.environment is None:
        return [
            f"repository variable AWS_PLAN_ROLE_ARN={role.arn} (the plan job's role for environments without a pin; "
            "a pinned environment's plan job assumes this role name in its pinned account)",
            f"protect {refs}: a branch ruleset requiring a reviewed pull request, no force-push or deletion; a tag "
            "ruleset letting only maintainers create or move release tags",
        ]
    return [
        f"environment {role.environment}: variable AWS_DEPLOY_ROLE_ARN={role.arn}",
        f"environment {role.environment}: required reviewers (at least one, not the person who started the run: "
        "'Prevent self-review'), and deployment branches and tags limited to " + refs,
    ]
