"""The reference application (app/) follows the image contract the task definitions assume: read statically,
since no Docker engine is needed to run the tests. (Its behaviour under load: test_loadtest_local.py.)"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from templates_src import loadbalancer
from templates_src.common import APP_USER, SERVICES, AppService

from .conftest import REPO

APP = REPO / "app"


def instructions(svc: AppService) -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (APP / svc.name / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def values(svc: AppService, instruction: str) -> list[str]:
    return [args for name, args in instructions(svc) if name == instruction]


def env_of(svc: AppService) -> dict[str, str]:
    pairs = [word.split("=", 1) for args in values(svc, "ENV") for word in shlex.split(args)]
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_the_image_runs_as_the_task_definitions_user_not_root(svc):
    users = values(svc, "USER")
    assert users and users[-1] == APP_USER  # the last USER wins; the task definition says the same


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_every_writable_path_of_the_task_definition_is_a_volume(svc):
    declared = {path for args in values(svc, "VOLUME") for path in json.loads(args)}
    assert declared == set(svc.writable_paths)  # the root filesystem is read-only: nothing else is written


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_every_volume_is_owned_by_the_app_user_before_it_is_declared(svc):
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html: a Fargate bind mount takes
    # the image's ownership of the VOLUME path, else root with 0755 -- unwritable for uid 1000.
    steps = instructions(svc)
    declared_at = next(i for i, (name, _) in enumerate(steps) if name == "VOLUME")
    chowned = [
        word
        for name, args in steps[:declared_at]
        if name == "RUN" and f"chown -R {APP_USER}" in args
        for word in args.split(f"chown -R {APP_USER}", 1)[1].split("&&")[0].split()
    ]
    for path in svc.writable_paths:
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in chowned), path


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_the_image_exposes_the_task_definitions_port_and_the_app_listens_there(svc):
    assert values(svc, "EXPOSE") == [str(svc.port)]
    assert env_of(svc)["PORT"] == str(svc.port)
    server = (APP / svc.name / "server.js").read_text()
    assert f"process.env.PORT || {svc.port}" in server


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_keep_alive_outlasts_the_load_balancers_idle_timeout(svc):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
    # "configure the idle timeout of your application to be larger than the idle timeout configured for the
    # load balancer": the image's default, and the code's default when the variable is unset.
    image = int(env_of(svc)["KEEP_ALIVE_TIMEOUT_SECONDS"])
    default = re.search(r"KEEP_ALIVE_TIMEOUT_SECONDS \|\| (\d+)", (APP / svc.name / "server.js").read_text())
    assert default is not None
    code = int(default[1])
    assert min(image, code) > loadbalancer.IDLE_TIMEOUT_SECONDS


def test_the_backend_answers_the_target_groups_health_check_path():
    from templates_src.common import BACKEND

    assert f"req.url === '{BACKEND.health_path}'" in (APP / "backend" / "server.js").read_text()


def test_the_backends_dependencies_are_locked_and_node_modules_is_not_committed():
    package = json.loads((APP / "backend" / "package.json").read_text())
    lock = json.loads((APP / "backend" / "package-lock.json").read_text())
    for name in ("socket.io", "@socket.io/redis-adapter", "redis"):
        assert lock["packages"][f"node_modules/{name}"]["version"] == package["dependencies"][name]
    tracked = subprocess.run(["git", "ls-files", "app"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "node_modules" not in tracked
