"""`deploy.py bootstrap --github-repo`: the GitHub OIDC provider and the deployer role that trusts only the
chosen refs and environments of one repository — against the emulator (moto's IAM), with botocore's
Stubber for what the emulator lacks (adding an audience to an existing provider), and through the CLI."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy import aws
from cylink_deploy.cfn import bootstrap, github_oidc
from cylink_deploy.cfn.github_oidc import GitHubTrust
from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.errors import BadInput
from cylink_deploy.jobs import bootstrap as bootstrap_job
from cylink_deploy.jobs.bootstrap import BootstrapRequest
from cylink_deploy.jobs.model import Status

from .recording import RecordingReporter
from .contract import parsed

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"  # moto's account
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def own_emulator(fresh_emulator):
    """The shared emulator, emptied for this module: the provider and the role are account-wide names."""
    return fresh_emulator


@pytest.fixture
def clients(own_emulator):
    return aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), own_emulator.endpoint)


def _trust_of(iam, role=github_oidc.ROLE_NAME):
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def _policy_of(iam, role):
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert (
        names == [f"cylink-deployer-{REGION}"]
        and iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    )
    document = iam.get_role_policy(RoleName=role, PolicyName=names[0])["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def _subjects(statement):
    return statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]


@pytest.mark.slow
def test_bootstrap_creates_the_provider_a_plan_role_and_one_role_per_environment(clients):
    """Issue 24 finding 2: the plan job's role trusts only the chosen refs and cannot execute; each environment's
    role trusts only that environment's jobs and reaches only its stack."""
    reporter = RecordingReporter()
    trust = GitHubTrust("cylink/infra", ("refs/heads/main",), ("prod", "staging"))
    result = bootstrap_job.bootstrap(clients, reporter, BootstrapRequest(trust))

    assert result.status is Status.BOOTSTRAPPED
    iam = clients.iam
    assert [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]] == [PROVIDER]
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert provider["Url"].removeprefix("https://") == "token.actions.githubusercontent.com"

    (statement,) = _trust_of(iam, github_oidc.PLAN_ROLE_NAME)["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] in ("sts:AssumeRoleWithWebIdentity", ["sts:AssumeRoleWithWebIdentity"])
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": ["repo:cylink/infra:ref:refs/heads/main"],
        }
    }
    bucket = result.extra["bucket"]
    assert _policy_of(iam, github_oidc.PLAN_ROLE_NAME) == json.loads(
        bootstrap.deployer_policy(ACCOUNT, REGION, bucket, plan=True).to_json()
    )
    for environment in ("prod", "staging"):
        role = github_oidc.deploy_role_name(environment)
        (statement,) = _trust_of(iam, role)["Statement"]
        assert _subjects(statement) == [f"repo:cylink/infra:environment:{environment}"]
        assert _policy_of(iam, role) == json.loads(
            bootstrap.deployer_policy(ACCOUNT, REGION, bucket, environment=environment).to_json()
        )

    document = reporter.documents[-1]
    assert document["githubPlanRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/github-actions-cylink-plan"
    assert document["githubDeployRoleArns"] == {
        env: f"arn:aws:iam::{ACCOUNT}:role/github-actions-cylink-deployer-{env}" for env in ("prod", "staging")
    }
    assert document["githubOidcProviderArn"] == PROVIDER
    assert document["githubSubjects"] == [
        "repo:cylink/infra:ref:refs/heads/main",
        "repo:cylink/infra:environment:prod",
        "repo:cylink/infra:environment:staging",
    ]
    details = reporter.of("detail")
    assert any(d.startswith("repository variable AWS_PLAN_ROLE_ARN=") for d in details)
    for environment in ("prod", "staging"):
        assert any(d.startswith(f"environment {environment}: variable AWS_DEPLOY_ROLE_ARN=") for d in details)
        assert any(
            d.startswith(f"environment {environment}: required reviewers") and "refs/heads/main" in d for d in details
        )
    assert any(d.startswith("protect refs/heads/main: a branch ruleset") for d in details)

    # again, with another choice: the provider is reused (not duplicated), a trust is replaced, not widened
    reporter = RecordingReporter()
    bootstrap_job.bootstrap(
        clients, reporter, BootstrapRequest(GitHubTrust("cylink/infra", ("refs/tags/v1.0.0",), ("staging",)))
    )
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
    assert any(s.startswith("Reusing the GitHub OIDC provider") for s in reporter.of("step"))
    (statement,) = _trust_of(iam, github_oidc.PLAN_ROLE_NAME)["Statement"]
    assert _subjects(statement) == ["repo:cylink/infra:ref:refs/tags/v1.0.0"]


def test_only_an_environment_role_when_no_ref_is_given(own_emulator):
    """No --github-ref: no plan role (and none made trusting nothing); the environment's role as asked."""
    trust = GitHubTrust("cylink/other", (), ("dev",))
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:
        role = github_oidc.deploy_role_name("dev")
        stub.add_client_error("get_role", "NoSuchEntity", "no", 404, {"RoleName": role})
        stub.add_response(
            "create_role",
            {
                "Role": {
                    "Path": "/",
                    "RoleName": role,
                    "RoleId": "AROAEXAMPLEEXAMPLE1",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                    "CreateDate": "2026-01-01T00:00:00Z",
                }
            },
        )
        stub.add_response("put_role_policy", {})
        (made,) = github_oidc.ensure_roles(iam, ACCOUNT, REGION, "bucket", trust)
        stub.assert_no_pending_responses()
    assert (made.name, made.environment, made.subjects) == (role, "dev", ("repo:cylink/other:environment:dev",))


def test_a_tag_pattern_uses_string_like_and_keeps_the_other_subjects_exact():
    doc = json.loads(
        github_oidc.trust_policy(
            ACCOUNT, GitHubTrust("o/r", ("refs/tags/v*", "refs/heads/main")).plan_subjects()
        ).to_json()
    )
    condition = doc["Statement"][0]["Condition"]
    assert condition == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {
            "token.actions.githubusercontent.com:sub": ["repo:o/r:ref:refs/heads/main", "repo:o/r:ref:refs/tags/v*"]
        },
    }


