"""Shared fixtures: the rendered templates (in memory, as parsed JSON) and small lookup helpers; the
emulator shared by a test process; and the line between the fast tier and the rest (``slow``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generator, Iterator, TypedDict

import pytest

from cylink_deploy.project import Project
from templates_src import render

REPO = Path(__file__).resolve().parent.parent

# The fast tier (`make test-fast`, `pytest -m "not slow"`): pure, template and Stubber tests. A test that
# serves the emulator or starts a process is marked slow: by hand (pytestmark or a decorator), or here if
# it uses the emulator fixtures. An unmarked test that does either fails, whichever tier runs it, so a
# slow test cannot slip into the fast tier unnoticed.
EMULATOR_FIXTURES = {"emulator", "aws_env"}
FAST_PROGRAMS = {"git"}  # milliseconds: a deploy records the commit it deploys
_INFRASTRUCTURE: list[bool] = []  # non-empty while conftest itself starts something (see shared_emulator_stopped)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if EMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _program(args: Any) -> str:
    """The program Popen was asked to start: a command line's first word, or the first argument."""
    if isinstance(args, (str, bytes, os.PathLike)):
        args = os.fsdecode(args).split() or [""]
    return Path(os.fsdecode(args[0])).name


@contextmanager
def _refusing_slow_work(refused: list[str]) -> Iterator[None]:
    """Make serving HTTP (the emulator: werkzeug's server) or starting a process other than FAST_PROGRAMS
    fail, and note it."""
    import werkzeug.serving

    start_process, make_server = subprocess.Popen._execute_child, werkzeug.serving.make_server  # type: ignore[attr-defined]

    def refuse(what: str) -> None:
        refused.append(what)
        pytest.fail(f"{what}: not in the fast tier, so mark the test @pytest.mark.slow", pytrace=False)

    def guarded_start(self: subprocess.Popen[Any], args: Any, *rest: Any) -> None:
        if _program(args) not in FAST_PROGRAMS and not _INFRASTRUCTURE:
            refuse(f"starts a process ({_program(args)})")
        start_process(self, args, *rest)

    def guarded_make_server(*args: Any, **kwargs: Any) -> Any:
        if not _INFRASTRUCTURE:
            refuse("serves the emulator (an HTTP server)")
        return make_server(*args, **kwargs)

    subprocess.Popen._execute_child = guarded_start  # type: ignore[attr-defined]
    werkzeug.serving.make_server = guarded_make_server
    try:
        yield
    finally:
        subprocess.Popen._execute_child = start_process  # type: ignore[attr-defined]
        werkzeug.serving.make_server = make_server


def _guarded(item: pytest.Item) -> Generator[None, Any, Any]:
    """One phase of a test not marked slow, with slow work refused; failed if any was tried, even if the
    code under test swallowed the refusal."""
    if item.get_closest_marker("slow"):
        return (yield)
    refused: list[str] = []
    try:
        with _refusing_slow_work(refused):
            return (yield)
    finally:
        if refused:
            pytest.fail(f"{refused[0]}: not in the fast tier, so mark the test @pytest.mark.slow", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _guarded(item))


