"""Shared fixtures: the rendered templates (in memory, as parsed JSON) and small lookup helpers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import pytest

from cylink_deploy.project import Project
from templates_src import render

REPO = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def emulator():
    """One emulator (moto server on 127.0.0.1) per test process; tests use unique stack names."""
    from cylink_deploy.emulator import Emulator

    with Emulator() as emu:
        yield emu


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
