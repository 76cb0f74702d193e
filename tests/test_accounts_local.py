"""Issue 25 on the emulator: two accounts, one tool. moto serves each account apart; credentials from STS
AssumeRole belong to the role's account (moto docs, "Multi-Account support":
https://docs.getmoto.org/en/latest/docs/multi_account.html), as they do on AWS. Dev lives in the emulator's
default account, prod in a second one; the project directory holds only params/ (as docs/commands.md allows)."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.preflight import pins

from . import awscalls
from .conftest import REPO, credentials
from .contract import command_of, parsed

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_iam import IAMClient

REGION = "ap-northeast-1"
HOME = "123456789012"  # the emulator's default account (its fake credentials)
PROD = "222233334444"  # reached through STS AssumeRole


def assumed_credentials(endpoint: str, account: str) -> dict[str, str]:
    """Keys of a session in ``account``, as an administrator of that account would have them."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint, **credentials(FAKE_CREDENTIALS))
    role = f"arn:aws:iam::{account}:role/admin"
    got = sts.assume_role(RoleArn=role, RoleSessionName="cylink-test")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": got["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": got["SecretAccessKey"],
        "AWS_SESSION_TOKEN": got["SessionToken"],
    }


class Accounts:
    """Switches this process's credentials between the two accounts, as a user switches AWS_PROFILE."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
        self.monkeypatch, self.endpoint = monkeypatch, endpoint
        self.keys = {
            HOME: {
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            },
            PROD: assumed_credentials(endpoint, PROD),
        }

    def use(self, account: str) -> None:
        self.monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        for name, value in self.keys[account].items():
            self.monkeypatch.setenv(name, value)

    def session(self, account: str) -> boto3.Session:
        keys = self.keys[account]
        return boto3.Session(
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
            region_name=REGION,
        )

    def cloudformation(self, account: str) -> CloudFormationClient:
        return self.session(account).client("cloudformation", endpoint_url=self.endpoint)

    def iam(self, account: str) -> IAMClient:
        return self.session(account).client("iam", endpoint_url=self.endpoint)

    def stacks(self, account: str) -> set[str]:
        cfn = self.cloudformation(account)
        return {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}


def run(project: Path, *argv: str) -> tuple[int, dict[str, Any] | None]:
    """deploy.py with --json and --project-dir; (exit code, the JSON document)."""
    at = 1 if argv and not argv[0].startswith("-") else 0
    out = io.StringIO()
    full = [*argv[:at], "--json", "--project-dir", str(project), *argv[at:]]
    code = main(full, stdin=io.StringIO(), sleep=lambda s: None, out=out)
    return code, parsed(command_of(argv), out.getvalue())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Only params/ (no policies/, no templates_src/): what docs/commands.md allows --project-dir to hold."""
    shutil.copytree(REPO / "params", tmp_path / "params", ignore=shutil.ignore_patterns(pins.PIN_DIR))
    return tmp_path


def test_a_pinned_prod_deploy_with_another_accounts_credentials_is_refused_before_any_write(
    aws_env, project, monkeypatch, capsys
):
    assert run(project, "pin", "--env", "prod", "--account", PROD, "--region", REGION)[0] == 0
    calls = awscalls.record(monkeypatch)
    code, _ = run(project, "--env", "prod", "--yes", "--parameter", "DomainName=example.jp")
    assert code == 4
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: prod is pinned to account 222233334444 in ap-northeast-1")
    assert f"these credentials are account {HOME} in {REGION}" in error
    assert calls.operations() == ["sts.GetCallerIdentity"]  # who are we: nothing read or written in the account
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # the right account in the wrong region: refused as well
    assert run(project, "pin", "--env", "prod", "--account", HOME, "--region", REGION)[0] == 0
    assert run(project, "--env", "prod", "--yes", "--parameter", "DomainName=example.jp")[0] == 4
    assert "in us-east-1" in capsys.readouterr().err


