"""Day-2 operations end to end against the emulator over HTTP: release (ECR checks, --build with a
stand-in docker), status, logs. One stack per module (deployed once); each test uses its own tags."""

from __future__ import annotations

import io
import json
import os
import sys
import textwrap
import time
import uuid

import boto3
import pytest

from cylink_deploy import aws
from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model
from cylink_deploy.project import Project

from .conftest import credentials, image_manifest, project_copy
from .recording import RecordingReporter
from .contract import command_of, parsed

REGION = "ap-northeast-1"


def client(emulator, service):
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS))


@pytest.fixture(scope="module")
def prefix():
    return f"cyd{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def project(tmp_path_factory, prefix):
    """A project whose params/dev.yaml names this module's own NamePrefix (a release applies the file)."""
    root = project_copy(tmp_path_factory.mktemp("day2-project"))
    dev = root / "params" / "dev.yaml"
    dev.write_text(dev.read_text().replace("NamePrefix: cylink", f"NamePrefix: {prefix}"))
    return Project(root, build_override=root / "build")


@pytest.fixture(scope="module")
def stack(emulator, project, prefix):
    """A deployed dev stack whose services report their tasks running (moto's MOTO_ECS_SERVICE_RUNNING,
    read when a service is created), with tag 1.0.0 in both repositories."""
    name = f"cylink-d{uuid.uuid4().hex[:6]}"
    clients = aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint)
    before = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = (
        "1"  # dev: 1 desired task per service (moto recreates a service on update: keep it set)
    )
    result = deploy_job.deploy(
        model.DeployRequest("dev", name, image_tag="1.0.0"),
        clients,
        RecordingReporter([True]),
        project,
        sleep=lambda s: None,
    )
    stack = {"name": name, "prefix": prefix, "outputs": result.outputs}
    for svc, layer in (("backend", "0"), ("frontend", "9")):
        put_image(emulator, repo(stack, svc), "1.0.0", layer)
    yield stack
    if before is None:
        del os.environ["MOTO_ECS_SERVICE_RUNNING"]
    else:
        os.environ["MOTO_ECS_SERVICE_RUNNING"] = before


def run(project, *argv, json_out=True):
    """deploy.py's main in-process; returns (exit code, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    args = [argv[0], *(["--json"] if json_out else []), *argv[1:]]
    old = sys.stderr
    sys.stderr = err
    try:
        code = main(args, stdin=io.StringIO(""), sleep=lambda s: None, project=project, out=out)
    finally:
        sys.stderr = old
    if json_out:  # every document (an error's too) is checked against its command's schema
        parsed(command_of(argv), out.getvalue())
    return code, out.getvalue(), err.getvalue()


def put_image(emulator, repository, tag, layer="a"):
    return client(emulator, "ecr").put_image(
        repositoryName=repository, imageManifest=image_manifest(layer), imageTag=tag
    )["image"]["imageId"]["imageDigest"]


def repo(stack, service):
    return stack["outputs"][f"{service.capitalize()}RepositoryUri"].split("/", 1)[1]


def running_images(emulator, stack):
    ecs = client(emulator, "ecs")
    names = [stack["outputs"]["BackendServiceName"], stack["outputs"]["FrontendServiceName"]]
    images = {}
    for svc in ecs.describe_services(cluster=stack["outputs"]["ClusterName"], services=names)["services"]:
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        images[svc["serviceName"]] = td["containerDefinitions"][0]["image"]
    return images


def image_tag_parameter(emulator, stack):
    params = client(emulator, "cloudformation").describe_stacks(StackName=stack["name"])["Stacks"][0]["Parameters"]
    return next(p["ParameterValue"] for p in params if p["ParameterKey"] == "ImageTag")


# --- release ----------------------------------------------------------------------------------


def test_release_refuses_a_tag_missing_in_one_repository_before_any_change_set(aws_env, stack, project):
    tag = f"r{uuid.uuid4().hex[:6]}"
    put_image(aws_env, repo(stack, "backend"), tag)
    before = image_tag_parameter(aws_env, stack)
    code, out, err = run(project, "release", "--env", "dev", "--stack-name", stack["name"], "--yes", "--image-tag", tag)
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    said = line.removeprefix("error: ")
    assert code == 2 and json.loads(out) == {"schemaVersion": 1, "error": {"code": 2, "message": said}}
    frontend_uri = stack["outputs"]["FrontendRepositoryUri"]
    assert line == (
        f"error: image tag {tag} is not in repository {repo(stack, 'frontend')}: push it first (docker push "
        f"{frontend_uri}:{tag}), "
        "or build and push both with release --build"
    )
    cfn = client(aws_env, "cloudformation")
    assert image_tag_parameter(aws_env, stack) == before
    # moto lists every stack's change sets: another test's may be waiting on the shared emulator
    assert not [
        s
        for s in cfn.list_change_sets(StackName=stack["name"])["Summaries"]
        if s["StackName"] == stack["name"] and s["ExecutionStatus"] == "AVAILABLE"
    ]


def test_a_rollback_to_a_tag_in_no_repository_names_the_tags_it_can_go_back_to(aws_env, stack, project):
    """--rollback-to suggested --build, which it refuses; the emulator's DescribeImages lists what exists."""
    both, missing = f"r{uuid.uuid4().hex[:6]}", f"r{uuid.uuid4().hex[:6]}"
    for svc, layer in (("backend", "3"), ("frontend", "4")):
        put_image(aws_env, repo(stack, svc), both, layer)
    code, out, err = run(
        project, "release", "--env", "dev", "--stack-name", stack["name"], "--yes", "--rollback-to", missing
    )
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert code == 2 and json.loads(out)["error"] == {"code": 2, "message": line.removeprefix("error: ")}, out
    assert line.startswith(
        f"error: --rollback-to {missing}: that tag is not in repository {repo(stack, 'backend')}; tags in both "
        "repositories, newest first: "
    ), line
    assert both in line and line.endswith("(give one of them to --rollback-to)") and "--build" not in line


