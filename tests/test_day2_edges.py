"""Second-day edges found by probing the day-2 commands as a new user: each a one-line answer with the
documented exit code instead of a misleading success, a multi-line error or a wrong message."""

from __future__ import annotations

import boto3
import pytest

from cylink_deploy import cli
from cylink_deploy.cfn import identity
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.errors import AwsAccessError
from cylink_deploy.ops import drift, rotation

from .conftest import credentials

REGION = "ap-northeast-1"


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("command", ["delete", "status", "rotate-redis-auth", "drift"])
def test_an_unknown_env_is_bad_input_for_every_command(command, project, capsys):
    """'delete --env dve' once said 'does not exist: nothing to delete' and exited 0."""
    assert cli.main([command, "--env", "dve", "--yes", "--project-dir", str(project.root)]) == 2
    assert "known environments: dev, prod, staging" in one_line(capsys)


def test_an_empty_github_repo_is_refused_not_a_plain_bootstrap(project, capsys):
    assert cli.main(["bootstrap", "--github-repo", "", "--project-dir", str(project.root)]) == 2
    assert "--github-repo is empty" in one_line(capsys)


def test_a_value_botocore_refuses_is_one_line_with_exit_2(aws_env, project, capsys):
    """An empty change-set name reached botocore's validation: two lines and exit 1."""
    argv = ["execute", "--env", "dev", "", "--yes", "--stack-name", "cylink-edges", "--project-dir", str(project.root)]
    assert cli.main(argv) == 2
    assert one_line(capsys).startswith(
        "error: a value is not valid for AWS: Invalid length for parameter ChangeSetName"
    )


def test_drift_against_an_endpoint_without_drift_detection_is_one_line_not_exit_1(aws_env):
    """moto answers DetectStackDrift with a page botocore cannot parse: it was 'unexpected
    ResponseParserError' with exit 1, the code for 'drifted'."""
    cfn = boto3.client(
        "cloudformation", region_name=REGION, endpoint_url=aws_env.endpoint, **credentials(FAKE_CREDENTIALS)
    )
    with pytest.raises(AwsAccessError, match="does not implement drift detection"):
        drift.start(cfn, {"root": "cylink-edges"})


def test_ctrl_c_during_a_rotation_says_it_is_part_way_and_how_to_finish(monkeypatch, project, capsys):
    def part_way(request, clients, reporter, sleep):
        reporter.sent("rotation")
        raise KeyboardInterrupt

    monkeypatch.setattr(rotation, "rotate_redis_auth", part_way)
    monkeypatch.setattr(identity, "require_env", lambda cfn, stack, env: None)  # no AWS here: see test_identity.py
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert cli.main(["rotate-redis-auth", "--env", "dev", "--yes", "--project-dir", str(project.root)]) == 5
    err = one_line(capsys)
    assert "the rotation is part-way" in err and "run the same command again" in err
    assert "change set" not in err


@pytest.mark.parametrize("flag, value", [("--data-out-gb", "nan"), ("--data-out-gb", "inf"), ("--alb-nodes", "1.5")])
def test_cost_refuses_a_figure_that_is_not_a_finite_number_or_a_whole_count(flag, value, project, capsys):
    """nan and inf printed a total of nan (and NaN in --json, which is not JSON); 1.5 nodes became 1."""
    assert cli.main(["cost", "--env", "dev", flag, value, "--project-dir", str(project.root)]) == 2
    assert value in one_line(capsys)


def test_cost_takes_a_whole_count_and_a_zero_amount(project, capsys):
    assert cli.main(["cost", "--env", "dev", "--alb-nodes", "3", "--data-out-gb", "0", "--json"]) == 0
    assert "NaN" not in capsys.readouterr().out


def test_logs_json_is_json_lines_on_stdout():
    """logs --json was accepted and printed nothing on stdout (the events went to stderr as text)."""
    import io
    import json
    from datetime import datetime, timezone

    from cylink_deploy.ops.logs import LogEvent
    from cylink_deploy.output.human import JsonReporter

    out, err = io.StringIO(), io.StringIO()
    reporter = JsonReporter(out=err, document_out=out)
    when = datetime(2026, 11, 28, 12, 0, 1, 500000, tzinfo=timezone.utc)
    for text in ("listening on 3001", 'redis "ready"'):
        reporter.show(LogEvent(when, "abc123", text, "id"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"message": m, "schemaVersion": 1, "taskId": "abc123", "timestamp": "2026-11-28T12:00:01.500000+00:00"}
        for m in ("listening on 3001", 'redis "ready"')
    ]
    assert err.getvalue() == ""


@pytest.mark.parametrize("since", ["99999d", "1000000000000d", "3651d"])
def test_logs_since_further_back_than_ten_years_is_bad_input(since):
    """99999d reached botocore's validation (two lines), 1000000000000d an OverflowError."""
    from cylink_deploy.errors import BadInput
    from cylink_deploy.ops.logs import parse_since

    with pytest.raises(BadInput, match="at most 3650d"):
        parse_since(since)
    assert parse_since("3650d").days == 3650
