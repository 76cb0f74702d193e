"""``loadtest`` without starting anything: its refusals, its target, its Locust command lines, and how the
master's summary is judged and shown. (The run itself, 1,000 users through Redis: test_loadtest_local.py.)"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from botocore.stub import Stubber

from cylink_deploy import cli
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.ops import loadtest as lt
from cylink_deploy.output.human import HumanReporter

from .stubbed import SESSION


def request(**overrides: object) -> lt.LoadTestRequest:
    fields = {"env": "staging", "users": 100, "ramp": "10s", "hold": "30s"} | overrides
    return lt.LoadTestRequest(**fields)  # type: ignore[arg-type]


def no_aws():
    raise AssertionError("an explicit --url must not read the stack")


def summary(**overrides: object) -> dict:
    base = {
        "users": 0,
        "connect": {"count": 100, "failures": 0, "seconds": 4.0, "p50": 40, "p95": 90, "p99": 120},
        "dropped": 0,
        "round_trip": {"count": 300, "failures": 0, "p50": 2, "p95": 5, "p99": 9},
        "fanout": {"count": 2700, "failures": 0, "p50": 3, "p95": 8, "p99": 15},
        "fanout_other": 1350,
        "expected": 2700,
        "landed": {"backend-1": 50, "backend-2": 50},
        "errors": {},
    }
    return base | overrides


def judged(data: dict, users: int = 100) -> lt.LoadTestResult:
    return lt.result(data, request(users=users), ("http://127.0.0.1:1",), (Path("r.html"), Path("r.log")))


def test_prod_is_refused_unless_allow_prod():
    with pytest.raises(BadInput, match="--allow-prod"):
        lt.check(request(env="prod"))
    assert lt.check(request(env="prod", allow_prod=True)) == (10.0, 30.0)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"users": 0}, "--users 0"),
        ({"users": lt.MAX_USERS + 1}, f"--users {lt.MAX_USERS + 1}"),
        ({"ramp": "2x"}, "--ramp '2x'"),
        ({"ramp": "31m"}, "--ramp 31m"),
        ({"hold": "3h"}, "--hold 3h"),
        ({"hold": "0s"}, "--hold 0s"),
        ({"workers": -1}, "--workers"),
        ({"room_size": 1}, "--room-size"),
        ({"path": "ws"}, "--path 'ws'"),
        ({"urls": ("ftp://example.com",)}, "--url 'ftp://example.com'"),
        ({"urls": ("https://api.example.com/socket.io/",)}, "no path"),
        ({"urls": ("http://",)}, "--url 'http://'"),
    ],
)
def test_bounds_and_bad_input_are_refused_before_anything_starts(overrides, says):
    with pytest.raises(BadInput, match=None) as raised:
        lt.check(request(**overrides))
    assert says in str(raised.value)


def test_durations_take_seconds_minutes_and_hours():
    assert lt.check(request(ramp="90", hold="1.5m")) == (90.0, 90.0)
    assert lt.check(request(ramp="1m", hold="2h")) == (60.0, 7200.0)


def test_an_explicit_url_is_the_target_and_the_stack_is_not_read():
    assert lt.targets(request(urls=("http://127.0.0.1:3001/",)), no_aws) == ("http://127.0.0.1:3001",)


def _cfn_with_outputs(outputs: list[dict[str, str]]):
    cfn = SESSION.client("cloudformation")
    stub = Stubber(cfn)
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "cylink-staging",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": "cylink-staging"},
    )
    stub.activate()
    return cfn


def test_without_url_the_target_is_the_stacks_own_api_url():
    cfn = _cfn_with_outputs([{"OutputKey": "ApiUrl", "OutputValue": "https://api.example.com"}])
    assert lt.targets(request(), lambda: cfn) == ("https://api.example.com",)


def test_a_stack_without_api_url_is_refused():
    cfn = _cfn_with_outputs([{"OutputKey": "SiteUrl", "OutputValue": "https://example.com"}])
    with pytest.raises(StackStateError, match="no ApiUrl output"):
        lt.targets(request(), lambda: cfn)


def test_one_process_without_workers_and_a_master_with_local_workers_on_loopback():
    (only,) = lt.commands(request(), 10.0, 30.0, Path("r.html"), 5557)
    assert "--master" not in only and only[only.index("--run-time") + 1] == "40s"
    assert only[only.index("--spawn-rate") + 1] == "10.000" and only[only.index("--users") + 1] == "100"
    master, *workers = lt.commands(request(workers=3), 10.0, 30.0, Path("r.html"), 5557)
    assert master[master.index("--expect-workers") + 1] == "3" and len(workers) == 3
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert all(w[w.index("--master-port") + 1] == "5557" and "--worker" in w for w in workers)
    master, *workers = lt.commands(request(workers=1, remote_workers=2), 10.0, 30.0, Path("r.html"), 5557)
    assert master[master.index("--expect-workers") + 1] == "3" and len(workers) == 1
    assert master[master.index("--master-bind-host") + 1] == "0.0.0.0"  # remote workers must reach it


def test_messages_stop_before_the_end_so_every_one_in_flight_can_arrive():
    settings = json.loads(lt.settings(request(), ("http://127.0.0.1:1",), 10.0, 30.0, Path("s.json")))
    assert settings["send_for"] == 35.0 and settings["path"] == "/socket.io/"
    plain = json.loads(lt.settings(request(protocol="websocket"), ("http://h",), 10.0, 30.0, Path("s.json")))
    assert plain["path"] == "/ws"


def test_a_run_where_everyone_connected_and_every_message_arrived_holds():
    outcome = judged(summary())
    assert outcome.problems == [] and outcome.lost == 0 and outcome.connected == 100
    assert outcome.delivered_across == 1350 and outcome.sent == 300 and outcome.connect_rate == 25.0


def test_lost_messages_failed_connects_drops_and_errors_are_each_a_problem():
    outcome = judged(
        summary(
            connect={"count": 100, "failures": 3, "p50": 40, "p95": 90, "p99": 10000},
            dropped=2,
            fanout={"count": 2650, "failures": 0, "p50": 3, "p95": 8, "p99": 15},
            errors={"connect: no answer to join within 20 s": 3},
        )
    )
    assert outcome.connected == 95 and outcome.lost == 50
    assert outcome.problems == ["5 of 100 users not connected at the end", "50 of 2700 messages lost", "3 errors"]


def test_the_final_table_shows_users_latencies_messages_processes_and_errors():
    out = io.StringIO()
    HumanReporter(out).show(judged(summary(errors={"connect: refused": 1})))
    text = out.getvalue()
    for expected in ("Connect failures", "fan-out", "p99", "Lost", "backend-1 50", "1 x connect: refused", "r.html"):
        assert expected in text
    assert "DID NOT HOLD: 1 errors" in text


def test_a_progress_line_says_users_connected_and_fanout_so_far():
    out = io.StringIO()
    HumanReporter(out).show(lt.progress(summary(users=100), 12.0))
    assert out.getvalue().strip() == (
        "12s  users 100  connected 100  connect failures 0  fan-out 2700/2700 delivered, p95 8 ms  errors 0"
    )


def test_the_command_refuses_prod_with_one_line_and_exit_2(capsys):
    assert cli.main(["loadtest", "--env", "prod", "--users", "10", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-prod" in err


def test_users_locust_never_started_are_said_apart_from_failed_connects():
    outcome = judged(summary(connect={"count": 80, "failures": 0, "seconds": 4.0, "p50": 40, "p95": 90, "p99": 99}))
    assert outcome.connect_failures == 0 and outcome.connected == 80
    assert outcome.problems == [
        "20 of 100 users not connected at the end",
        "20 never started (the load generator fell behind: add --workers)",
    ]