def test_release_of_a_tag_in_both_repositories_rolls_both_task_definitions(aws_env, stack, project):
    tag = f"r{uuid.uuid4().hex[:6]}"
    digests = {
        svc: put_image(aws_env, repo(stack, svc), tag, layer) for svc, layer in (("backend", "1"), ("frontend", "2"))
    }
    code, out, err = run(project, "release", "--env", "dev", "--stack-name", stack["name"], "--yes", "--image-tag", tag)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "DEPLOYED" and doc["imageTag"] == tag and doc["imageDigests"] == digests
    assert doc["previousImageTag"] != tag
    images = running_images(aws_env, stack)
    assert sorted(images.values()) == sorted(
        f"{stack['outputs'][f'{s}RepositoryUri']}:{tag}" for s in ("Backend", "Frontend")
    )
    assert "ECS backend:" in err and "ECS frontend:" in err  # the rollout view ran beside the events
    # and the way back is the same command with the earlier tag
    code, out, err = run(
        project,
        "release",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "--yes",
        "--rollback-to",
        doc["previousImageTag"],
    )
    assert code == 0, err
    assert all(image.endswith(":" + doc["previousImageTag"]) for image in running_images(aws_env, stack).values())


FAKE_DOCKER = textwrap.dedent('''\
    #!{python}
    """A stand-in docker: records its arguments, keeps built images in a state file, pushes with PutImage."""
    import hashlib, json, os, sys
    import boto3
    state_file = os.environ["FAKE_DOCKER_STATE"]
    state = json.load(open(state_file)) if os.path.exists(state_file) else {{"images": {{}}, "calls": []}}
    args = sys.argv[1:]
    call = {{"argv": args, "docker_config": os.environ.get("DOCKER_CONFIG")}}
    if args[0] == "login":
        call["stdin"] = sys.stdin.read()
        open(os.path.join(os.environ["DOCKER_CONFIG"], "config.json"), "w").write('{{"auths": {{}}}}')
    state["calls"].append(call)
    code = 0
    if args[0] == "build":
        ref = args[args.index("--tag") + 1]
        layer = hashlib.sha256(" ".join(args).encode()).hexdigest()
        state["images"][ref] = {{"layer": "sha256:" + layer, "repo_digests": []}}
    elif args[0] == "image":
        ref = args[-1]
        print("\\n".join(ref.rsplit(":", 1)[0] + "@" + d for d in state["images"][ref]["repo_digests"]))
    elif args[0] == "push":
        ref = args[1]
        if not os.path.exists(os.path.join(os.environ.get("DOCKER_CONFIG", "/nonexistent"), "config.json")):
            print("no basic auth credentials", file=sys.stderr); code = 1
        else:
            uri, tag = ref.rsplit(":", 1)
            manifest = {{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                    "digest": "sha256:" + "c" * 64}},
                        "layers": [{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                                     "digest": state["images"][ref]["layer"]}}]}}
            ecr = boto3.client("ecr", region_name=os.environ["AWS_REGION"])
            repository = uri.split("/", 1)[1]
            pushed = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
            digest = pushed["image"]["imageId"]["imageDigest"]
            state["images"][ref]["repo_digests"].append(digest)
            print(f"The push refers to repository [{{uri}}]\\n{{tag}}: digest: {{digest}} size: 1234")
    json.dump(state, open(state_file, "w"))
    sys.exit(code)
    ''')


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(tmp_path / "docker-state.json"))
    for name in ("backend", "frontend"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM node:20-alpine\n")

    def state():
        return json.loads((tmp_path / "docker-state.json").read_text())

    return tmp_path, state


def test_build_builds_logs_in_through_a_pipe_pushes_verifies_and_releases(aws_env, stack, project, fake_docker):
    where, state = fake_docker
    tag = f"b{uuid.uuid4().hex[:6]}"
    code, out, err = run(
        project,
        "release",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "--yes",
        "--image-tag",
        tag,
        "--build",
        "--backend-dir",
        str(where / "backend"),
        "--frontend-dir",
        str(where / "frontend"),
    )
    assert code == 0, err
    calls = state()["calls"]
    uris = {s: stack["outputs"][f"{s.capitalize()}RepositoryUri"] for s in ("backend", "frontend")}
    builds = [c["argv"] for c in calls if c["argv"][0] == "build"]
    assert builds == [
        ["build", "--platform", "linux/amd64", "--tag", f"{uris['backend']}:{tag}", str(where / "backend")],
        [
            "build",
            "--platform",
            "linux/amd64",
            "--build-arg",
            f"NEXT_PUBLIC_API_URL={stack['outputs']['ApiUrl']}",
            "--tag",
            f"{uris['frontend']}:{tag}",
            str(where / "frontend"),
        ],
    ]
    (login,) = [c for c in calls if c["argv"][0] == "login"]
    token = client(aws_env, "ecr").get_authorization_token()["authorizationData"][0]
    import base64

    password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]
    assert login["argv"] == ["login", "--username", "AWS", "--password-stdin", token["proxyEndpoint"]]
    assert login["stdin"] == password and not any(password in " ".join(c["argv"]) for c in calls)
    assert login["docker_config"] and not os.path.exists(
        login["docker_config"]
    )  # the credentials file did not outlive the run
    pushes = [c for c in calls if c["argv"][0] == "push"]
    assert [c["argv"] for c in pushes] == [["push", f"{uris['backend']}:{tag}"], ["push", f"{uris['frontend']}:{tag}"]]
    assert all(c["docker_config"] == login["docker_config"] for c in pushes)
    doc = json.loads(out)
    ecr = client(aws_env, "ecr")
    for svc in ("backend", "frontend"):
        stored = ecr.describe_images(repositoryName=repo(stack, svc), imageIds=[{"imageTag": tag}])["imageDetails"][0][
            "imageDigest"
        ]
        assert doc["imageDigests"][svc] == stored
    assert sorted(running_images(aws_env, stack).values()) == sorted(f"{u}:{tag}" for u in uris.values())


