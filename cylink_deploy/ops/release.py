"""``deploy.py release``: ship an image tag to both services through a reviewed change set (guide §12).

Without ``--build`` the tag must already be in *both* ECR repositories (``cfn.images``: the one check that
``deploy --image-tag`` runs too), before any change set: a missing tag would otherwise keep CloudFormation
waiting until the circuit breaker gives up. With ``--build`` the images are built with the docker CLI,
pushed after an ECR login through a pipe (the password is never in argv, and docker's credential file lives
in a temporary DOCKER_CONFIG removed after the run), and their digests verified in ECR. Then it is ``deploy
--image-tag TAG``, with the ECS rollout shown beside the stack events (``rollout.RolloutWatch``).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cylink_deploy import aws, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.images import Repository, image_digest, repositories, require_images
from cylink_deploy.errors import BadInput, DeploymentFailed, DockerError, StackStateError
from cylink_deploy.jobs import build as build_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs.views import Waiting
from cylink_deploy.ops import image_check, rollout
from cylink_deploy.project import Project
from templates_src.common import FRONTEND

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient

DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
PUSH = "ECR push"  # Reporter.sent: images are being pushed (what Ctrl-C leaves behind, cli.AFTER_SENT)
PLATFORM = "linux/amd64"  # the task definitions run X86_64 (an image built on Apple silicon would not start)


class TagTaken(BadInput):
    """The tag already names another image (exit 2): ECR tags are immutable."""


@dataclass(frozen=True)
class BuildSpec:
    """``--build``: where each service's Dockerfile lives."""

    dirs: dict[str, Path]  # service name -> build context


@dataclass(frozen=True)
class ReleaseRequest:
    env: str
    image_tag: str
    stack_name: str | None = None
    build: BuildSpec | None = None
    rollback: bool = False  # --rollback-to: the same release, described as the way back
    overrides: dict[str, str] = field(default_factory=dict)  # a release is a deploy: the same overrides apply
    allow_replacement: frozenset[str] = frozenset()
    supersede: bool = False  # as for deploy: a change set under review may become obsolete
    skip_image_check: bool = False  # --skip-image-check: the team knows better than image_check.gaps

    @property
    def stack(self) -> str:
        return model.stack_name(self.env, self.stack_name)

    def deploy_request(self) -> model.DeployRequest:
        return model.DeployRequest(
            self.env,
            self.stack_name,
            dict(self.overrides),
            self.image_tag,
            self.allow_replacement,
            supersede=self.supersede,
            images_checked=True,  # release checks (or builds and pushes) the tag itself, before the deploy
            image_tag_flag="--rollback-to" if self.rollback else "--image-tag",
        )


# --- docker -----------------------------------------------------------------------------------

Run = Callable[..., "subprocess.CompletedProcess[str]"]


class Docker:
    """The docker CLI, run as a subprocess (``run`` is injectable for tests)."""

    def __init__(self, run: Run = subprocess.run, executable: str | None = None) -> None:
        self._run = run
        self.executable = executable

    def check(self) -> None:
        """docker must be installed and its daemon reachable."""
        self.executable = self.executable or shutil.which("docker")
        if not self.executable:
            raise DockerError(
                "docker is not installed (not on PATH): install Docker, or push both images yourself and release "
                "without --build"
            )
        info = self._run([self.executable, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if info.returncode != 0:
            first = (info.stderr or info.stdout or "").strip().splitlines()[:1]
            raise DockerError(
                f"docker is not running ({first[0] if first else 'docker info failed'}): start Docker Desktop or the "
                "docker daemon"
            )

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        assert self.executable, "check() first"
        done = self._run([self.executable, *args], capture_output=True, text=True, input=input, env=env)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:]
            raise DockerError(
                f"docker {args[0]} failed ({tail[0] if tail else f'exit {done.returncode}'}): fix it and run the "
                "release again"
            )
        return str(done.stdout)


@contextmanager
def ecr_login(ecr: ECRClient, docker: Docker) -> Iterator[dict[str, str]]:
    """Log docker in to ECR with a token from GetAuthorizationToken, passed on stdin; yields the
    environment for docker commands that need the login. The credentials file docker writes is in a
    temporary DOCKER_CONFIG that is removed when the block ends."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    with tempfile.TemporaryDirectory(prefix="cylink-docker-") as config:
        env = {**os.environ, "DOCKER_CONFIG": config}
        docker("login", "--username", user, "--password-stdin", data["proxyEndpoint"], input=password, env=env)
        yield env


def local_digests(docker: Docker, ref: str) -> list[str]:
    """Digests the local image is known by in registries (after a push or pull)."""
    out = docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref)
    return [line.split("@", 1)[1] for line in out.split() if "@" in line]


def build_and_push(
    ecr: ECRClient,
    docker: Docker,
    repos: Sequence[Repository],
    tag: str,
    spec: BuildSpec,
    api_url: str,
    reporter: Reporter,
) -> dict[str, str]:
    """Build both images, refuse a tag that names another image, push, verify digests; service -> digest."""
    docker.check()
    for repo in repos:
        build_args = (
            ["--build-arg", f"NEXT_PUBLIC_API_URL={api_url}"] if repo.service is FRONTEND else []
        )  # inlined by Next.js at build time
        reporter.step(f"Building {repo.uri}:{tag} from {spec.dirs[repo.service.name]}")
        docker(
            "build",
            "--platform",
            PLATFORM,
            *build_args,
            "--tag",
            f"{repo.uri}:{tag}",
            str(spec.dirs[repo.service.name]),
        )
    digests: dict[str, str] = {}
    to_push = []
    for repo in repos:  # every check before any push: a refusal leaves both repositories untouched
        existing = image_digest(ecr, repo.name, tag)
        if existing is None:
            to_push.append(repo)
        elif existing in local_digests(docker, f"{repo.uri}:{tag}"):
            reporter.step(f"{repo.name}:{tag} is already in ECR with the digest just built ({existing[:19]}...)")
            digests[repo.service.name] = existing
        else:
            raise TagTaken(
                f"tag {tag} already names another image in {repo.name} ({existing}); tags are immutable: release a "
                "new tag"
            )
    if to_push:
        reporter.sent(PUSH)  # from here an interruption may leave an image pushed under the tag
        with ecr_login(ecr, docker) as env:
            for repo in to_push:
                out = docker("push", f"{repo.uri}:{tag}", env=env)
                pushed = DIGEST.findall(out)
                stored = image_digest(ecr, repo.name, tag)
                if not pushed or stored != pushed[-1]:
                    raise DockerError(
                        f"pushed {repo.uri}:{tag} but ECR has digest {stored} (docker reported "
                        f"{pushed[-1] if pushed else 'none'}): check the registry"
                    )
                reporter.step(f"Pushed {repo.uri}:{tag} ({stored})")
                digests[repo.service.name] = pushed[-1]
    return digests


# --- release ----------------------------------------------------------------------------------


class _ReleaseDocument:
    """Passes everything through to the reporter, adding the release's fields to the result document."""

    def __init__(self, reporter: Reporter, fields: dict[str, Any]) -> None:
        self._reporter, self.fields = reporter, fields

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reporter, name)

    def result(self, document: dict[str, Any]) -> None:
        self._reporter.result({**document, **self.fields})


