"""The 1,000-user path with real parts: a real redis-server, two processes of the reference backend on
loopback sharing it (as two ECS tasks share ElastiCache), and ``deploy.py loadtest`` against them.

No figure is asserted here (benchmarks/loadtest_bench.py measures): only that every user connected, every
message reached every other member of its room -- across the two processes, which only Redis can carry --
and nothing failed. And the counter-proof: without the Redis adapter, the same test reports the lost messages.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools import refstack

from .conftest import REPO
from .contract import parsed

pytestmark = pytest.mark.slow


def loadtest(urls: list[str], tmp_path, *extra: str) -> tuple[int, dict]:
    args = [sys.executable, str(REPO / "deploy.py"), "loadtest", "--env", "dev", "--json"]
    args += ["--report-dir", str(tmp_path), "--interval", "5", *extra]
    args += [arg for url in urls for arg in ("--url", url)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.stdout, done.stderr
    return done.returncode, parsed("loadtest", done.stdout)


def test_a_thousand_socketio_users_on_two_backends_all_connect_and_every_message_crosses_through_redis(tmp_path):
    with refstack.reference_stack(backends=2) as urls:
        code, result = loadtest(urls, tmp_path, "--users", "1000", "--ramp", "8s", "--hold", "15s")
    assert result["problems"] == [] and code == 0
    assert result["connected"] == 1000 and result["connectFailures"] == 0 and result["dropped"] == 0
    assert result["landed"] == {"backend-1": 500, "backend-2": 500}
    assert result["expected"] > 0 and result["delivered"] == result["expected"] and result["lost"] == 0
    assert result["deliveredAcross"] > 0  # received on the other process than the sender's: through Redis
    assert result["errors"] == {}
    assert (tmp_path / result["report"]).read_text().lstrip().lower().startswith("<!doctype html")


def test_plain_websocket_users_fan_out_across_the_two_backends_too(tmp_path):
    with refstack.reference_stack(backends=2) as urls:
        code, result = loadtest(
            urls, tmp_path, "--users", "100", "--ramp", "2s", "--hold", "10s", "--protocol", "websocket"
        )
    assert result["problems"] == [] and code == 0
    assert result["connected"] == 100 and result["lost"] == 0 and result["deliveredAcross"] > 0


def test_locust_workers_share_the_users_and_the_master_adds_them_up(tmp_path):
    with refstack.reference_stack(backends=2) as urls:
        code, result = loadtest(urls, tmp_path, "--users", "100", "--ramp", "2s", "--hold", "10s", "--workers", "2")
    assert result["problems"] == [] and code == 0
    assert result["connected"] == 100 and result["lost"] == 0 and result["deliveredAcross"] > 0


def test_without_the_redis_adapter_the_messages_for_the_other_process_are_reported_lost(tmp_path):
    with refstack.reference_stack(backends=2, adapter=False) as urls:
        code, result = loadtest(urls, tmp_path, "--users", "40", "--ramp", "2s", "--hold", "8s")
    assert code == 1
    assert result["deliveredAcross"] == 0 and result["lost"] > 0
    assert any("messages lost" in problem for problem in result["problems"])
