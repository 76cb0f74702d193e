"""README.md, README.ja.md and the pages of docs/ (English and Japanese) are true when tried literally (issue 20):
every fenced ```bash block is an example a reader may paste, so each one is run as written, command by command,
in a fresh sandbox: a directory with the checkout's deploy.py and templates_src (symlinked) and a copy of params/ and
policies/, the project's virtualenv first on PATH (``python``, ``aws``), and a fresh emulator
(``serve-local``) on a free port with the environment the local-emulator block (docs/emulator.md) exports. Every
command must exit 0 without a traceback; prompts are answered ``y`` on a terminal, as a reader would.

Conventions, kept few on purpose:
- ``<!-- readme-test: not run: REASON -->`` on the line before a block: not run, for the reason given
  (``NOT_RUN`` lists them, so a new one is a deliberate change to this test);
- ``<!-- readme-test: given A, B -->``: the block's prose states a precondition, set up by ``GIVEN``;
- a block's own ``python deploy.py serve-local`` is the emulator the test started, and its ``4566`` is
  that emulator's port (two runs on one machine must not share a port).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from cylink_deploy.commands import registry
from cylink_deploy.commands.legacy import normalize
from cylink_deploy.emulator import FAKE_CREDENTIALS

from .conftest import REPO, credentials, free_port, image_manifest, serve_local
from .docspages import documents, pairs

READMES = tuple(documents())
MARKER = re.compile(r"^<!-- readme-test: (?P<what>not run|given)(?::)? (?P<detail>.+?) -->$")
REGION = "ap-northeast-1"
# The blocks not run (their first command), each for the reason its marker gives.
NOT_RUN = {
    "make local": "creates .venv; its deploy is the local-emulator block's command with --local",
    "python deploy.py release --env prod --image-tag v1.1.0 --build --backend-dir ../cylink/backend "
    "--frontend-dir ../cylink/frontend": "docker and the application's sources",
    "python deploy.py release --env prod --image-tag v1.0.0 --build --backend-dir ../cylink/backend "
    "--frontend-dir ../cylink/frontend": "docker and the application's sources",
    "python deploy.py bootstrap --profile cylink-dev-admin --github-repo OWNER/REPO --github-ref refs/heads/main "
    "--github-ref 'refs/tags/v*' --github-environment dev --github-environment staging": "two accounts' profiles",
    "python deploy.py loadtest --env staging --users 1000 --ramp 2m --hold 10m": "an environment serving the app "
    "(tests/test_loadtest_local.py runs loadtest against the reference stack on loopback)",
    "python deploy.py --env staging": "docker, for release --build of the reference application",
    ".venv/bin/pre-commit install": "writes the checkout's .git/hooks",
    "make taskcat-venv && .venv/bin/python deploy.py build": "a sandbox AWS account",
    "python deploy.py serve-local --port 4566 &": "tests/test_taskcat.py runs it (minutes)",
}


@dataclass(frozen=True)
class Example:
    readme: str
    line: int
    marker: tuple[str, str] | None  # ("not run" | "given", detail)
    commands: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.readme}:{self.line}"


def commands_of(lines: list[str]) -> tuple[str, ...]:
    """The block's commands: continuations joined, comments and blank lines dropped, a heredoc kept whole."""
    joined, current = [], ""
    for line in lines:
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            joined.append(current)
            current = ""
    found = []
    for line in joined:
        text = re.sub(r"(^|\s)#\s.*$", "", line).strip()
        if text:
            found.append(re.sub(r"\s+", " ", text))
    return tuple(found)


def examples(readme: str) -> list[Example]:
    lines = (REPO / readme).read_text().splitlines()
    found, at = [], 0
    while at < len(lines):
        if lines[at].strip() == "```bash":
            end = lines.index("```", at + 1)
            before = next((line.strip() for line in reversed(lines[:at]) if line.strip()), "")
            match = MARKER.match(before)
            marker = (match["what"], match["detail"]) if match else None
            found.append(Example(readme, at + 1, marker, commands_of(lines[at + 1 : end])))
            at = end
        at += 1
    return found


ALL = [e for readme in READMES for e in examples(readme)]
# The same commands in both languages are run once (the comments differ, the commands may not).
_UNIQUE: dict[tuple[str, ...], Example] = {}
for _e in ALL:
    if not _e.marker or _e.marker[0] != "not run":
        _UNIQUE.setdefault(_e.commands, _e)
RUNNABLE = list(_UNIQUE.values())


def test_every_not_run_block_is_listed_with_its_reason():
    skipped = {e.commands[0]: e.marker[1] for e in ALL if e.marker and e.marker[0] == "not run"}
    assert set(skipped) == set(NOT_RUN), skipped
    assert all(len(reason) > 10 for reason in skipped.values())
    assert len(RUNNABLE) >= 4  # the release, cost, local-emulator and GitHub bootstrap examples at least


@pytest.mark.parametrize("pair", pairs(), ids=lambda pair: pair[0])
def test_both_languages_have_the_same_examples(pair):
    def by(readme: str) -> list[tuple[tuple[str, ...], tuple[str, str] | None]]:
        return sorted(((e.commands, e.marker) for e in ALL if e.readme == readme), key=repr)  # sections differ in order

    english, japanese = pair
    assert by(english) == by(japanese)


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda e: e.id)
def test_every_deploy_py_command_in_an_example_parses(example):
    for command in example.commands:
        argv = shlex.split(command)
        if argv[:2] == ["python", "deploy.py"]:
            normalized, notice = normalize(argv[2:], tuple(registry.COMMANDS))
            assert notice is None, f"old form in {example.id}: {command}"
            registry.parser().parse_args(normalized)  # a bad subcommand or flag raises BadInput (exit 2)


