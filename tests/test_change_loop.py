"""The loop a team runs every day, as a user runs it: `deploy.py serve-local` in one process, deploy.py
commands in others, the AWS CLI beside them. Create without a tag -> redeploy (no changes) -> change a
number that reaches one child, one that reaches several, a toggle that adds resources -> release a tag ->
redeploy without a tag (no changes) -> review, then execute -> delete -> recreate (refused while the
retained log groups and repositories are there, with the commands that clear them) -> recreate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from cylink_deploy.emulator import FAKE_CREDENTIALS

from .conftest import REPO, credentials, free_port, image_manifest, project_copy, serve_local
from .contract import parsed

REGION = "ap-northeast-1"
AWS_CLI = Path(sys.executable).parent / "aws"
pytestmark = pytest.mark.slow  # serve-local, deploy.py and the AWS CLI as processes


@pytest.fixture(scope="module")
def endpoint():
    with serve_local(REPO, os.environ, free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def user(endpoint, tmp_path_factory):
    """Runs deploy.py and the AWS CLI as a user in another shell would (own build dir, fake credentials)."""
    project = project_copy(tmp_path_factory.mktemp("loop"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    prefix = f"lp{uuid.uuid4().hex[:6]}"
    stack = f"cylink-{prefix}"
    params_file = project / "params" / "dev.yaml"
    params_file.write_text(params_file.read_text().replace("NamePrefix: cylink", f"NamePrefix: {prefix}"))

    class User:
        prefix: str  # the NamePrefix and stack of this test's environment
        stack: str

        def deploy_py(self, *argv: str, expect: int = 0) -> dict:
            cmd, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("deploy", argv)
            proc = subprocess.run(
                [
                    sys.executable,
                    str(REPO / "deploy.py"),
                    cmd,
                    "--env",
                    "dev",
                    "--stack-name",
                    stack,
                    "--json",
                    "--yes",
                    *rest,
                    "--project-dir",
                    str(project),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == expect, f"{argv}: {proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr
            self.stderr = proc.stderr
            return parsed(cmd, proc.stdout) or {}

        def edit(self, **values: str) -> None:
            """Change parameters the way the team does: in params/dev.yaml."""
            text = params_file.read_text()
            for key, value in values.items():
                lines = [line for line in text.splitlines() if not line.strip().startswith(f"{key}:")]
                at = lines.index("parameters:") + 1
                text = "\n".join(lines[:at] + [f'  {key}: "{value}"'] + lines[at:]) + "\n"
            params_file.write_text(text)

        def aws(self, *argv: str) -> dict:
            proc = subprocess.run(
                [str(AWS_CLI), *argv, "--output", "json"], env=env, capture_output=True, text=True, timeout=60
            )
            assert proc.returncode == 0, proc.stderr[-2000:]
            return json.loads(proc.stdout) if proc.stdout.strip() else {}

        def client(self, service: str):
            # any service by name: the stubs type only literal names, so this client is Any
            return boto3.client(  # type: ignore[call-overload]
                service, region_name=REGION, endpoint_url=endpoint, **credentials(FAKE_CREDENTIALS)
            )

    u = User()
    u.prefix, u.stack = prefix, stack
    return u


def changes_in(doc: dict) -> dict[str, list[tuple[str, str]]]:
    return {cs["stackPath"]: [(c["action"], c["logicalId"]) for c in cs["changes"]] for cs in doc.get("changeSets", [])}


def parameter_diffs(doc: dict) -> list[tuple[str, str, str, str]]:
    return [
        (cs["stackPath"], p["key"], p["old"], p["new"]) for cs in doc.get("changeSets", []) for p in cs["parameters"]
    ]


def put_image(user, service: str, tag: str) -> None:
    user.client("ecr").put_image(
        repositoryName=f"{user.prefix}/{service}", imageManifest=image_manifest(service[0]), imageTag=tag
    )


def test_the_everyday_loop_works_every_time(user):
    # create without an image tag: everything but the services
    doc = user.deploy_py()
    assert doc["status"] == "DEPLOYED" and "ServicesStack" not in {c[1] for c in changes_in(doc)["(root)"]}
    assert (
        user.aws("cloudformation", "describe-stacks", "--stack-name", user.stack)["Stacks"][0]["StackStatus"]
        == "CREATE_COMPLETE"
    )

    # the same again: nothing to do, nothing uploaded
    doc = user.deploy_py()
    assert doc["status"] == "NO_CHANGES" and doc["uploaded"] == []

    # a number that reaches one child (the registry) changes that child only; no kept parameter is "removed"
    user.edit(EcrKeepImages="20")
    doc = user.deploy_py()
    assert doc["status"] == "DEPLOYED"
    assert [d for d in parameter_diffs(doc) if d[0] == "(root)"] == [("(root)", "EcrKeepImages", "30", "20")]
    assert changes_in(doc)["(root)"] == [("Modify", "RegistryStack")]

    # a number that reaches several children, given on the command line for once
    doc = user.deploy_py("--parameter", "LogRetentionDays=14")
    touched = {c[1] for c in changes_in(doc)["(root)"]}
    assert (
        doc["status"] == "DEPLOYED" and {"NetworkStack", "ClusterStack"} <= touched and "RegistryStack" not in touched
    ), touched
    assert ("(root)", "LogRetentionDays", "7", "14") in parameter_diffs(doc)
    assert not [d for d in parameter_diffs(doc) if "(removed)" in d], parameter_diffs(doc)

    # a toggle that adds resources
    user.edit(WafEnabled="true")
    doc = user.deploy_py()
    assert {"LoadBalancerStack", "MonitoringStack"} <= {
        c[1] for c in changes_in(doc)["(root)"]
    }  # the ACL and its alarm
    assert ("(root)", "LogRetentionDays", "14", "7") in parameter_diffs(
        doc
    )  # the file says 7: the one-off override is undone, visibly
    acls = user.aws("wafv2", "list-web-acls", "--scope", "REGIONAL")["WebACLs"]
    assert f"{user.prefix}-alb" in [a["Name"] for a in acls], acls

    # release a tag: refused while an image is missing, then rolled out once both are pushed
    put_image(user, "backend", "1.0.0")
    user.deploy_py("release", "--image-tag", "1.0.0", expect=2)
    assert f"{user.prefix}/frontend" in user.stderr
    put_image(user, "frontend", "1.0.0")
    doc = user.deploy_py("release", "--image-tag", "1.0.0")
    assert doc.get("status") == "DEPLOYED", doc
    assert (
        changes_in(doc)["(root)"] == [("Add", "ServicesStack")] or ("Add", "ServicesStack") in changes_in(doc)["(root)"]
    )
    assert len(user.aws("ecs", "list-services", "--cluster", f"{user.prefix}-cluster")["serviceArns"]) == 2

    # redeploy without a tag keeps the release: no changes
    doc = user.deploy_py()
    assert doc["status"] == "NO_CHANGES", changes_in(doc)

    # review, then execute exactly that change set; executed once, never twice
    user.edit(EcrKeepImages="25")
    review = user.deploy_py("--no-execute")
    # the registry, and what reads its outputs (CloudFormation re-evaluates those, as on AWS)
    assert review["status"] == "REVIEW" and ("Modify", "RegistryStack") in changes_in(review)["(root)"]
    assert {c[1] for c in changes_in(review)["(root)"]} <= {"RegistryStack", "ServicesStack"}, changes_in(review)
    doc = user.deploy_py("execute", review["changeSetName"])
    assert doc["status"] == "DEPLOYED"
    user.deploy_py("execute", review["changeSetName"], expect=4)
    stack = user.aws("cloudformation", "describe-stacks", "--stack-name", user.stack)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["EcrKeepImages"] == "25"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["ImageTag"] == "1.0.0"

    # delete: the retained resources stay
    doc = user.deploy_py("delete")
    assert doc["status"] == "DELETED" and doc["retained"]
    assert user.stack not in [s["StackName"] for s in user.aws("cloudformation", "describe-stacks")["Stacks"]]

    # recreate: refused before anything is created, naming what is in the way and how to clear it
    user.deploy_py(expect=4)
    assert (
        f"/ecs/{user.prefix}-backend" in user.stderr
        and f"aws ecr delete-repository --repository-name {user.prefix}/backend --force --region {REGION}"
        in user.stderr
    )
    assert len([line for line in user.stderr.splitlines() if line.startswith("error:")]) == 1
    commands = user.stderr.split("remove them (their logs/images go): ", 1)[1].strip().split("; ")
    for command in commands:  # the user runs exactly what was printed
        user.aws(*command.split()[1:])
    doc = user.deploy_py()
    assert doc["status"] == "DEPLOYED"
    assert (
        user.aws("cloudformation", "describe-stacks", "--stack-name", user.stack)["Stacks"][0]["StackStatus"]
        == "CREATE_COMPLETE"
    )
