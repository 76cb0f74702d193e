"""``loadtest``: many WebSocket users against one environment's own endpoint, with Locust.

Locust runs in its own processes (it patches the standard library with gevent on import): headless, with
its HTML report, the user class in ``loadtest_user.py``, and with ``workers`` as master and workers (the way
past one machine: remote workers connect to the master). The settings reach the Locust processes as one JSON
environment variable; the master prints a progress line per interval and writes a summary file at the end,
which becomes a ``LoadTestResult`` here. Bounded in users and time, it stops by itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cylink_deploy import documents
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import BadInput, DeployError, StackStateError
from cylink_deploy.jobs.reporter import Reporter

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

USER_FILE = Path(__file__).with_name("loadtest_user.py")
MAX_USERS = 20_000  # per run: past that, a team splits the crowd over runs it can watch
MAX_RAMP = 30 * 60.0
MAX_HOLD = 2 * 3600.0
MAX_WORKERS = 64
PATHS = {"socketio": "/socket.io/", "websocket": "/ws"}
PROTECTED_ENVS = ("prod",)
STARTUP_SECONDS = 60.0  # Locust's start, its workers' connection to the master, and its stop, past the run
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


class LoadTestFailed(DeployError):
    """The run ended with failed connects, lost messages or errors (the table says which), or Locust failed."""


@dataclass(frozen=True)
class LoadTestRequest:
    env: str
    users: int
    ramp: str = "60s"
    hold: str = "5m"
    protocol: str = "socketio"
    path: str | None = None
    urls: tuple[str, ...] = ()  # --url: explicit targets instead of the stack's ApiUrl
    workers: int = 0
    remote_workers: int = 0
    allow_prod: bool = False
    every: float = 5.0  # seconds between one user's messages
    room_size: int = 10
    interval: float = 10.0  # seconds between progress lines
    report_dir: Path = Path("build/loadtest")
    stack_name: str | None = None

    @property
    def stack(self) -> str:
        return self.stack_name or f"cylink-{self.env}"


def seconds(flag: str, value: str, most: float) -> float:
    """'90s', '5m', '1h', '30' -> seconds, between 1 s and ``most``."""
    match = DURATION.fullmatch(value.strip())
    if not match:
        raise BadInput(f"{flag} {value!r}: use a number and a unit, e.g. 30s, 5m or 1h")
    total = float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]
    if not 1 <= total <= most:
        raise BadInput(f"{flag} {value}: between 1s and {most / 60:g}m")
    return total


def check(request: LoadTestRequest) -> tuple[float, float]:
    """Every refusal before anything starts: (ramp, hold) in seconds."""
    if request.env in PROTECTED_ENVS and not request.allow_prod:
        raise BadInput(
            f"refused: a load test on {request.env} reaches its real users' servers; pass --allow-prod when that is "
            "the plan (and the team knows)"
        )
    if not 1 <= request.users <= MAX_USERS:
        raise BadInput(f"--users {request.users}: between 1 and {MAX_USERS}")
    if not 0 <= request.workers <= MAX_WORKERS or not 0 <= request.remote_workers <= MAX_WORKERS:
        raise BadInput(f"--workers/--remote-workers: between 0 and {MAX_WORKERS}")
    if request.room_size < 2 or request.every <= 0 or request.interval <= 0:
        raise BadInput("--room-size at least 2, --every and --interval above 0")
    if request.path is not None and not request.path.startswith("/"):
        raise BadInput(f"--path {request.path!r}: an absolute path, e.g. {PATHS[request.protocol]}")
    for url in request.urls:
        check_url("--url", url)
    return seconds("--ramp", request.ramp, MAX_RAMP), seconds("--hold", request.hold, MAX_HOLD)


def check_url(flag: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname or parts.path.strip("/"):
        raise BadInput(f"{flag} {url!r}: use the endpoint's base URL, e.g. https://api.example.com (no path)")
    return url.rstrip("/")


def targets(request: LoadTestRequest, cfn: Callable[[], CloudFormationClient]) -> tuple[str, ...]:
    """The explicit ``--url``s, or else the environment's own endpoint: its stack's ``ApiUrl`` output."""
    if request.urls:
        return tuple(check_url("--url", u) for u in request.urls)
    api = st.outputs(cfn(), request.stack).get("ApiUrl")
    if not api:
        raise StackStateError(f"{request.stack} has no ApiUrl output: deploy the environment first (or pass --url)")
    return (check_url(f"{request.stack}'s ApiUrl", api),)


@dataclass(frozen=True)
class Percentiles:
    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Percentiles:
        return cls(entry.get("p50"), entry.get("p95"), entry.get("p99"))


@dataclass(frozen=True)
class LoadProgress:
    """One interval's line while the test runs."""

    elapsed: float
    users: int
    connected: int
    connect_failures: int
    delivered: int
    expected: int
    fanout: Percentiles
    errors: int


