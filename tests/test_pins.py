"""Issue 25: each environment pinned to its account and region (``params/pins/ENV.yaml``, written by
``deploy.py pin``), checked in one place before any write; and the tool's own policies come from the package,
not from a ``--project-dir`` that holds only ``params/``. Stubber and files only: the emulator tests are in
test_accounts_local.py."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy.cli import main
from cylink_deploy.commands import pin as pin_command
from cylink_deploy.commands.registry import parser
from cylink_deploy.errors import BadInput
from cylink_deploy.cfn import protection
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.preflight import params, pins
from cylink_deploy.project import Project

from .conftest import REPO
from .recording import RecordingReporter, run_command
from .stubbed import clients as stubbed_clients
from .stubbed import unused

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

HOME, OTHER = "111122223333", "444455556666"
REGION = "ap-northeast-1"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project directory holding only params/, as docs/commands.md allows for --project-dir."""
    shutil.copytree(REPO / "params", tmp_path / "params", ignore=shutil.ignore_patterns(pins.PIN_DIR))
    return Project.find(tmp_path)


def cli(project: Project, *argv: str) -> tuple[int, str]:
    """deploy.py with --project-dir; returns (exit code, stdout)."""
    out = io.StringIO()
    code = main([*argv, "--project-dir", str(project.root)], stdin=io.StringIO(), out=out)
    return code, out.getvalue()


def test_pin_writes_the_side_file_under_the_project_dir_and_shows_it(project):
    code, said = cli(project, "pin", "--env", "prod", "--account", HOME, "--region", "us-east-1")
    assert code == 0
    path = project.params_dir / "pins" / "prod.yaml"
    assert f"Pinned prod to account 111122223333 in us-east-1: {path}" in said
    assert pins.load(project.params_dir, "prod") == pins.Pin("prod", HOME, "us-east-1")
    assert 'account: "111122223333"' in path.read_text() and "python deploy.py pin" in path.read_text()
    code, shown = cli(project, "pin", "--env", "prod", "--json")
    assert code == 0 and json.loads(shown) == {
        "schemaVersion": 1,
        "environment": "prod",
        "account": HOME,
        "region": "us-east-1",
    }
    # the deployment file is untouched: still what CloudFormation's Git sync reads, and the only environments
    # are still the parameter files (params/*.yaml never matches the pin)
    assert params.load(project.params_dir / "prod.yaml")[0]["EnvironmentName"] == "prod"
    assert sorted(p.stem for p in project.params_dir.glob("*.yaml")) == ["dev", "prod", "staging"]


def test_an_account_with_a_leading_zero_stays_text_and_the_region_defaults_as_everywhere(project, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert cli(project, "pin", "--env", "dev", "--account", "012345678901")[0] == 0
    assert pins.load(project.params_dir, "dev") == pins.Pin("dev", "012345678901", "eu-west-1")
    path = pins.pin_file(project.params_dir, "dev")
    path.write_text("account: 012345678901\nregion: eu-west-1\n")  # unquoted by hand: still the same text
    assert pins.load(project.params_dir, "dev") == pins.Pin("dev", "012345678901", "eu-west-1")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--account", "12345"), "an AWS account ID is 12 digits"),
        (("--account", HOME, "--region", "tokyo"), "'tokyo' is not an AWS region"),
        (("--region", "us-east-1"), "--region applies with --account ID"),
        (("--account", HOME, "--github-output"), "--github-output only shows the pin"),
    ],
)
def test_a_bad_pin_is_one_line_and_exit_2_and_writes_nothing(project, capsys, argv, said):
    assert cli(project, "pin", "--env", "prod", *argv)[0] == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1
    assert not pins.pin_file(project.params_dir, "prod").exists()


def test_a_pin_file_that_is_not_exactly_account_and_region_is_an_error_never_unpinned(project):
    path = pins.pin_file(project.params_dir, "prod")
    path.parent.mkdir()
    for text in ("account: '111122223333'\n", f"account: '{HOME}'\nregion: {REGION}\nrole: admin\n", "- x\n"):
        path.write_text(text)
        with pytest.raises(BadInput, match=r"prod\.yaml: expected exactly the keys account and region"):
            pins.load(project.params_dir, "prod")
    path.write_text("account: '1234'\nregion: ap-northeast-1\n")
    with pytest.raises(BadInput, match=r"prod\.yaml: account '1234'"):
        pins.load(project.params_dir, "prod")


def test_the_pin_is_never_written_through_a_symlink(project, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (project.params_dir / "pins").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadInput, match="is a symlink"):
        pins.write(project.params_dir, pins.Pin("prod", HOME, REGION))
    assert list((tmp_path / "elsewhere").iterdir()) == []