# The files that take longest, in that order (measured), started first under `--dist loadfile`: xdist
# orders files by their number of tests, which left the one-test change loop to start last and finish
# alone on one worker. Longest first keeps the workers' ends together. Only the order changes.
LONGEST_FIRST = [
    "tests/test_change_loop.py",
    "tests/test_deploy_local.py",
    "tests/test_taskcat.py",
    "tests/test_guard_gate.py",
    "tests/test_exit_paths.py",
    "tests/test_day2_local.py",
    "tests/test_lint_and_determinism.py",
    "tests/test_deployer_policy.py",
    "tests/test_policy_gate.py",
    "tests/test_workflow.py",
    "tests/test_emulator_fixes.py",
    "tests/test_github_workflows.py",
    "tests/test_lint_process.py",
]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: still runs with -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _assign_work_unit(self, node: Any) -> None:
            rank = {scope: LONGEST_FIRST.index(scope) for scope in self.workqueue if scope in LONGEST_FIRST}
            if rank:
                self.workqueue.move_to_end(min(rank, key=rank.__getitem__), last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


class Built:
    """The rendered templates, looked up by stack name ("root", "network", ...)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.by_stem = {
            name.rsplit("-", 1)[0] if name != render.ROOT_FILE else "root": json.loads(text)
            for name, text in files.items()
        }

    def __getitem__(self, stem: str) -> dict[str, Any]:
        return self.by_stem[stem]

    def resources(self, stem: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self[stem]["Resources"].items() if v["Type"] == type_}

    def resource(self, stem: str, logical_id: str) -> dict[str, Any]:
        return self[stem]["Resources"][logical_id]

    def props(self, stem: str, logical_id: str) -> dict[str, Any]:
        return self.resource(stem, logical_id).get("Properties", {})


class Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


def credentials(fake: Mapping[str, str]) -> Credentials:
    """The emulator's FAKE_CREDENTIALS (a plain dict) as boto3's keyword arguments, typed."""
    return {"aws_access_key_id": fake["aws_access_key_id"], "aws_secret_access_key": fake["aws_secret_access_key"]}


@pytest.fixture(scope="session")
def built() -> Built:
    return Built(render.render())


@pytest.fixture(scope="session")
def built_dir(tmp_path_factory: pytest.TempPathFactory, built: Built) -> Path:
    out = tmp_path_factory.mktemp("build")
    render.write(out, built.files)
    return out


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The repository's params/ and policies/, with a build directory of the test run's own."""
    return Project(REPO, build_override=tmp_path_factory.mktemp("project-build"))


def project_copy(where: Path) -> Path:
    """A project directory for a deploy.py subprocess (--project-dir): its own build/, the repo's inputs."""
    import shutil

    for name in ("params", "policies"):
        shutil.copytree(REPO / name, where / name)
    return where


_SHARED: list[Any] = []  # this process's shared emulator, once a test has asked for it


@pytest.fixture(scope="session")
def emulator():
    """One emulator (moto server on 127.0.0.1) per test process; tests use unique stack names."""
    from cylink_deploy.emulator import Emulator

    with Emulator() as emu:
        _SHARED.append(emu)
        try:
            yield emu
        finally:
            _SHARED.remove(emu)


@pytest.fixture(scope="module")
def fresh_emulator(emulator):
    """The shared emulator emptied for this module (moto reset): for tests that need an empty account
    (a first upload, account-wide names). A process runs one module at a time, so no other test's
    stacks are lost."""
    from moto.moto_api import _internal as moto_api

    moto_api.moto_api_backend.reset()
    return emulator


@contextmanager
def shared_emulator_stopped() -> Iterator[None]:
    """Stop this process's shared emulator (its server and its hold on the fixes) for tests that apply
    other fix sets or need moto as shipped; afterwards it serves again, moto reset, on a free port (its
    old one may be taken by then; tests read ``emulator.endpoint`` when they start). The restart is the
    session's, not a test's: it may happen while a fast test's teardown ends the module."""
    stopped = list(_SHARED)
    for emu in stopped:
        emu.stop()
    try:
        yield
    finally:
        _INFRASTRUCTURE.append(True)
        try:
            for emu in stopped:
                emu.port = 0
                emu.start()
        finally:
            _INFRASTRUCTURE.pop()


@pytest.fixture
def aws_env(emulator, monkeypatch):
    """This test process's environment pointed at the emulator, as a user's shell would be."""
    from cylink_deploy.emulator import FAKE_CREDENTIALS

    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    return emulator


def image_manifest(layer: str = "a") -> str:
    """A minimal Docker image manifest for ECR PutImage (``layer`` makes the digest differ)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": "sha256:" + "c" * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": "sha256:" + layer * 64,
                }
            ],
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_local(sandbox: Path, env: Mapping[str, str], port: int) -> Iterator[str]:
    """deploy.py serve-local from ``sandbox`` (a checkout) on ``port`` until the block ends; its endpoint."""
    proc = subprocess.Popen(
        [sys.executable, str(sandbox / "deploy.py"), "serve-local", "--port", str(port)],
        cwd=sandbox,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
