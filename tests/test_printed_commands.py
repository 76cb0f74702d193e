"""Every command the tool prints for a person to paste is shell words: a value with shell syntax in it (a
profile named ``x$(id>/tmp/p)``) is quoted, so pasting the command runs deploy.py, not what the name says."""

from __future__ import annotations

import shlex

import pytest

from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.leftovers import Leftover
from cylink_deploy.commands import legacy
from cylink_deploy.errors import StackStateError
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import StackRequest, deploy_first
from cylink_deploy.ops import rotation

EVIL = "x$(id>/tmp/p)"


def test_the_execute_command_quotes_the_profile():
    command = deploy_job.execute_command("dev", "cylink-dev-1", "cylink-dev", "ap-northeast-1", EVIL)
    assert command == (
        "python deploy.py execute --env dev cylink-dev-1 --stack-name cylink-dev --region ap-northeast-1 "
        "--profile 'x$(id>/tmp/p)'"
    )
    assert shlex.split(command)[-2:] == ["--profile", EVIL]
    plain = deploy_job.execute_command("dev", "cylink-dev-1", None, "ap-northeast-1", "prod-admin")
    assert plain == "python deploy.py execute --env dev cylink-dev-1 --region ap-northeast-1 --profile prod-admin"


def test_the_rotations_again_command_and_deploy_first_are_shell_words():
    again = rotation.again_command(StackRequest("dev", f"cylink-{EVIL}"))
    assert shlex.split(again) == [
        "python",
        "deploy.py",
        "rotate-redis-auth",
        "--env",
        "dev",
        "--stack-name",
        f"cylink-{EVIL}",
    ]
    assert rotation.again_command(StackRequest("dev")) == "python deploy.py rotate-redis-auth --env dev"
    said = deploy_first("dev", f"cylink-{EVIL}")
    assert said == "deploy it first (python deploy.py --env dev --stack-name 'cylink-x$(id>/tmp/p)')"


@pytest.mark.parametrize("resource_type", ["AWS::ECR::Repository", "AWS::Logs::LogGroup"])
def test_leftover_delete_commands_quote_the_name(resource_type):
    command = Leftover(resource_type, f"/ecs/{EVIL}").delete_command("ap-northeast-1")
    assert f"'/ecs/{EVIL}'" in command and f"/ecs/{EVIL}" in shlex.split(command)


def test_a_stuck_stacks_recovery_command_quotes_the_stack():
    with pytest.raises(StackStateError) as err:
        st.plan("UPDATE_ROLLBACK_FAILED", f"cylink-{EVIL}")
    assert f"--stack-name 'cylink-{EVIL}' " in str(err.value)


def test_the_legacy_flags_note_quotes_what_the_user_typed():
    _, note = legacy.normalize(["--execute-change-set", EVIL, "--env", "dev"], ("deploy", "execute"))
    assert note == f"note: --execute-change-set is now the subcommand: python deploy.py execute --env dev '{EVIL}'"
