"""``delete`` checks everything that would stop it half-way before it deletes anything (issue 20, item 5):
on AWS a prod delete removed the services and DNS records and then failed at the ALB's deletion protection.
botocore's Stubber answers as the API reference documents; nothing is deleted in any of these tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy.errors import StackStateError
from cylink_deploy.jobs import delete as delete_job
from cylink_deploy.jobs.model import DeleteRequest

from . import stubbed
from .recording import RecordingReporter

REGION = stubbed.REGION
ROOT = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/a"
LB_STACK = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod-LoadBalancerStack-1/b"
ALB = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/cylink-alb/50dc6c495c0c9188"
BUCKET = "cylink-alb-logs-123456789012"


def client(service: str) -> Any:
    """A client of ``service`` (named at run time: the stubs type only literal names)."""
    session: Any = stubbed.SESSION
    return session.client(service, region_name=REGION)


def summaries(*rows: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "StackResourceSummaries": [
            {
                "LogicalResourceId": lid,
                "PhysicalResourceId": pid,
                "ResourceType": kind,
                "ResourceStatus": "CREATE_COMPLETE",
                "LastUpdatedTimestamp": "2026-11-28T10:00:00Z",
            }
            for lid, pid, kind in rows
        ]
    }


def template(**resources: dict[str, Any]) -> dict[str, str]:
    return {"TemplateBody": json.dumps({"Resources": resources})}


def described(protected: bool) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "cylink-prod",
                "StackId": ROOT,
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": "2026-11-28T10:00:00Z",
                "EnableTerminationProtection": protected,
            }
        ]
    }


def attributes(protection: str) -> dict[str, Any]:
    return {"Attributes": [{"Key": "deletion_protection.enabled", "Value": protection}]}


def run_delete(protected: bool, alb_protection: str, lb_resources: dict[str, Any], lb_rows, more=None):
    """A prod stack whose LoadBalancerStack holds the ALB (and ``lb_resources``): the delete's answer."""
    cfn, sts, elbv2, s3 = client("cloudformation"), client("sts"), client("elbv2"), client("s3")
    stubs = {name: Stubber(c) for name, c in (("cfn", cfn), ("sts", sts), ("elbv2", elbv2), ("s3", s3))}
    stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::1:user/x"})
    for _ in range(2):  # settled, then described
        stubs["cfn"].add_response("describe_stacks", described(protected), {"StackName": "cylink-prod"})
    processed = {"TemplateStage": "Processed"}
    stubs["cfn"].add_response(
        "get_template",
        template(LoadBalancerStack={"Type": "AWS::CloudFormation::Stack"}),
        {"StackName": "cylink-prod", **processed},
    )
    stubs["cfn"].add_response(
        "list_stack_resources",
        summaries(("LoadBalancerStack", LB_STACK, "AWS::CloudFormation::Stack")),
        {"StackName": "cylink-prod"},
    )
    stubs["cfn"].add_response("get_template", template(**lb_resources), {"StackName": LB_STACK, **processed})
    stubs["cfn"].add_response("list_stack_resources", summaries(*lb_rows), {"StackName": LB_STACK})
    stubs["elbv2"].add_response(
        "describe_load_balancer_attributes", attributes(alb_protection), {"LoadBalancerArn": ALB}
    )
    for name, method, response, params in more or ():
        stubs[name].add_response(method, response, params)
    reporter = RecordingReporter(answers=[False])  # a delete that gets as far as asking is told no
    for stub in stubs.values():
        stub.activate()
    try:
        delete_job.delete(DeleteRequest("prod"), stubbed.clients(cfn, s3, sts, elbv2=elbv2), reporter, lambda s: None)
    except Exception as exc:  # noqa: BLE001 - the test reads the error
        error: Exception | None = exc
    else:
        error = None
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    return error, reporter


ALB_ONLY = {"LoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"}}
ALB_ROW = ("LoadBalancer", ALB, "AWS::ElasticLoadBalancingV2::LoadBalancer")


def test_the_albs_deletion_protection_refuses_the_delete_naming_the_parameter_that_lifts_it():
    error, reporter = run_delete(False, "true", ALB_ONLY, [ALB_ROW])
    assert isinstance(error, StackStateError) and error.exit_code == 4
    assert str(error) == (
        "cylink-prod cannot be deleted in one go, nothing was deleted: the load balancer "
        "LoadBalancerStack/LoadBalancer has deletion protection on (AlbDeletionProtection=true): lift it first "
        "with python deploy.py --env prod --parameter AlbDeletionProtection=false"
    )
    assert reporter.of("confirm") == []  # refused before anybody is asked