WithFields = _ReleaseDocument  # any job that is a deploy with fields of its own (deploy.py event)


def running_tags(ecs: ECSClient, cluster: str, names: dict[str, str]) -> dict[str, str]:
    """Service -> the image tag its primary deployment runs now."""
    states = rollout.describe_services(ecs, cluster, names)
    tags = rollout.image_tags(ecs, [s.task_definition for s in states])
    return {s.name: tags.get(s.task_definition, "?") for s in states}


def banner(tag: str, previous: str, rollback: bool, digests: dict[str, str]) -> str:
    """What a release is about to do, and which way: a rollback names the tag it leaves and the one it goes to."""
    what = (
        f"Rolling back from {previous or 'no tag'} to {tag}"
        if rollback
        else f"Releasing {tag} (running now: {previous or 'none'})"
    )
    return f"{what}; in both repositories: " + ", ".join(f"{k} {v[:19]}..." for k, v in sorted(digests.items()))


def release(
    request: ReleaseRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    prepared: build_job.Prepared | None = None,
    sleep: Callable[[float], None] = time.sleep,
    docker: Docker | None = None,
    fetch: image_check.Fetch = image_check.fetch_url,
) -> model.Result:
    """Check (or build and push) the images and their configs, then deploy the tag with the rollout in view."""
    tag = request.image_tag
    aws.account_id(clients.sts)
    described = st.describe(clients.cloudformation, request.stack)
    if described is None:
        raise StackStateError(
            model.missing_stack(request.stack, request.env, request.stack_name, clients.region, ", then release")
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    previous = next(
        (p.get("ParameterValue", "") for p in described.get("Parameters", []) if p["ParameterKey"] == "ImageTag"), ""
    )
    if not request.supersede:  # before anything is built or pushed (the deploy checks again, and warns)
        deploy_job.guard_reviews(clients.cloudformation, request.stack, reporter, True, False)
    repos = repositories(outputs, request.stack)
    if request.build:
        digests = build_and_push(
            clients.ecr, docker or Docker(), repos, tag, request.build, outputs.get("ApiUrl", ""), reporter
        )
    else:
        reporter.show(Waiting(f"Checking {tag} in ECR and its images against their task definitions"))
        digests = require_images(clients.ecr, repos, tag, rollback=request.rollback)
    if request.skip_image_check:
        reporter.warn(f"--skip-image-check: the images of {tag} are not compared with their task definitions")
    else:
        image_check.check_images(clients.ecr, repos, tag, reporter, fetch)
    reporter.step(banner(tag, previous, request.rollback, digests))
    names, cluster = rollout.service_names(outputs), outputs.get("ClusterName", "")
    watch = rollout.RolloutWatch(clients.ecs, cluster, names, reporter, polling.now()) if names and cluster else None
    fields = {"imageTag": tag, "previousImageTag": previous, "imageDigests": digests}
    try:
        result = deploy_job.deploy(
            request.deploy_request(), clients, _ReleaseDocument(reporter, fields), project, prepared, sleep, watch=watch
        )
    except DeploymentFailed as exc:
        if watch is None or not (watch.failure or watch.stop_reasons or "Circuit Breaker" in str(exc)):
            raise
        running = running_tags(clients.ecs, cluster, names)
        now_running = ", ".join(f"{k} {v}" for k, v in sorted(running.items())) or previous
        raise DeploymentFailed(
            f"release {tag} rolled back: {watch.verdict() or exc}; running: {now_running} "
            f"(previous tag {previous or 'none'})"
        ) from None
    if watch is not None:
        watch.poll()  # the settled state, for the record
    return result
