"""The deployer policy, proven by the tool's real calls: every command runs end to end against the emulator
with a recorder on every client ``aws.make_clients`` builds (tests/awscalls.py), and each recorded call,
mapped to its IAM action and resource, must be allowed by ``bootstrap.deployer_policy``. The account is
bootstrapped first (the administrator's job, not recorded)."""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta, timezone
import json
import sys
import uuid

import boto3
import pytest

from cylink_deploy import aws
from cylink_deploy.cfn import bootstrap
from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.project import Project

from . import awscalls, iameval, stubbed
from .conftest import credentials, project_copy
from .recording import run_command
from .test_day2_local import put_image
from .contract import command_of, parsed

REGION, ACCOUNT = "ap-northeast-1", "123456789012"  # moto's account
BUCKET = f"cylink-cfn-artifacts-{ACCOUNT}-{REGION}"


def _policy() -> dict:
    return json.loads(bootstrap.deployer_policy(ACCOUNT, REGION, BUCKET).to_json())


@pytest.fixture(scope="module")
def recorded(fresh_emulator, tmp_path_factory):
    """command -> (exit code, the calls it made); one stack, named cylink-*, with NamePrefix cylink<hex>.
    An emptied emulator: the first deploy must upload its templates (another test's may be there)."""
    emulator = fresh_emulator
    tag = uuid.uuid4().hex[:6]
    prefix, stack = f"cylink{tag}", f"cylink-p{tag}"
    root = project_copy(tmp_path_factory.mktemp("policy-project"))
    dev = root / "params" / "dev.yaml"
    dev.write_text(dev.read_text().replace("NamePrefix: cylink", f"NamePrefix: {prefix}"))
    project = Project(root, build_override=root / "build")
    out: dict[str, tuple[int, list[awscalls.Call]]] = {}
    rotated: dict = {}
    out["rotated"] = rotated  # type: ignore[assignment]
    out["stack"] = stack  # type: ignore[assignment]
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (
            ("AWS_ENDPOINT_URL", emulator.endpoint),
            ("AWS_REGION", REGION),
            ("MOTO_ECS_SERVICE_RUNNING", "1"),
            ("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"]),
            ("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"]),
        ):
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)

        def run(name: str, *argv: str, codes: tuple[int, ...] = (0,)) -> dict:
            text = io.StringIO()
            old, sys.stderr = sys.stderr, io.StringIO()
            try:
                code = main(
                    [argv[0], "--json", *argv[1:]],
                    stdin=io.StringIO(""),
                    sleep=lambda s: None,
                    project=project,
                    out=text,
                )
            finally:
                err, sys.stderr = sys.stderr.getvalue(), old
            out[name] = (code, list(recorder.calls))
            recorder.calls.clear()
            assert code in codes, f"{name}: {err}"
            return parsed(command_of(argv), text.getvalue()) or {}

        assert (
            main(["bootstrap"], stdin=io.StringIO(""), project=project, out=io.StringIO()) == 0
        )  # the administrator, once
        recorder = awscalls.record(mp)
        target = ("--env", "dev", "--stack-name", stack)
        run("create", "deploy", *target, "--yes", "--image-tag", "1.0.0")
        outputs = boto3.client(
            "cloudformation", region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS)
        ).describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        for svc, layer in (("backend", "0"), ("frontend", "9")):  # CI pushes: an update checks the tag in ECR
            uri = next(o["OutputValue"] for o in outputs if o["OutputKey"] == f"{svc.capitalize()}RepositoryUri")
            for number, tag in enumerate(("1.0.0", "1.1.0", "2.0.0")):
                put_image(emulator, uri.split("/", 1)[1], tag, f"{layer}{number}")
        run("no-op", "deploy", *target, "--yes", "--image-tag", "1.0.0")
        review = run("review", "deploy", *target, "--no-execute", "--image-tag", "1.1.0")
        run("execute", "execute", *target, "--yes", review["changeSetName"])
        run("release", "release", *target, "--yes", "--image-tag", "2.0.0")
        start = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
        run("event", "event", *target, "--yes", "--start", start)
        run("event-cancel", "event", *target, "--yes", "--cancel")
        run("status", "status", *target, codes=(0, 1))  # 1: the emulator's target groups have no healthy targets
        run("logs", "logs", *target, "backend", "--since", "5m")
        sm = boto3.client(
            "secretsmanager", region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS)
        )
        secret = next(s["ARN"] for s in sm.list_secrets()["SecretList"] if s["Name"].startswith(f"{stack}-CacheStack"))
        before = sm.get_secret_value(SecretId=secret)["SecretString"]
        doc = run("rotate-redis-auth", "rotate-redis-auth", *target, "--yes")
        stages = sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
        rotated["before"], rotated["doc"], rotated["stages"] = before, doc, stages
        rotated["current"] = sm.get_secret_value(SecretId=secret)["SecretString"]
        rotated["previous"] = sm.get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"]
        run("delete", "delete", *target, "--yes")
    return out