def test_every_protection_is_named_at_once_termination_protection_included():
    error, _ = run_delete(True, "true", ALB_ONLY, [ALB_ROW])
    assert "cylink-prod has termination protection: lift it deliberately with aws cloudformation" in str(error)
    assert "; the load balancer LoadBalancerStack/LoadBalancer has deletion protection on" in str(error)


def test_without_protection_the_delete_goes_on_to_ask(monkeypatch):
    monkeypatch.setattr(delete_job.st, "retained_resources", lambda cfn, stack: [])  # shown before the question
    error, reporter = run_delete(False, "false", ALB_ONLY, [ALB_ROW], [])
    assert reporter.of("confirm") == ["Delete stack cylink-prod?"] and "answered no" in str(error)


def test_a_bucket_deleted_with_the_stack_must_be_empty_and_a_retained_one_is_never_looked_at():
    resources = {
        **ALB_ONLY,
        "Logs": {"Type": "AWS::S3::Bucket"},
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
    }
    rows = [ALB_ROW, ("Logs", BUCKET, "AWS::S3::Bucket"), ("Kept", "kept-bucket", "AWS::S3::Bucket")]
    listed = {"Versions": [{"Key": "a", "VersionId": "1", "IsLatest": False}], "Name": BUCKET}
    error, _ = run_delete(
        False, "false", resources, rows, [("s3", "list_object_versions", listed, {"Bucket": BUCKET, "MaxKeys": 1})]
    )
    assert str(error).endswith(
        f"bucket {BUCKET} (LoadBalancerStack/Logs) is deleted with the stack and is not empty: empty it first, every "
        "object version (the S3 console's Empty action), or retain it (DeletionPolicy)"
    )


def test_a_repository_deleted_with_the_stack_must_be_empty_unless_it_empties_itself():
    from cylink_deploy.cfn import deletion

    ecr = client("ecr")
    found = deletion.Found("RegistryStack/Repo", "cylink/backend", "Delete", {})
    with Stubber(ecr) as stub:
        stub.add_response(
            "list_images", {"imageIds": [{"imageTag": "1.0.0"}]}, {"repositoryName": "cylink/backend", "maxResults": 1}
        )
        blocker = deletion.CHECKS["AWS::ECR::Repository"](stubbed.clients(ecr=ecr), found, str)
        stub.assert_no_pending_responses()
    assert blocker is not None and "aws ecr delete-repository --repository-name cylink/backend --force" in str(blocker)
    emptied = deletion.Found("RegistryStack/Repo", "cylink/backend", "Delete", {"EmptyOnDelete": True})
    assert deletion.CHECKS["AWS::ECR::Repository"](stubbed.clients(), emptied, str) is None  # no call at all


@pytest.mark.parametrize(
    "status, node_type, policy, expected",
    [
        ("modifying", "cache.t3.medium", "Snapshot", "Redis cylink-redis is modifying, not available: wait for it"),
        ("available", "cache.t1.micro", "Snapshot", "no final snapshot can be taken"),
        ("available", "cache.t1.micro", "Delete", None),
        ("available", "cache.t3.medium", "Snapshot", None),
    ],
)
def test_redis_must_be_available_and_able_to_take_its_final_snapshot(status, node_type, policy, expected):
    from cylink_deploy.cfn import deletion

    cache = client("elasticache")
    with Stubber(cache) as stub:
        stub.add_response(
            "describe_replication_groups",
            {
                "ReplicationGroups": [
                    {"ReplicationGroupId": "cylink-redis", "Status": status, "CacheNodeType": node_type}
                ]
            },
            {"ReplicationGroupId": "cylink-redis"},
        )
        found = deletion.Found("CacheStack/RedisReplicationGroup", "cylink-redis", policy, {})
        blocker = deletion.CHECKS["AWS::ElastiCache::ReplicationGroup"](
            stubbed.clients(elasticache=cache), found, lambda s: f"deploy {s}"
        )
    assert (blocker is None) if expected is None else (expected in str(blocker))