def test_dev_in_one_account_and_prod_in_another_each_deploy_and_delete_touching_only_its_own(
    aws_env, project, monkeypatch
):
    accounts = Accounts(monkeypatch, aws_env.endpoint)
    tag = uuid.uuid4().hex[:6]
    dev, prod = f"cylink-d{tag}", f"cylink-p{tag}"

    # bootstrap each account (its administrator), then pin each environment where it lives
    accounts.use(HOME)
    code, doc = run(project, "bootstrap", "--github-repo", "cylink/infra", "--github-environment", "dev")
    assert code == 0 and doc is not None
    assert doc["pinCommands"] == {"dev": f"python deploy.py pin --env dev --account {HOME} --region {REGION}"}
    accounts.use(PROD)
    code, doc = run(project, "bootstrap", "--github-repo", "cylink/infra", "--github-environment", "prod")
    assert code == 0 and doc is not None
    assert doc["bucket"] == f"cylink-cfn-artifacts-{PROD}-{REGION}"
    assert doc["githubDeployRoleArns"] == {"prod": f"arn:aws:iam::{PROD}:role/github-actions-cylink-deployer-prod"}
    for account in (HOME, PROD):
        role = accounts.iam(account).get_role(RoleName="cylink-cloudformation")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/cylink-cloudformation"
    assert run(project, "pin", "--env", "dev", "--account", HOME, "--region", REGION)[0] == 0
    assert run(project, "pin", "--env", "prod", "--account", PROD, "--region", REGION)[0] == 0
    # prod's GitHub role is never made in dev's account
    accounts.use(HOME)
    assert run(project, "bootstrap", "--github-repo", "cylink/infra", "--github-environment", "prod")[0] == 4

    before = {HOME: accounts.stacks(HOME), PROD: accounts.stacks(PROD)}
    code, _ = run(project, "--env", "dev", "--stack-name", dev, "--yes", "--parameter", f"NamePrefix=cyd{tag}")
    assert code == 0
    accounts.use(PROD)
    # deletion protection lifted for the test's own delete (delete refuses it: tests/test_delete_blockers.py)
    prod_params: tuple[str, ...] = (
        "--parameter",
        f"NamePrefix=cyp{tag}",
        "--parameter",
        f"DomainName=p{tag}.example.jp",
    )
    prod_params += ("--parameter", "AlbDeletionProtection=false")
    code, _ = run(project, "--env", "prod", "--stack-name", prod, "--yes", "--image-tag", "1.0.0", *prod_params)
    assert code == 0  # and then prod's protection, read from the package (the project has no policies/)
    assert dev in accounts.stacks(HOME) - before[HOME] and dev not in accounts.stacks(PROD)
    assert prod in accounts.stacks(PROD) - before[PROD] and prod not in accounts.stacks(HOME)

    # each delete in its own account: dev's credentials cannot reach prod, and prod's delete leaves dev alone
    accounts.use(HOME)
    assert run(project, "delete", "--env", "prod", "--stack-name", prod, "--yes")[0] == 4
    assert run(project, "delete", "--env", "dev", "--stack-name", dev, "--yes")[0] == 0
    assert dev not in accounts.stacks(HOME) and prod in accounts.stacks(PROD)
    accounts.use(PROD)
    cfn = accounts.cloudformation(PROD)
    cfn.update_termination_protection(StackName=prod, EnableTerminationProtection=False)  # prod's, lifted on purpose
    assert run(project, "delete", "--env", "prod", "--stack-name", prod, "--yes")[0] == 0
    assert prod not in accounts.stacks(PROD) and accounts.stacks(HOME) == before[HOME]


def test_one_account_bootstrapped_in_two_regions_shares_its_roles_deliberately(aws_env, project, monkeypatch):
    """IAM is global per account: the second region's bootstrap reuses the service role and the GitHub role,
    and neither loses the first region (the service role reads both buckets; the GitHub role keeps one policy
    per region). The buckets are per region."""
    from . import iameval

    for region in ("ap-northeast-1", "us-west-2"):
        monkeypatch.setenv("AWS_REGION", region)
        code, doc = run(project, "bootstrap", "--github-repo", "cylink/infra", "--github-environment", "dev")
        assert code == 0 and doc is not None and doc["bucket"] == f"cylink-cfn-artifacts-{HOME}-{region}"
    iam = Accounts(monkeypatch, aws_env.endpoint).iam(HOME)
    inline = iam.get_role_policy(RoleName="cylink-cloudformation", PolicyName="manage-cylink-stacks")["PolicyDocument"]
    inline = json.loads(inline) if isinstance(inline, str) else inline
    for region in ("ap-northeast-1", "us-west-2"):
        key = f"arn:aws:s3:::cylink-cfn-artifacts-{HOME}-{region}/templates/root-0a1b.json"
        assert iameval.allowed(inline, "s3:GetObject", key, {"s3:ResourceAccount": HOME}), region
    names = iam.list_role_policies(RoleName="github-actions-cylink-deployer-dev")["PolicyNames"]
    assert {"cylink-deployer-ap-northeast-1", "cylink-deployer-us-west-2"} <= set(names)


@pytest.mark.slow  # build starts the cfn-lint process
def test_build_refuses_a_hand_broken_pin_as_it_refuses_a_broken_parameter_file(project, capsys):
    path = pins.pin_file(project / "params", "prod")
    path.parent.mkdir()
    path.write_text("account: 1234\nregion: ap-northeast-1\n")
    assert main(["build", "--env", "prod", "--project-dir", str(project)], stdin=io.StringIO()) == 2
    assert "pins/prod.yaml: account '1234'" in capsys.readouterr().err