def test_build_refuses_a_tag_that_names_another_image_and_pushes_nothing(aws_env, stack, project, fake_docker):
    where, state = fake_docker
    tag = f"b{uuid.uuid4().hex[:6]}"
    other = put_image(aws_env, repo(stack, "frontend"), tag, "f")
    code, out, err = run(
        project,
        "release",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "--yes",
        "--image-tag",
        tag,
        "--build",
        "--backend-dir",
        str(where / "backend"),
        "--frontend-dir",
        str(where / "frontend"),
    )
    assert code == 2
    assert (
        f"error: tag {tag} already names another image in {repo(stack, 'frontend')} ({other}); tags are immutable: "
        "release a new tag" in err
    )
    assert [c for c in state()["calls"] if c["argv"][0] in ("push", "login")] == []
    with pytest.raises(client(aws_env, "ecr").exceptions.ImageNotFoundException):
        client(aws_env, "ecr").describe_images(repositoryName=repo(stack, "backend"), imageIds=[{"imageTag": tag}])


def test_build_is_a_clear_error_without_docker(aws_env, stack, project, tmp_path, monkeypatch):
    for name in ("backend", "frontend"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker here
    code, out, err = run(
        project,
        "release",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "--yes",
        "--image-tag",
        "x1",
        "--build",
        "--backend-dir",
        str(tmp_path / "backend"),
        "--frontend-dir",
        str(tmp_path / "frontend"),
    )
    assert code == 7 and "error: docker is not installed (not on PATH)" in err


# --- logs -------------------------------------------------------------------------------------


def test_logs_prints_the_tasks_events_interleaved_in_time_order_since_the_given_age(aws_env, stack, project):
    logs = client(aws_env, "logs")
    group = stack["outputs"]["BackendLogGroupName"]
    now = int(time.time() * 1000)
    streams = {
        "ecs/backend/task1aaaa": [
            (now - 20 * 60_000, "old: before --since"),
            (now - 4 * 60_000, "b first"),
            (now - 2 * 60_000, "b third"),
        ],
        "ecs/backend/task2bbbb": [(now - 3 * 60_000, "b second"), (now - 60_000, "b fourth")],
    }
    for stream, events in streams.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t, "message": m} for t, m in events]
        )
    code, out, err = run(
        project, "logs", "--env", "dev", "--stack-name", stack["name"], "backend", "--since", "10m", json_out=False
    )
    assert code == 0, err
    lines = [line for line in out.splitlines() if "] b " in line or "old" in line]
    assert [line.split("] ", 1)[1] for line in lines] == ["b first", "b second", "b third", "b fourth"]
    assert [line.split("[", 1)[1].split("]")[0] for line in lines] == [
        "task1aaaa",
        "task2bbbb",
        "task1aaaa",
        "task2bbbb",
    ]
    code, out, _ = run(
        project,
        "logs",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "backend",
        "--since",
        "30m",
        "--filter",
        "third",
        json_out=False,
    )
    assert code == 0 and [line.split("] ", 1)[1] for line in out.splitlines() if "] " in line] == ["b third"]
    code, _, err = run(
        project,
        "logs",
        "--env",
        "dev",
        "--stack-name",
        stack["name"],
        "backend",
        "--since",
        "10 minutes",
        json_out=False,
    )
    assert code == 2 and "error: --since '10 minutes': use a number and a unit" in err