def sts_answering(account: str, region: str = REGION, times: int = 1) -> tuple[STSClient, Stubber]:
    sts = boto3.client("sts", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(sts)
    identity = {"Account": account, "Arn": f"arn:aws:iam::{account}:user/me", "UserId": "AIDA"}
    for _ in range(times):
        stub.add_response("get_caller_identity", identity, {})
    return sts, stub


@pytest.mark.parametrize(
    ("account", "region", "why"),
    [(OTHER, REGION, "another account"), (HOME, "us-east-1", "another region")],
)
def test_a_pinned_environment_refuses_other_credentials_before_any_other_call(project, account, region, why):
    """The check is in Context.clients, which every command goes through: here a delete, whose only call is
    STS (every other client is an empty Stubber: any call would fail the test)."""
    pins.write(project.params_dir, pins.Pin("prod", HOME, REGION))
    sts, stub = sts_answering(account, region)
    args = parser().parse_args(["delete", "--env", "prod", "--yes"])
    with stub, pytest.raises(pins.WrongAccount) as refused:
        run_command(args, RecordingReporter(), stubbed_clients(sts=sts, region=region), project=project)
    stub.assert_no_pending_responses()
    message = str(refused.value)
    assert refused.value.exit_code == 4 and "\n" not in message, why
    assert f"pinned to account {HOME} in {REGION}" in message and f"are account {account} in {region}" in message


def test_the_pinned_account_and_region_go_on_to_the_command(project):
    pins.write(project.params_dir, pins.Pin("dev", HOME, REGION))
    sts, stub = sts_answering(HOME, times=2)  # the pin check, then the delete's own
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    cfn_stub = Stubber(cfn)
    missing = "Stack with id cylink-dev does not exist"
    for _ in range(2):  # the --env identity check (cfn/identity.py), then the delete's own
        cfn_stub.add_client_error(
            "describe_stacks", "ValidationError", missing, expected_params={"StackName": "cylink-dev"}
        )
    reporter = RecordingReporter()
    args = parser().parse_args(["delete", "--env", "dev", "--yes"])
    with stub, cfn_stub:
        assert run_command(args, reporter, stubbed_clients(cfn, sts=sts), project=project) == 0
    cfn_stub.assert_no_pending_responses()
    assert reporter.of("warn") == []


def test_an_unpinned_prod_is_warned_about_and_an_unpinned_dev_is_not(project):
    for env, expected in (("prod", 1), ("dev", 0)):
        cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        stub = Stubber(cfn)
        missing = f"Stack with id cylink-{env} does not exist"
        for _ in range(2):  # the --env identity check, then the delete's own
            stub.add_client_error("describe_stacks", "ValidationError", missing)
        reporter = RecordingReporter()
        sts, sts_stub = sts_answering(HOME)  # no pin: no STS call of the check's, only the delete's own
        with stub, sts_stub:
            run_command(
                parser().parse_args(["delete", "--env", env, "--yes"]),
                reporter,
                stubbed_clients(cfn, sts=sts),
                project=project,
            )
        warnings = [w for w in reporter.of("warn") if "not pinned" in w]
        assert len(warnings) == expected, env
        assert all("whatever account the credentials reach" in w for w in warnings)


def test_bootstrap_refuses_an_environment_role_for_an_environment_pinned_to_another_account(project):
    pins.write(project.params_dir, pins.Pin("prod", OTHER, REGION))
    sts, stub = sts_answering(HOME)
    args = parser().parse_args(["bootstrap", "--github-repo", "cylink/infra", "--github-environment", "prod"])
    with stub, pytest.raises(pins.WrongAccount, match=f"prod is pinned to account {OTHER}"):
        run_command(args, RecordingReporter(), stubbed_clients(sts=sts), project=project)


def test_the_workflow_reads_the_pinned_accounts_plan_role_and_region(project):
    assert pin_command.github_output(None) == "account=\nregion=\nplan-role-arn=\n"
    assert pin_command.github_output(pins.Pin("prod", OTHER, "us-west-2")) == (
        f"account={OTHER}\nregion=us-west-2\nplan-role-arn=arn:aws:iam::{OTHER}:role/github-actions-cylink-plan\n"
    )
    pins.write(project.params_dir, pins.Pin("prod", OTHER, "us-west-2"))
    code, out = cli(project, "pin", "--env", "prod", "--github-output")
    assert code == 0 and out == pin_command.github_output(pins.Pin("prod", OTHER, "us-west-2"))


def test_the_tools_policies_come_from_the_package_when_the_project_dir_holds_only_params(project):
    """The found bug: deploy --project-dir DIR (only params/) changed the stack, then failed on
    DIR/policies/protection.yaml. Protection is the tool's: read from the package."""
    assert not (project.root / "policies").exists()
    cfn = unused(boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"))
    deploy_job._protect(cfn, project, "dev", "cylink-dev", RecordingReporter())  # dev: nothing to apply
    prod = protection.for_env("prod", project.policies_dir / protection.CONFIG_FILE)
    assert prod.termination and prod.stack_policy == (REPO / "policies" / "stateful-stack-policy.json").read_text()