def test_an_existing_provider_without_the_sts_audience_gets_it_added():
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:
        stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER}]})
        stub.add_response(
            "get_open_id_connect_provider",
            {"ClientIDList": ["some-other-audience"], "Url": "token.actions.githubusercontent.com"},
            {"OpenIDConnectProviderArn": PROVIDER},
        )
        stub.add_response(
            "add_client_id_to_open_id_connect_provider",
            {},
            {"OpenIDConnectProviderArn": PROVIDER, "ClientID": "sts.amazonaws.com"},
        )
        assert github_oidc.ensure_provider(iam, ACCOUNT) == (PROVIDER, False)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("repo", "refs", "environments", "says"),
    [
        ("cylink", ("refs/heads/main",), (), "use OWNER/REPO"),
        ("cylink/infra", (), (), "needs at least one --github-ref"),
        ("cylink/infra", ("main",), (), "use a full ref"),
        ("cylink/infra", ("refs/heads/*",), (), "a wildcard is allowed only in a tag pattern"),
        ("cylink/infra", ("refs/heads/release-*",), (), "a wildcard is allowed only in a tag pattern"),
        ("cylink/infra", (), ("prod:*",), "--github-environment"),
        ("cyl*nk/infra", ("refs/heads/main",), (), "use OWNER/REPO"),
    ],
)
def test_a_trust_wider_than_meant_or_malformed_is_refused_in_one_line(repo, refs, environments, says):
    with pytest.raises(BadInput, match=says.replace("*", r"\*")) as caught:
        GitHubTrust(repo, refs, environments)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_the_cli_passes_the_github_flags_and_refuses_them_without_a_repository(own_emulator, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", own_emulator.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    out = io.StringIO()
    code = main(
        [
            "bootstrap",
            "--json",
            "--github-repo",
            "cylink/infra",
            "--github-ref",
            "refs/tags/v*",
            "--github-environment",
            "prod",
        ],
        out=out,
    )
    assert code == 0
    assert parsed("bootstrap", out.getvalue())["githubSubjects"] == [
        "repo:cylink/infra:ref:refs/tags/v*",
        "repo:cylink/infra:environment:prod",
    ]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: bad input must stop before any call
    assert main(["bootstrap", "--github-environment", "prod"], out=io.StringIO()) == 2
    assert main(["bootstrap", "--github-repo", "cylink/infra"], out=io.StringIO()) == 2