# What a block's prose says holds before it runs.
def _prod_domain(sandbox: Path, endpoint: str) -> None:
    prod = sandbox / "params" / "prod.yaml"
    prod.write_text(prod.read_text().replace("parameters:\n", "parameters:\n  DomainName: cylink.example.com\n", 1))


def _images(tags: list[str]) -> Callable[[Path, str], None]:
    def pushed(sandbox: Path, endpoint: str) -> None:
        ecr = boto3.client("ecr", region_name=REGION, endpoint_url=endpoint, **credentials(FAKE_CREDENTIALS))
        for r, repo in enumerate(ecr.describe_repositories()["repositories"]):
            for i, tag in enumerate(tags):
                layer = "0123456789abcdef"[(r * len(tags) + i) % 16]  # a digest of its own per image
                ecr.put_image(repositoryName=repo["repositoryName"], imageManifest=image_manifest(layer), imageTag=tag)

    return pushed


def _deployed(env_name: str, tags: list[str]) -> Callable[[Path, str], None]:
    """The environment deployed from the sandbox's files, then released with ``tags[0]`` when given (its images
    pushed first, as CI would): what a block that works on a running environment takes for granted."""

    def deployed(sandbox: Path, endpoint: str) -> None:
        env = base_env() | emulator_env(endpoint)
        deploy = [sys.executable, "deploy.py", "--env", env_name, "--yes"]
        steps = [deploy] + ([[*deploy[:2], "release", *deploy[2:], "--image-tag", tags[0]]] if tags else [])
        for i, argv in enumerate(steps):
            if i == 1:
                _images(tags)(sandbox, endpoint)
            proc = subprocess.run(argv, cwd=sandbox, env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr

    return deployed


def givens(detail: str) -> tuple[list[Callable[[Path, str], None]], list[Callable[[Path, str], None]]]:
    """Set-ups before the block, and before its first ``release`` (images CI pushed into the repositories
    the first deploy created)."""
    Setup = Callable[[Path, str], None]
    before: list[Setup] = []
    before_release: list[Setup] = []
    for item in (part.strip() for part in detail.split(",")):
        if item == "prod-domain":
            before.append(_prod_domain)
        elif item.startswith("deployed "):
            before.append(_deployed(item.split()[1], item.split()[2:]))
        elif item.startswith("images "):
            before_release.append(_images(item.split()[1:]))
        else:
            raise AssertionError(f"unknown readme-test given: {item}")
    return before, before_release


def make_sandbox(where: Path) -> Path:
    for name in ("deploy.py", "templates_src"):
        (where / name).symlink_to(REPO / name)
    for name in ("params", "policies"):
        shutil.copytree(REPO / name, where / name)
    return where


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }


def emulator_env(endpoint: str) -> dict[str, str]:
    """What the local-emulator block of docs/emulator.md exports."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }


def run_as_a_reader(command: str, sandbox: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One command in bash, on a terminal that answers ``y`` to every prompt."""
    leader, follower = os.openpty()
    try:
        os.write(leader, b"y\n" * 8)
        return subprocess.run(
            ["bash", "-c", command],
            cwd=sandbox,
            env=env,
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.close(follower)
        os.close(leader)


@pytest.mark.slow
@pytest.mark.parametrize("example", RUNNABLE, ids=lambda e: e.id)
def test_every_readme_example_runs_as_written(example, tmp_path):
    sandbox, port = make_sandbox(tmp_path), free_port()
    before, before_release = givens(example.marker[1]) if example.marker else ([], [])
    env = base_env()
    with serve_local(sandbox, env, port) as endpoint:
        env |= emulator_env(endpoint)
        for setup in before:
            setup(sandbox, endpoint)
        for command in example.commands:
            command = command.replace("4566", str(port))
            if re.match(r"python deploy\.py serve-local\b", command):
                continue  # the emulator this test serves on the free port
            if command.startswith("export "):
                env |= dict(item.split("=", 1) for item in shlex.split(command)[1:])
                continue
            if " release " in f" {command} ":
                for setup in before_release:
                    setup(sandbox, endpoint)
                before_release = []
            proc = run_as_a_reader(command, sandbox, env)
            assert proc.returncode == 0, f"{example.id}: {command}\n{proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.slow
def test_status_is_never_healthy_on_the_emulator_as_the_readme_says(tmp_path):
    """docs/troubleshooting.md: with MOTO_ECS_SERVICE_RUNNING the services run, but the target groups
    report no target, so status exits 1 naming both target groups (and, without it, the services too)."""
    sandbox, port = make_sandbox(tmp_path), free_port()
    env = base_env() | {"MOTO_ECS_SERVICE_RUNNING": "1"}
    with serve_local(sandbox, env, port) as endpoint:
        env |= emulator_env(endpoint)
        deployed = run_as_a_reader("python deploy.py --env dev --yes --image-tag 1.0.0", sandbox, env)
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        status = run_as_a_reader("python deploy.py status --env dev", sandbox, env)
    (error,) = [line for line in status.stderr.splitlines() if line.startswith("error:")]
    assert status.returncode == 1 and "BackendTargetGroup: no healthy target" in error, status.stderr[-3000:]
    assert "FrontendTargetGroup: no healthy target" in error and "running" not in error.split("is not healthy:")[1]
