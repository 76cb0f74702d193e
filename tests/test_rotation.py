"""rotate-redis-auth against responses shaped like the AWS API reference (botocore Stubber): the whole
sequence in order across services, a group that never becomes available again, a failed redeploy, a
resumed rotation, declining; and the template's side of the agreement (AWSCURRENT, unversioned)."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cylink_deploy import aws
from cylink_deploy.cli import main
from cylink_deploy.errors import Aborted, StackStateError
from cylink_deploy.ops import rotation

from . import awscalls, stubbed
from .recording import RecordingReporter

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod/aaaa"
CACHE = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod-CacheStack-1X/bbbb"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:RedisAuthSecret-a1B2c3D4e5F6-AbCdEf"
GROUP, CLUSTER, BACKEND = "cylink-prod-cachestack-1x-r", "cylink-cluster", "cylink-backend-service"
TD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/cylink-backend:4"
OLD, NEW = "a" * 32, "b" * 32  # secret version IDs


def make(service):
    return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def env():
    clients = stubbed.clients(
        make("cloudformation"),
        sts=make("sts"),
        ecs=make("ecs"),
        elasticache=make("elasticache"),
        secretsmanager=make("secretsmanager"),
    )
    recorder = awscalls.Recorder()
    recorder.attach(clients)
    stubs = {
        name: Stubber(getattr(clients, name))
        for name in ("cloudformation", "sts", "ecs", "elasticache", "secretsmanager")
    }
    for stub in stubs.values():
        stub.activate()
    yield clients, stubs, recorder
    for stub in stubs.values():
        stub.deactivate()


def summary(logical_id, physical_id, type_):
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": type_,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "CREATE_COMPLETE",
    }


def group(status, auth=True):
    return {
        "ReplicationGroups": [
            {"ReplicationGroupId": GROUP, "Status": status, "AuthTokenEnabled": auth, "TransitEncryptionEnabled": True}
        ]
    }


def services(*deployments):
    return {
        "services": [
            {
                "serviceName": BACKEND,
                "status": "ACTIVE",
                "desiredCount": 2,
                "runningCount": 2,
                "pendingCount": 0,
                "taskDefinition": TD,
                "deployments": list(deployments),
            }
        ],
        "failures": [],
    }


def deployment(id_, status, state, running=2, reason=""):
    return {
        "id": id_,
        "status": status,
        "taskDefinition": TD,
        "desiredCount": 2,
        "pendingCount": 0,
        "runningCount": running,
        "failedTasks": 0,
        "rolloutState": state,
        "rolloutStateReason": reason or f"ECS deployment {id_} {state}.",
    }


STEADY = services(deployment("ecs-svc/1", "PRIMARY", "COMPLETED"))


def stub_preflight(stubs, stages=None, stack_status="UPDATE_COMPLETE", group_status="available"):
    cfn = stubs["cloudformation"]
    stubs["sts"].add_response(
        "get_caller_identity", {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci"}
    )
    outputs = [
        {"OutputKey": "ClusterName", "OutputValue": CLUSTER},
        {"OutputKey": "BackendServiceName", "OutputValue": BACKEND},
        {"OutputKey": "FrontendServiceName", "OutputValue": "cylink-frontend-service"},
    ]
    cfn.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "cylink-prod",
                    "StackId": ROOT,
                    "StackStatus": stack_status,
                    "CreationTime": NOW,
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": "cylink-prod"},
    )
    if stack_status != "UPDATE_COMPLETE":
        return
    root = {"StackResourceSummaries": [summary("CacheStack", CACHE, "AWS::CloudFormation::Stack")]}
    cache = {
        "StackResourceSummaries": [
            summary("RedisAuthSecret", SECRET, "AWS::SecretsManager::Secret"),
            summary("RedisReplicationGroup", GROUP, "AWS::ElastiCache::ReplicationGroup"),
        ]
    }
    for name, page in (
        ("cylink-prod", root),
        (CACHE, cache),
        ("cylink-prod", root),
        (CACHE, cache),
    ):  # the walk, then each stack's list
        cfn.add_response("list_stack_resources", page, {"StackName": name})
    stubs["elasticache"].add_response("describe_replication_groups", group(group_status), {"ReplicationGroupId": GROUP})
    if group_status != "available":
        return
    stubs["secretsmanager"].add_response(
        "describe_secret",
        {"ARN": SECRET, "Name": "RedisAuthSecret-a1B2c3D4e5F6", "VersionIdsToStages": stages or {OLD: ["AWSCURRENT"]}},
        {"SecretId": SECRET},
    )
    stubs["ecs"].add_response("describe_services", STEADY, {"cluster": CLUSTER, "services": [BACKEND]})


def stub_rotate(stubs, available_after=2):
    stubs["secretsmanager"].add_response(
        "put_secret_value",
        {"ARN": SECRET, "Name": "RedisAuthSecret-a1B2c3D4e5F6", "VersionId": NEW, "VersionStages": ["AWSPENDING"]},
        {"SecretId": SECRET, "ClientRequestToken": ANY, "SecretString": ANY, "VersionStages": ["AWSPENDING"]},
    )
    modify(stubs, "ROTATE", available_after)


def modify(stubs, strategy, available_after):
    ec = stubs["elasticache"]
    ec.add_response(
        "modify_replication_group",
        {"ReplicationGroup": {"ReplicationGroupId": GROUP, "Status": "modifying"}},
        {"ReplicationGroupId": GROUP, "AuthToken": ANY, "AuthTokenUpdateStrategy": strategy, "ApplyImmediately": True},
    )
    for i in range(available_after):
        ec.add_response(
            "describe_replication_groups",
            group("available" if i == available_after - 1 else "modifying"),
            {"ReplicationGroupId": GROUP},
        )


def stub_promote(stubs):
    stubs["secretsmanager"].add_response(
        "update_secret_version_stage",
        {"ARN": SECRET, "Name": "RedisAuthSecret-a1B2c3D4e5F6"},
        {"SecretId": SECRET, "VersionStage": "AWSCURRENT", "MoveToVersionId": NEW, "RemoveFromVersionId": OLD},
    )


def stub_redeploy(stubs, final=None):
    ecs = stubs["ecs"]
    ecs.add_response(
        "update_service",
        {"service": {"serviceName": BACKEND}},
        {"cluster": CLUSTER, "service": BACKEND, "forceNewDeployment": True},
    )
    rolling = services(
        deployment("ecs-svc/2", "PRIMARY", "IN_PROGRESS", running=1), deployment("ecs-svc/1", "ACTIVE", "COMPLETED")
    )
    ecs.add_response("describe_services", rolling, {"cluster": CLUSTER, "services": [BACKEND]})
    ecs.add_response(
        "describe_services",
        final or services(deployment("ecs-svc/2", "PRIMARY", "COMPLETED")),
        {"cluster": CLUSTER, "services": [BACKEND]},
    )


def stub_finish(stubs):
    modify(stubs, "SET", 1)
    stubs["secretsmanager"].add_response(
        "update_secret_version_stage",
        {"ARN": SECRET, "Name": "RedisAuthSecret-a1B2c3D4e5F6"},
        {"SecretId": SECRET, "VersionStage": "AWSPENDING", "RemoveFromVersionId": NEW},
    )


def assert_done(stubs):
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def writes(recorder):
    keep = {"PutSecretValue", "ModifyReplicationGroup", "UpdateSecretVersionStage", "UpdateService"}
    return [
        (
            c.operation,
            c.params.get("AuthTokenUpdateStrategy") or c.params.get("VersionStage") or c.params.get("VersionStages"),
        )
        for c in recorder.calls
        if c.operation in keep
    ]


def test_the_whole_rotation_runs_in_order_and_the_same_new_token_goes_everywhere(env):
    clients, stubs, recorder = env
    stub_preflight(stubs)
    stub_rotate(stubs)
    stub_promote(stubs)
    stub_redeploy(stubs)
    stub_finish(stubs)
    reporter = RecordingReporter([True])
    result = rotation.rotate_redis_auth(rotation.RotateRequest("prod"), clients, reporter, sleep=lambda s: None)
    assert_done(stubs)
    assert writes(recorder) == [
        ("PutSecretValue", ["AWSPENDING"]),
        ("ModifyReplicationGroup", "ROTATE"),
        ("UpdateSecretVersionStage", "AWSCURRENT"),
        ("UpdateService", None),
        ("ModifyReplicationGroup", "SET"),
        ("UpdateSecretVersionStage", "AWSPENDING"),
    ]
    tokens = {
        c.params.get("SecretString") or c.params.get("AuthToken")
        for c in recorder.calls
        if c.operation in ("PutSecretValue", "ModifyReplicationGroup")
    }
    (token,) = tokens
    assert len(token) == 64 and token.isalnum()
    # the group is available again before the secret moves, and the services settle before SET
    ops = recorder.operations()
    rotate_at, promote_at = (
        ops.index("elasticache.ModifyReplicationGroup"),
        ops.index("secretsmanager.UpdateSecretVersionStage"),
    )
    assert "elasticache.DescribeReplicationGroups" in ops[rotate_at:promote_at]
    set_at = len(ops) - 1 - ops[::-1].index("elasticache.ModifyReplicationGroup")
    assert ops[set_at - 1] == "ecs.DescribeServices"
    asked = [c[0] for c in reporter.calls].index("confirm")  # asked before the first write, which counts as sent
    assert reporter.calls[asked + 1] == ("sent", "rotation") and reporter.calls[asked + 2][0] == "step"
    assert result.version_id == NEW and result.services == [BACKEND] and not result.resumed
    assert reporter.documents[0]["status"] == "ROTATED" and token not in json.dumps(reporter.documents[0])


def test_declining_changes_nothing(env):
    clients, stubs, recorder = env
    stub_preflight(stubs)
    with pytest.raises(Aborted, match="declined: nothing was changed"):
        rotation.rotate_redis_auth(
            rotation.RotateRequest("prod"), clients, RecordingReporter([False]), sleep=lambda s: None
        )
    assert_done(stubs)
    assert writes(recorder) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"stack_status": "UPDATE_IN_PROGRESS"},
            "stack cylink-prod is UPDATE_IN_PROGRESS: rotate only when it is settled",
        ),
        ({"group_status": "modifying"}, f"Redis {GROUP} is modifying: wait until it is available and retry"),
    ],
)
def test_refused_when_not_in_a_good_state(env, kwargs, message):
    clients, stubs, recorder = env
    stub_preflight(stubs, **kwargs)
    with pytest.raises(StackStateError, match=message):
        rotation.rotate_redis_auth(rotation.RotateRequest("prod"), clients, RecordingReporter(), sleep=lambda s: None)
    assert writes(recorder) == []


def test_refused_when_the_stack_does_not_exist(env):
    clients, stubs, _ = env
    stubs["sts"].add_response(
        "get_caller_identity", {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci"}
    )
    stubs["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", "Stack with id cylink-prod does not exist"
    )
    with pytest.raises(StackStateError, match=r"^stack cylink-prod does not exist in ap-northeast-1: deploy it first"):
        rotation.rotate_redis_auth(rotation.RotateRequest("prod"), clients, RecordingReporter(), sleep=lambda s: None)


def cli(clients, monkeypatch, *extra):
    from cylink_deploy.cfn import identity

    monkeypatch.setattr(identity, "require_env", lambda cfn, stack, env: None)  # tests/test_identity.py covers it
    monkeypatch.setattr(aws, "make_session", lambda *a, **k: None)
    monkeypatch.setattr(aws, "make_clients", lambda *a, **k: clients)
    err, old = io.StringIO(), sys.stderr
    sys.stderr = err
    try:
        code = main(
            ["rotate-redis-auth", "--env", "prod", *extra],
            stdin=io.StringIO(""),
            sleep=lambda s: None,
            out=io.StringIO(),
        )
    finally:
        sys.stderr = old
    return code, err.getvalue()


def test_a_group_that_never_becomes_available_stops_with_one_line_saying_what_works_and_how_to_finish(env, monkeypatch):
    clients, stubs, recorder = env
    monkeypatch.setattr(rotation, "GROUP_TIMEOUT", 10.0)  # two polls (5 s, then 7.5 s)
    stub_preflight(stubs)
    stub_rotate(stubs, available_after=0)
    for _ in range(2):
        stubs["elasticache"].add_response(
            "describe_replication_groups", group("modifying"), {"ReplicationGroupId": GROUP}
        )
    code, err = cli(clients, monkeypatch, "--yes")
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line == (
        f"error: Redis {GROUP} did not become available after ROTATE: the old token still works (the new one may "
        "too), the secret "
        "still gives tasks the old token (the new one is AWSPENDING); once the group is available, run "
        "'python deploy.py rotate-redis-auth --env prod' to finish with the same token"
    )
    assert_done(stubs)
    assert writes(recorder) == [
        ("PutSecretValue", ["AWSPENDING"]),
        ("ModifyReplicationGroup", "ROTATE"),
    ]  # AWSCURRENT untouched


def test_a_failed_redeploy_stops_before_set_so_both_tokens_still_work(env, monkeypatch):
    clients, stubs, recorder = env
    stub_preflight(stubs)
    stub_rotate(stubs)
    stub_promote(stubs)
    stub_redeploy(
        stubs,
        final=services(
            deployment("ecs-svc/2", "PRIMARY", "FAILED", running=0, reason="circuit breaker: tasks failed to start")
        ),
    )
    code, err = cli(clients, monkeypatch, "--yes")
    assert (
        code == 1
        and "backend deployment FAILED (circuit breaker: tasks failed to start): "
        "Redis still accepts the old and the new token"
        in err
    )
    assert "then run 'python deploy.py rotate-redis-auth --env prod' to redeploy and finish (SET)" in err
    assert ("ModifyReplicationGroup", "SET") not in writes(recorder)
    assert_done(stubs)


def test_a_rerun_after_the_promotion_reuses_the_pending_token_and_only_redeploys_and_sets(env):
    clients, stubs, recorder = env
    stub_preflight(stubs, stages={NEW: ["AWSCURRENT", "AWSPENDING"], OLD: ["AWSPREVIOUS"]})
    stubs["secretsmanager"].add_response(
        "get_secret_value",
        {
            "ARN": SECRET,
            "Name": "n",
            "VersionId": NEW,
            "SecretString": "c" * 64,
            "VersionStages": ["AWSCURRENT", "AWSPENDING"],
        },
        {"SecretId": SECRET, "VersionStage": "AWSPENDING"},
    )
    stub_redeploy(stubs)
    stub_finish(stubs)
    reporter = RecordingReporter([True])
    result = rotation.rotate_redis_auth(rotation.RotateRequest("prod"), clients, reporter, sleep=lambda s: None)
    assert_done(stubs)
    assert result.resumed and writes(recorder) == [
        ("UpdateService", None),
        ("ModifyReplicationGroup", "SET"),
        ("UpdateSecretVersionStage", "AWSPENDING"),
    ]
    assert [c.params["AuthToken"] for c in recorder.calls if c.operation == "ModifyReplicationGroup"] == ["c" * 64]
    assert any(kind == "warn" and "did not finish" in text for kind, text in reporter.calls)


def test_without_a_terminal_and_without_yes_it_refuses_before_any_call(monkeypatch):
    monkeypatch.setattr(aws, "make_clients", lambda *a, **k: pytest.fail("no AWS call expected"))
    code = main(["rotate-redis-auth", "--env", "prod"], stdin=io.StringIO(""), out=io.StringIO())
    assert code == 5


def test_the_template_resolves_the_token_as_awscurrent_so_a_later_deploy_keeps_the_rotated_one(built):
    props = built.props("cache", "RedisReplicationGroup")
    assert props["AuthToken"] == {"Fn::Sub": rotation.AUTH_TOKEN_REFERENCE}
    # {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}: nothing after SecretString
    assert rotation.AUTH_TOKEN_REFERENCE.removesuffix("}}").split(":")[-1] == "SecretString"
    backend = built.resources("services", "AWS::ECS::TaskDefinition")
    secrets = [
        s for td in backend.values() for c in td["Properties"]["ContainerDefinitions"] for s in c.get("Secrets", [])
    ]
    assert secrets == [
        {"Name": "REDIS_AUTH_TOKEN", "ValueFrom": {"Ref": "RedisAuthSecretArn"}}
    ]  # the whole ARN: AWSCURRENT at task start