# --- status -----------------------------------------------------------------------------------


def test_status_shows_both_services_and_exits_by_health(aws_env, stack, project):
    elbv2 = client(aws_env, "elbv2")
    cfn = client(aws_env, "cloudformation")
    groups = [
        r["PhysicalResourceId"]
        for page in cfn.get_paginator("describe_stacks").paginate()  # other tests' stacks share the emulator
        for s in page["Stacks"]
        if s["StackName"].startswith(stack["name"] + "-LoadBalancerStack")
        for r in cfn.list_stack_resources(StackName=s["StackId"])["StackResourceSummaries"]
        if r["ResourceType"].endswith("TargetGroup")
    ]
    assert len(groups) == 2
    for i, arn in enumerate(groups):
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": f"10.0.1.{10 + i}", "Port": 3000}])
    code, out, err = run(project, "status", "--env", "dev", "--stack-name", stack["name"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["healthy"] is True and doc["problems"] == []
    assert [(s["name"], s["desired"], s["running"]) for s in doc["services"]] == [("backend", 1, 1), ("frontend", 1, 1)]
    assert set(doc["imageTags"]) == {"backend", "frontend"} and doc["siteUrl"] == stack["outputs"]["SiteUrl"]
    assert [r["status"] for r in doc["redis"]] == ["available"]
    assert "backend" in err and "frontend" in err and "HEALTHY" in err
    elbv2.deregister_targets(TargetGroupArn=groups[0], Targets=[{"Id": "10.0.1.10", "Port": 3000}])
    code, out, err = run(project, "status", "--env", "dev", "--stack-name", stack["name"])
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: {stack['name']} is not healthy: ") and "no healthy target" in line
    assert json.loads(out)["healthy"] is False
