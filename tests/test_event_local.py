"""``deploy.py event`` end to end against the emulator, through the CLI: an event scheduled, listed, seen by
the AWS CLI as scheduled actions on both scalable targets, kept by a plain deploy, cancelled; and bad input
refused in one line before any change set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from cylink_deploy import aws
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model
from cylink_deploy.project import Project

from .conftest import credentials, project_copy
from .recording import RecordingReporter
from .test_day2_local import run

REGION = "ap-northeast-1"
JST = timezone(timedelta(hours=9))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """dev with a module-own NamePrefix (scheduled actions are keyed by the service name) and room to scale."""
    root = project_copy(tmp_path_factory.mktemp("event-project"))
    prefix = f"cye{uuid.uuid4().hex[:6]}"
    dev = root / "params" / "dev.yaml"
    text = dev.read_text().replace("NamePrefix: cylink", f"NamePrefix: {prefix}")
    dev.write_text(text.replace('BackendMaxCapacity: "2"', 'BackendMaxCapacity: "4"'))
    return Project(root, build_override=root / "build")


@pytest.fixture(scope="module")
def stack(emulator, project):
    name = f"cylink-e{uuid.uuid4().hex[:6]}"
    clients = aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint)
    request = model.DeployRequest("dev", name, image_tag="1.0.0")
    result = deploy_job.deploy(request, clients, RecordingReporter([True]), project, sleep=lambda s: None)
    return {"name": name, "outputs": result.outputs}


def cli_actions(emulator, stack) -> list[tuple[str, str, str, int, int]]:
    """The stack's scheduled actions as the AWS CLI shows them: (service, name, schedule, min, max)."""
    aws_cli = Path(sys.executable).parent / "aws"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }
    argv = [str(aws_cli), "--endpoint-url", emulator.endpoint, "application-autoscaling", "describe-scheduled-actions"]
    done = subprocess.run([*argv, "--service-namespace", "ecs"], capture_output=True, text=True, env=env, check=True)
    services = {stack["outputs"]["BackendServiceName"]: "backend", stack["outputs"]["FrontendServiceName"]: "frontend"}
    return sorted(
        (
            services[a["ResourceId"].rsplit("/", 1)[1]],
            a["ScheduledActionName"],
            a["Schedule"],
            a["ScalableTargetAction"]["MinCapacity"],
            a["ScalableTargetAction"]["MaxCapacity"],
        )
        for a in json.loads(done.stdout)["ScheduledActions"]
        if a["ResourceId"].rsplit("/", 1)[1] in services
    )


def change_sets(emulator, stack) -> int:
    cfn = boto3.client(
        "cloudformation", region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS)
    )
    return len(cfn.list_change_sets(StackName=stack["name"])["Summaries"])


def days_ahead(days: int, hour: int) -> datetime:
    day = datetime.now(JST) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def event(project, stack, *argv):
    return run(project, "event", "--env", "dev", "--stack-name", stack["name"], "--yes", *argv)


@pytest.mark.slow
def test_an_event_is_scheduled_listed_kept_by_a_deploy_and_cancelled(aws_env, stack, project):
    first, second = days_ahead(30, 18), days_ahead(31, 18)
    code, out, err = event(project, stack, "--start", first.isoformat(), "--hours", "3", "--backend-tasks", "3")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "DEPLOYED" and doc["event"]["name"] == "event1"
    assert "Cost of the event: about USD" in err  # from the cost model, before the change set
    up = (first - timedelta(minutes=30)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    down = (first + timedelta(hours=3)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert cli_actions(aws_env, stack) == [
        ("backend", "event1-scale-down", f"at({down})", 1, 4),
        ("backend", "event1-scale-up", f"at({up})", 3, 4),
        ("frontend", "event1-scale-down", f"at({down})", 1, 2),
        ("frontend", "event1-scale-up", f"at({up})", 1, 2),
    ]

    code, out, err = event(project, stack, "--start", second.isoformat(), "--warm-up", "1h", "--frontend-tasks", "2")
    assert code == 0, err
    code, out, _ = run(project, "event", "--env", "dev", "--stack-name", stack["name"], "--list")
    listed = json.loads(out)["events"]
    assert [(e["name"], e["tasks"], e["state"]) for e in listed] == [
        ("event1", {"backend": 3, "frontend": 1}, "scheduled"),
        ("event2", {"backend": 4, "frontend": 2}, "scheduled"),
    ]
    _, out, err = run(project, "status", "--env", "dev", "--stack-name", stack["name"])
    assert json.loads(out)["events"] == listed and "Event event2 (scheduled): capacity from" in err

    code, out, err = run(project, "deploy", "--env", "dev", "--stack-name", stack["name"], "--yes")
    assert code == 0 and json.loads(out)["status"] == "NO_CHANGES", err  # the slots are kept (UsePreviousValue)
    assert len(cli_actions(aws_env, stack)) == 8

    code, out, err = event(project, stack, "--cancel")
    assert code == 2 and "2 events are scheduled (event1, event2): name the one to cancel" in err
    code, out, err = event(project, stack, "--cancel", "event1")
    assert code == 0 and json.loads(out)["cancelled"]["name"] == "event1", err
    assert {a[1] for a in cli_actions(aws_env, stack)} == {"event2-scale-up", "event2-scale-down"}
    code, out, err = event(project, stack, "--cancel")
    assert code == 0, err
    assert cli_actions(aws_env, stack) == []
    code, out, err = run(project, "status", "--env", "dev", "--stack-name", stack["name"])
    assert json.loads(out)["events"] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "2020-12-10T18:00+09:00"], "error: --start 2020-12-10 09:00 UTC is in the past"),
        (["--start", "NEXT", "--backend-tasks", "5"], "error: --backend-tasks 5 is above BackendMaxCapacity 4"),
        (["--start", "NEXT", "--warm-up", "3d"], "error: --warm-up '3d': use minutes or hours"),
        (["--start", "2030-12-10T18:00"], "error: --start 2030-12-10T18:00: add the time zone offset"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_change_set(aws_env, stack, project, argv, message):
    argv = [a.replace("NEXT", days_ahead(40, 18).isoformat()) for a in argv]
    before = change_sets(aws_env, stack)
    code, out, err = event(project, stack, *argv)
    (line,) = err.strip().splitlines()
    assert line.startswith(message)
    assert code == 2 and json.loads(out)["error"] == {"code": 2, "message": line.removeprefix("error: ")}
    assert change_sets(aws_env, stack) == before


@pytest.mark.slow
def test_an_overlapping_event_is_refused_before_any_change_set(aws_env, stack, project):
    start = days_ahead(50, 18)
    assert event(project, stack, "--start", start.isoformat())[0] == 0
    code, out, err = event(project, stack, "--start", (start + timedelta(hours=2)).isoformat())
    assert code == 2 and "overlaps event" in err and len(err.strip().splitlines()) == 1
    assert event(project, stack, "--cancel")[0] == 0
