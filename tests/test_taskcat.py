"""taskcat: the configuration is valid for real AWS, and a full `taskcat test run` passes against the
project's own emulator (and fails when a template is broken)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
import yaml

from cylink_deploy.emulator import FAKE_CREDENTIALS
from templates_src import render

from .conftest import REPO, credentials

TASKCAT_PY = REPO / ".venv-taskcat" / "bin" / "python"
CONFIG = yaml.safe_load((REPO / ".taskcat.yml").read_text())


@pytest.fixture(scope="module")
def taskcat_project(tmp_path_factory):
    """A taskcat project of the test's own (never the repo's build/): the built templates and .taskcat.yml."""
    assert TASKCAT_PY.exists(), "taskcat is installed by 'make test' into .venv-taskcat (it pins jsonschema<4)"
    project = tmp_path_factory.mktemp("taskcat-project")
    render.write(project / "build", render.render())
    shutil.copy(REPO / ".taskcat.yml", project / ".taskcat.yml")
    return project


@pytest.fixture(scope="module")
def emulator_url(emulator):
    """This test process's emulator, served over HTTP to taskcat (which runs in another virtual environment)."""
    return emulator.endpoint


def taskcat(*args: str, cwd: Path, endpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if endpoint:
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
                "AWS_DEFAULT_REGION": "ap-northeast-1",
            }
        )
    return subprocess.run(
        [str(TASKCAT_PY), str(REPO / "tools" / "taskcat_local.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_taskcat_lint_passes_and_validates_the_config_with_taskcats_schema(taskcat_project):
    proc = taskcat("lint", cwd=taskcat_project)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert f"Linting passed for file: {taskcat_project}/build/root.json" in out
    code = (
        "from taskcat._config import Config; from pathlib import Path; "
        "Config.create(project_config_path=Path('.taskcat.yml'), project_root=Path('.'))"
    )
    schema = subprocess.run([str(TASKCAT_PY), "-c", code], cwd=taskcat_project, capture_output=True, text=True)
    assert schema.returncode == 0, schema.stderr[-2000:]


def test_the_tests_use_only_parameters_the_root_template_has_and_unique_names():
    root = json.loads(render.render()["root.json"])["Parameters"]
    project = CONFIG["project"]["parameters"]
    for test in CONFIG["tests"].values():
        for name in {**project, **test.get("parameters", {})}:
            assert name in root, name
    assert project["NamePrefix"] == "$[taskcat_random-string]"
    assert project["TemplatesBucket"] == "$[taskcat_autobucket]"
    assert project["TemplatesKeyPrefix"] == f"{CONFIG['project']['name']}/build/"
    assert "ap-northeast-1" in CONFIG["project"]["regions"] and len(CONFIG["project"]["regions"]) >= 2
    assert CONFIG["tests"]["dev-minimal"]["parameters"]["EgressMode"] == "none"
    assert CONFIG["tests"]["prod-like"]["parameters"]["EgressMode"] == "nat-per-az"
    assert CONFIG["tests"]["prod-like"]["parameters"]["WafEnabled"] == "true"


def test_no_local_only_setting_leaks_into_the_real_config():
    text = (REPO / ".taskcat.yml").read_text()
    assert "sig_v2" not in text and "127.0.0.1" not in text and "endpoint" not in text.lower()


@pytest.mark.slow
def test_a_full_local_run_creates_and_deletes_every_tests_stacks(emulator_url, taskcat_project, tmp_path):
    proc = taskcat(
        "test",
        "run",
        "--enable-sig-v2",
        "--minimal-output",
        "--output-directory",
        str(tmp_path),
        cwd=taskcat_project,
        endpoint=emulator_url,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "index.html").read_text()
    expected = len(CONFIG["tests"]) * len(CONFIG["project"]["regions"])
    assert report.count("CREATE_COMPLETE") == expected
    for region in CONFIG["project"]["regions"]:
        cfn = boto3.client(
            "cloudformation", region_name=region, endpoint_url=emulator_url, **credentials(FAKE_CREDENTIALS)
        )
        statuses = [
            s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackName"].startswith("tCaT-cylink-")
        ]
        assert statuses and set(statuses) == {"DELETE_COMPLETE"}, statuses


@pytest.mark.slow
def test_a_broken_template_fails_the_local_run(emulator_url, taskcat_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(taskcat_project / "build", project / "build")
    shutil.copy(REPO / ".taskcat.yml", project / ".taskcat.yml")
    (network,) = (project / "build").glob("network-*.json")
    template = json.loads(network.read_text())
    template["Resources"]["PublicSubnet1"]["Properties"]["CidrBlock"] = "192.168.1.0/24"  # outside the VPC
    network.write_text(json.dumps(template))
    proc = taskcat(
        "test",
        "run",
        "--enable-sig-v2",
        "--minimal-output",
        "--test-names",
        "dev-minimal",
        "--regions",
        "ap-northeast-1",
        "--output-directory",
        str(tmp_path / "out"),
        cwd=project,
        endpoint=emulator_url,
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "One or more stacks failed to create" in proc.stdout + proc.stderr
    assert "InvalidSubnet.Range" in proc.stdout + proc.stderr  # failed for the broken subnet, not anything else
