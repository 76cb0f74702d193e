"""The emulator's server: a busy port is a one-line error at once, not a hang."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from cylink_deploy.emulator import LOOPBACK, Emulator
from cylink_deploy.errors import EXIT_BAD_INPUT, BadInput

from .conftest import REPO

pytestmark = pytest.mark.slow  # starts the emulator (in-process, or serve-local as a process)


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_busy_port_fails_at_once_with_bad_input(busy_port):
    from moto.cloudformation.models import Stack

    def patched() -> dict[str, object]:  # moto's instance registry grows with any stack: not a patch
        return {k: v for k, v in vars(Stack).items() if k != "instances_tracked"}

    before = patched()  # another test's emulator may hold the fixes: compare, don't assume
    started = time.monotonic()
    with pytest.raises(BadInput, match=f"port {busy_port} is in use"):
        Emulator(busy_port).start()
    assert time.monotonic() - started < 10
    assert patched() == before  # the failed start left nothing of its own in force


def test_serve_local_on_a_busy_port_exits_2_with_one_line(busy_port):
    proc = subprocess.run(
        [sys.executable, "deploy.py", "serve-local", "--port", str(busy_port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.strip().splitlines() == [
        f"error: port {busy_port} is in use: stop what listens there, or choose another with --port"
    ]


def test_a_free_port_serves():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    with Emulator(port) as emulator:
        assert emulator.endpoint == f"http://{LOOPBACK}:{port}"
        with socket.create_connection((LOOPBACK, port), timeout=5):
            pass