COMMANDS = (
    "create",
    "no-op",
    "review",
    "execute",
    "release",
    "event",
    "event-cancel",
    "status",
    "logs",
    "rotate-redis-auth",
    "delete",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_deployer_policy_allows_every_call_the_command_makes(recorded, command):
    code, calls = recorded[command]
    assert calls, f"{command} made no AWS call through aws.make_clients"
    assert awscalls.denied(_policy(), calls, ACCOUNT) == []


def _document(**kwargs) -> dict:
    return json.loads(bootstrap.deployer_policy(ACCOUNT, REGION, BUCKET, **kwargs).to_json())


@pytest.mark.parametrize("command", COMMANDS)
def test_the_environments_own_github_role_allows_every_call_on_its_stack(recorded, command):
    """Issue 24 finding 2: the deployer role of an environment is the deployer policy narrowed to its stack."""
    environment = recorded["stack"].removeprefix("cylink-")
    assert awscalls.denied(_document(environment=environment), recorded[command][1], ACCOUNT) == []


def test_another_environments_role_may_not_change_the_stack(recorded):
    calls = [c for name in ("create", "execute", "delete") for c in recorded[name][1]]
    found = {f.split(" on ")[0] for f in awscalls.denied(_document(environment="staging"), calls, ACCOUNT)}
    assert {"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"} <= found


def test_the_plan_role_creates_change_sets_but_never_executes_them(recorded):
    """The GitHub plan job's role: everything `deploy --no-execute` calls, none of what execute, delete,
    release or rotate-redis-auth change."""
    plan = _document(plan=True)
    assert awscalls.denied(plan, recorded["review"][1], ACCOUNT) == []
    for command, action in (
        ("execute", "cloudformation:ExecuteChangeSet"),
        ("delete", "cloudformation:DeleteStack"),
        ("rotate-redis-auth", "secretsmanager:PutSecretValue"),
        ("rotate-redis-auth", "ecs:UpdateService"),
    ):
        assert any(f.startswith(f"{action} on ") for f in awscalls.denied(plan, recorded[command][1], ACCOUNT)), action
    granted = {a for s in plan["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert not granted & bootstrap.PLAN_WITHHELD


def test_every_s3_call_names_this_account_as_the_buckets_owner(recorded):
    """Issue 24 finding 3: the artifacts bucket's name is predictable; each S3 request carries ExpectedBucketOwner
    so S3 itself refuses a bucket another account created first (CreateBucket, which cannot, runs only at
    bootstrap and is refused by s3:ResourceAccount in the policies)."""
    s3_calls = [c for name in COMMANDS for c in recorded[name][1] if c.service == "s3"]
    assert {c.operation for c in s3_calls} >= {"HeadBucket", "HeadObject", "PutObject"}
    assert [str(c) for c in s3_calls if c.params.get("ExpectedBucketOwner") != ACCOUNT] == []


def test_the_recording_saw_the_calls_that_matter(recorded):
    """The recorder is really on: the writes each command exists for are among its calls."""
    ops = {name: {f"{c.service}.{c.operation}" for c in recorded[name][1]} for name in COMMANDS}
    assert {"cloudformation.CreateChangeSet", "cloudformation.ExecuteChangeSet", "s3.PutObject", "iam.GetRole"} <= ops[
        "create"
    ]
    assert (
        "cloudformation.ExecuteChangeSet" not in ops["review"] and "cloudformation.ExecuteChangeSet" in ops["execute"]
    )
    assert {"ecr.DescribeImages", "cloudformation.ExecuteChangeSet"} <= ops["release"]
    assert {
        "ecs.DescribeServices",
        "elbv2.DescribeTargetHealth",
        "elasticache.DescribeReplicationGroups",
        "cloudwatch.DescribeAlarms",
    } <= ops["status"]
    assert "logs.FilterLogEvents" in ops["logs"]
    assert {"secretsmanager.PutSecretValue", "elasticache.ModifyReplicationGroup", "ecs.UpdateService"} <= ops[
        "rotate-redis-auth"
    ]
    assert "cloudformation.DeleteStack" in ops["delete"]


@pytest.mark.parametrize(
    ("sid", "action", "command"),
    [
        ("CylinkStacks", "cloudformation:ExecuteChangeSet", "execute"),
        ("ArtifactsBucket", "s3:PutObject", "create"),
        ("PassTheServiceRoleToCloudFormation", "iam:PassRole", "create"),
    ],
)
def test_removing_one_needed_permission_fails_the_check_naming_the_call(recorded, sid, action, command):
    policy = _policy()
    statement = next(s for s in policy["Statement"] if s["Sid"] == sid)
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    statement["Action"] = [a for a in actions if a != action] or ["none:None"]
    found = awscalls.denied(policy, recorded[command][1], ACCOUNT)
    assert found and all(f.startswith(f"{action} on ") for f in found), found
    assert "(from " in found[0]  # names the call


def test_day2_permissions_are_scoped_to_cylink_names():
    policy = _policy()
    other = {
        "ecs:UpdateService": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/other-cluster/other-backend-service",
        "elasticache:ModifyReplicationGroup": f"arn:aws:elasticache:{REGION}:{ACCOUNT}:replicationgroup:payments",
        "secretsmanager:PutSecretValue": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payments-db-AbCdEf",
        "ecr:DescribeImages": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/other/backend",
        "logs:FilterLogEvents": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/other-backend:*",
    }
    for action, resource in other.items():
        assert not iameval.allowed(policy, action, resource), action


def test_an_operation_without_a_mapping_is_an_error_not_a_wildcard():
    call = awscalls.Call("ec2", "TerminateInstances", {"InstanceIds": ["i-1"]}, REGION)
    with pytest.raises(KeyError, match="no resource mapping"):
        awscalls.requests(call, ACCOUNT)


def test_the_recorder_sees_paginated_and_plain_calls(emulator, monkeypatch):
    recorder = awscalls.record(monkeypatch)
    clients = aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint)
    clients.sts.get_caller_identity()
    list(clients.cloudformation.get_paginator("list_stacks").paginate())
    assert recorder.operations()[:2] == ["sts.GetCallerIdentity", "cloudformation.ListStacks"]


def test_drift_calls_are_allowed_too():
    """moto has no drift detection: the same recorder on a Stubber-backed client (AWS-shaped responses)."""
    from datetime import datetime, timezone

    from botocore.stub import Stubber

    from cylink_deploy.ops.drift import Drifted
    from cylink_deploy.output.human import HumanReporter

    now = datetime.now(timezone.utc)
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    recorder = awscalls.Recorder()
    clients = recorder.attach(stubbed.clients(cfn))
    root = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod/aaaa"
    described = {
        "Stacks": [{"StackName": "cylink-prod", "StackId": root, "StackStatus": "UPDATE_COMPLETE", "CreationTime": now}]
    }
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described, {"StackName": "cylink-prod"})  # --env checked first
        stub.add_response("describe_stacks", described, {"StackName": "cylink-prod"})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": "cylink-prod"})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-root"}, {"StackName": "cylink-prod"})
        stub.add_response(
            "describe_stack_drift_detection_status",
            {
                "StackId": root,
                "StackDriftDetectionId": "d-root",
                "DetectionStatus": "DETECTION_COMPLETE",
                "StackDriftStatus": "DRIFTED",
                "DriftedStackResourceCount": 1,
                "Timestamp": now,
            },
            {"StackDriftDetectionId": "d-root"},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    {
                        "StackId": root,
                        "LogicalResourceId": "CacheStack",
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "StackResourceDriftStatus": "MODIFIED",
                        "Timestamp": now,
                        "PropertyDifferences": [],
                    }
                ]
            },
            {"StackName": "cylink-prod", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
        )
        args = argparse.Namespace(command="drift", env="prod", stack_name=None, region=REGION, profile=None, json=False)
        with pytest.raises(Drifted):
            run_command(args, HumanReporter(out=io.StringIO()), clients)
    assert {"cloudformation.DetectStackDrift", "cloudformation.DescribeStackResourceDrifts"} <= set(
        recorder.operations()
    )
    assert awscalls.denied(_policy(), recorder.calls, ACCOUNT) == []


def test_the_deployer_policy_fits_a_managed_policy():
    """A customer managed policy holds at most 6,144 characters (whitespace not counted)."""
    assert len(json.dumps(_policy(), separators=(",", ":"))) <= 6144


def test_rotation_on_the_emulator_leaves_the_new_token_current_and_the_old_one_previous(recorded):
    rotated = recorded["rotated"]
    assert rotated["doc"]["status"] == "ROTATED" and rotated["doc"]["steps"][-1].startswith("SET")
    assert rotated["current"] != rotated["before"] and len(rotated["current"]) == 64
    assert rotated["previous"] == rotated["before"]
    assert sorted(s for stages in rotated["stages"].values() for s in stages) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]  # AWSPENDING removed
