"""The reference stack on loopback, with real parts: a ``redis-server`` and processes of the reference backend
(app/backend) sharing it, as the ECS tasks share ElastiCache. For the load test's slow test and its benchmark.

``make test`` installs what it needs: Debian's redis-server when missing, and app/backend's npm packages.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "app" / "backend"
START_TIMEOUT = 30.0


class Missing(Exception):
    """A part of the stack is not installed: the message says what to run."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    """Poll ``check`` until it holds (the process is serving), the process exits, or the timeout."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {START_TIMEOUT:g} s")


def _redis_up(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def _health(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:  # noqa: S310 - loopback
        return bool(r.status == 200)


def requirements() -> tuple[str, str]:
    """(redis-server, node) paths, or ``Missing`` saying how to install them."""
    redis, node = shutil.which("redis-server"), shutil.which("node")
    if redis is None:
        raise Missing("redis-server is not installed: run make test (it installs Debian's redis-server)")
    if node is None:
        raise Missing("node is not installed: install Node.js 20 (the reference backend's runtime)")
    if not (BACKEND / "node_modules" / "socket.io").is_dir():
        raise Missing("app/backend has no node_modules: run make test (it runs npm ci there)")
    return redis, node


@contextlib.contextmanager
def reference_stack(backends: int = 2, adapter: bool = True) -> Iterator[list[str]]:
    """Start a Redis server and ``backends`` backend processes sharing it; without ``adapter`` the backends
    run Socket.IO's in-memory adapter (a broadcast cannot cross processes). Yields the backends' base URLs;
    stops everything it started."""
    redis, node = requirements()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a connection is a descriptor on each side
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        redis_port = free_port()
        args = [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_until(functools.partial(_redis_up, redis_port), f"redis-server on {redis_port}", procs[-1])
        urls = []
        for i in range(backends):
            port = free_port()
            env = {
                **os.environ,
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "PROCESS_NAME": f"backend-{i + 1}",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}",
                "SOCKETIO_REDIS_ADAPTER": "on" if adapter else "off",
            }
            procs.append(
                subprocess.Popen(
                    [node, "server.js"], cwd=BACKEND, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            _wait_until(functools.partial(_health, port), f"backend on {port}", procs[-1])
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