@dataclass(frozen=True)
class LoadTestResult:
    """The final table: what happened to the users, the messages and the latencies (ms)."""

    target: tuple[str, ...]
    users: int
    connected: int
    connect_failures: int
    dropped: int
    connect_rate: float  # connects per second, from the first to the last
    connect: Percentiles
    round_trip: Percentiles
    fanout: Percentiles
    sent: int
    delivered: int
    delivered_across: int  # received on another process/task than the sender's: through Redis
    expected: int
    lost: int
    landed: dict[str, int]
    errors: dict[str, int]
    report: str
    log: str
    problems: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return documents.fields(self)


def progress(summary: dict[str, Any], elapsed: float) -> LoadProgress:
    connect = summary["connect"]
    return LoadProgress(
        elapsed,
        summary["users"],
        connect["count"] - connect["failures"] - summary["dropped"],
        connect["failures"],
        summary["fanout"]["count"],
        summary["expected"],
        Percentiles.of(summary["fanout"]),
        sum(summary["errors"].values()),
    )


def result(
    summary: dict[str, Any], request: LoadTestRequest, target: tuple[str, ...], files: tuple[Path, Path]
) -> LoadTestResult:
    """The summary Locust's master wrote, judged: every user connected and stayed, every message arrived."""
    connect, fanout = summary["connect"], summary["fanout"]
    connected = connect["count"] - connect["failures"] - summary["dropped"]
    lost = max(0, summary["expected"] - fanout["count"])
    unstarted = request.users - connect["count"]  # Locust fell behind its spawn rate: the run ended first
    problems = [
        text
        for text, bad in (
            (
                f"{request.users - connected} of {request.users} users not connected at the end",
                connected < request.users,
            ),
            (f"{unstarted} never started (the load generator fell behind: add --workers)", unstarted > 0),
            (f"{lost} of {summary['expected']} messages lost", lost > 0),
            (f"{sum(summary['errors'].values())} errors", bool(summary["errors"])),
        )
        if bad
    ]
    return LoadTestResult(
        target,
        request.users,
        connected,
        connect["failures"],
        summary["dropped"],
        round(connect["count"] / connect["seconds"], 1) if connect.get("seconds") else 0.0,
        Percentiles.of(connect),
        Percentiles.of(summary["round_trip"]),
        Percentiles.of(fanout),
        summary["round_trip"]["count"],
        fanout["count"],
        summary["fanout_other"],
        summary["expected"],
        lost,
        dict(summary["landed"]),
        dict(summary["errors"]),
        str(files[0]),
        str(files[1]),
        problems,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def commands(request: LoadTestRequest, ramp: float, hold: float, html: Path, port: int) -> list[list[str]]:
    """The master's (or the only process's) command line first, then one per local worker."""
    locust = [sys.executable, "-m", "locust", "-f", str(USER_FILE)]
    main = [*locust, "--headless", "--only-summary", "--exit-code-on-error", "0", "--html", str(html)]
    main += [
        "--users",
        str(request.users),
        "--spawn-rate",
        f"{request.users / ramp:.3f}",
        "--run-time",
        f"{ramp + hold:.0f}s",
    ]
    if not request.workers and not request.remote_workers:
        return [main]
    bind = "0.0.0.0" if request.remote_workers else "127.0.0.1"  # remote workers connect to this machine
    main += ["--master", "--expect-workers", str(request.workers + request.remote_workers)]
    main += ["--master-bind-host", bind, "--master-bind-port", str(port)]
    worker = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return [main] + [worker] * request.workers


def settings(request: LoadTestRequest, target: tuple[str, ...], ramp: float, hold: float, summary: Path) -> str:
    """What the Locust processes read (environment variable CYLINK_LOADTEST)."""
    grace = min(5.0, hold / 3)  # no message in the last seconds: every one in flight arrives before the stop
    return json.dumps(
        {
            "urls": list(target),
            "protocol": request.protocol,
            "path": request.path or PATHS[request.protocol],
            "timeout": 20,
            "room_size": request.room_size,
            "every": request.every,
            "send_for": ramp + hold - grace,
            "interval": request.interval,
            "summary": str(summary),
            "run": datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
        }
    )


def watch(lines: Iterable[str], log: IO[str], reporter: Reporter, started: float) -> None:
    """Progress lines to the reporter, everything else Locust says to the log file."""
    for line in lines:
        if line.startswith("CYLINK-PROGRESS "):
            reporter.show(progress(json.loads(line.split(" ", 1)[1]), time.monotonic() - started))
        else:
            log.write(line)


def remote_hint(request: LoadTestRequest, settings_json: str, port: int) -> str:
    """What to run on each other machine (a checkout with the venv): a Locust worker of this master."""
    return (
        f"Waiting for {request.remote_workers} remote workers: on each machine, in a checkout of this commit, run\n"
        f"  CYLINK_LOADTEST='{settings_json}' .venv/bin/python -m locust -f cylink_deploy/ops/loadtest_user.py "
        f"--worker --master-host <this machine's address> --master-port {port}"
    )


def kill(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.kill()


def run_locust(
    request: LoadTestRequest, target: tuple[str, ...], reporter: Reporter, popen: Callable[..., subprocess.Popen[str]]
) -> LoadTestResult:
    """Start Locust (and its workers), follow it to the end or to its deadline, and judge its summary."""
    ramp, hold = check(request)
    if importlib.util.find_spec("locust") is None:
        raise LoadTestFailed("Locust is not installed here: pip install -e '.[load]' (make test installs it in .venv)")
    request.report_dir.mkdir(parents=True, exist_ok=True)
    stem = request.report_dir / f"{request.stack}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    html, log_path, summary = stem.with_suffix(".html"), stem.with_suffix(".log"), stem.with_suffix(".json")
    env = {**os.environ, "CYLINK_LOADTEST": settings(request, target, ramp, hold, summary)}
    port = free_port()
    argvs = commands(request, ramp, hold, html, port)
    reporter.step(
        f"Load test: {request.users} users on {', '.join(target)} ({request.protocol}), ramp {ramp:g}s, hold {hold:g}s"
    )
    if request.remote_workers:
        reporter.step(remote_hint(request, env["CYLINK_LOADTEST"], port))
    started, limit = time.monotonic(), ramp + hold + STARTUP_SECONDS
    with open(log_path, "w", encoding="utf-8") as log:
        procs = [
            popen(
                argv,
                stdout=log if i else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=request.report_dir,
            )
            for i, argv in enumerate(argvs)
        ]
        overdue = threading.Timer(limit, kill, [procs])  # it stops by itself, whatever happens
        overdue.start()
        try:
            assert procs[0].stdout is not None
            watch(procs[0].stdout, log, reporter, started)
        finally:
            overdue.cancel()
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    if time.monotonic() - started >= limit:
        raise LoadTestFailed(f"Locust did not stop within {limit:g} s and was stopped: see {log_path}")
    if not summary.is_file():
        raise LoadTestFailed(f"Locust ended without a summary (exit {procs[0].returncode}): see {log_path}")
    return result(json.loads(summary.read_text()), request, target, (html, log_path))


def loadtest(
    request: LoadTestRequest,
    cfn: Callable[[], CloudFormationClient],
    reporter: Reporter,
    popen: Callable[..., subprocess.Popen[str]] = subprocess.Popen,
) -> LoadTestResult:
    """Check, find the target, run, show the table; ``LoadTestFailed`` (exit 1) when it did not hold."""
    check(request)
    target = targets(request, cfn)
    outcome = run_locust(request, target, reporter, popen)
    reporter.show(outcome)
    reporter.result(outcome.document())
    if outcome.problems:
        raise LoadTestFailed(f"the load test did not hold: {'; '.join(outcome.problems)} (report: {outcome.report})")
    return outcome
