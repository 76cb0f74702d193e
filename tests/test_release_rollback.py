"""A release that passes health checks but trips its deployment alarm: ECS fails the deployment and rolls
it back, CloudFormation fails the service update and rolls the stack back. Followed with botocore's
Stubber (the emulator cannot trip an alarm), against cylink_deploy.stack alone (independent of the CLI),
with the wording AWS uses: CloudFormation's ECS handler message (aws/containers-roadmap#1205) and ECS's
service events ('deployment failed: alarm detected.', 'rolling back to deployment ...')."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy import errors
from cylink_deploy.cfn import ecs_verdict
from cylink_deploy.cfn import events as stack_events
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.views import ReleaseRolledBack, RootCause
from cylink_deploy.output.human import HumanReporter

from .recording import RecordingReporter

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

REGION = "ap-northeast-1"
ROOT_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/aaaa"
SERVICES_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod-ServicesStack-1Q2W/cccc"
SERVICE_ARN = "arn:aws:ecs:ap-northeast-1:123456789012:service/cylink-cluster/cylink-backend-service"
T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc)
HANDLER = (
    "Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit Breaker was "
    "triggered'.\" "
    "(RequestToken: 3c2e9a1b-7d4f-4e0a-9b8c-2f1e0d9c8b7a, HandlerErrorCode: GeneralServiceException)"
)


def client(service):
    return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def event(stack_id, logical_id, status, seconds, reason=None, type_="AWS::ECS::Service", physical=None):
    e = {
        "StackId": stack_id,
        "StackName": stack_id.split("/")[1],
        "EventId": f"{logical_id}-{status}-{seconds}",
        "LogicalResourceId": logical_id,
        "ResourceType": type_,
        "ResourceStatus": status,
        "Timestamp": T0 + timedelta(seconds=seconds),
    }
    if reason:
        e["ResourceStatusReason"] = reason
    if physical:
        e["PhysicalResourceId"] = physical
    return e


ROOT_EVENTS = [  # newest first, as DescribeStackEvents returns them
    event(ROOT_ID, "cylink-prod", "UPDATE_ROLLBACK_COMPLETE", 900, None, "AWS::CloudFormation::Stack", ROOT_ID),
    event(ROOT_ID, "ServicesStack", "UPDATE_COMPLETE", 890, None, "AWS::CloudFormation::Stack", SERVICES_ID),
    event(
        ROOT_ID,
        "cylink-prod",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        601,
        "The following resource(s) failed to update: [ServicesStack].",
        "AWS::CloudFormation::Stack",
        ROOT_ID,
    ),
    event(
        ROOT_ID,
        "ServicesStack",
        "UPDATE_FAILED",
        600,
        f"Embedded stack {SERVICES_ID} was not successfully updated. Currently in "
        "UPDATE_ROLLBACK_IN_PROGRESS with reason: The following resource(s) failed to update: [BackendService].",
        "AWS::CloudFormation::Stack",
        SERVICES_ID,
    ),
    event(ROOT_ID, "ServicesStack", "UPDATE_IN_PROGRESS", 2, None, "AWS::CloudFormation::Stack", SERVICES_ID),
]
SERVICES_EVENTS = [
    event(SERVICES_ID, "BackendService", "UPDATE_COMPLETE", 880, None, physical=SERVICE_ARN),
    event(SERVICES_ID, "BackendTaskDefinition", "UPDATE_COMPLETE", 870, None, "AWS::ECS::TaskDefinition"),
    event(
        SERVICES_ID,
        "FrontendService",
        "UPDATE_FAILED",
        599,
        "Resource update cancelled",
        physical=SERVICE_ARN.replace("backend", "frontend"),
    ),
    event(SERVICES_ID, "BackendService", "UPDATE_FAILED", 598, HANDLER, physical=SERVICE_ARN),
    event(SERVICES_ID, "BackendService", "UPDATE_IN_PROGRESS", 5, None, physical=SERVICE_ARN),
]
ECS_SERVICE = {
    "services": [
        {
            "serviceArn": SERVICE_ARN,
            "serviceName": "cylink-backend-service",
            "status": "ACTIVE",
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "alarms": {
                    "alarmNames": ["cylink-backend-target-5xx-rate", "cylink-backend-unhealthy-hosts"],
                    "enable": True,
                    "rollback": True,
                },
            },
            "events": [
                {
                    "id": "e4",
                    "createdAt": T0 + timedelta(seconds=870),
                    "message": "(service cylink-backend-service) has reached a steady state.",
                },
                {
                    "id": "e3",
                    "createdAt": T0 + timedelta(seconds=598),
                    "message": (
                        "(service cylink-backend-service) rolling back to deployment ecs-svc/3225863131553420471."
                    ),
                },
                {
                    "id": "e2",
                    "createdAt": T0 + timedelta(seconds=597),
                    "message": (
                        "(service cylink-backend-service) (deployment ecs-svc/8028401236951367382) deployment "
                        "failed: alarm detected."
                    ),
                },
                {
                    "id": "e1",
                    "createdAt": T0 + timedelta(seconds=300),
                    "message": "(service cylink-backend-service) has started 2 tasks: (task 1a2b) (task 3c4d).",
                },
            ],
        }
    ]
}


def follow_the_release():
    cfn = client("cloudformation")
    seen: list[StackEventTypeDef] = []
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "cylink-prod",
                        "StackId": ROOT_ID,
                        "StackStatus": "UPDATE_ROLLBACK_COMPLETE",
                        "CreationTime": T0,
                    }
                ]
            },
            {"StackName": ROOT_ID},
        )
        stub.add_response("describe_stack_events", {"StackEvents": ROOT_EVENTS}, {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": SERVICES_EVENTS}, {"StackName": SERVICES_ID})
        status = stack_events.follow(cfn, ROOT_ID, T0, seen.append, lambda s: None)
        stub.assert_no_pending_responses()
    return status, seen


def test_a_release_that_trips_its_deployment_alarm_is_reported_as_rolled_back():
    status, events = follow_the_release()
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    cause = stack_events.root_cause(events)
    assert cause is not None and (cause["StackName"], cause["LogicalResourceId"]) == (
        "cylink-prod-ServicesStack-1Q2W",
        "BackendService",
    )  # not the cancelled frontend
    rollback = ecs_verdict.release_rollback(cause, status)
    expected = ecs_verdict.ReleaseRollback("cylink-prod-ServicesStack-1Q2W", "BackendService", SERVICE_ARN, HANDLER)
    assert rollback == expected

    ecs = client("ecs")
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", ECS_SERVICE, {"cluster": "cylink-cluster", "services": [SERVICE_ARN]})
        told = ecs_verdict.ecs_failure_events(ecs, rollback.service_arn)
        stub.assert_no_pending_responses()
    assert told == [
        "(service cylink-backend-service) rolling back to deployment ecs-svc/3225863131553420471.",
        "(service cylink-backend-service) (deployment ecs-svc/8028401236951367382) deployment failed: alarm detected.",
    ]

    out = io.StringIO()
    printer = HumanReporter(out=out)
    printer.show(RootCause(cause))
    printer.show(ReleaseRolledBack(rollback, tuple(told)))
    text = out.getvalue()
    assert "Root cause: cylink-prod-ServicesStack-1Q2W/BackendService (AWS::ECS::Service) UPDATE_FAILED" in text
    assert "Release rolled back: ECS failed the new deployment of cylink-prod-ServicesStack-1Q2W/BackendService" in text
    assert (
        "ECS: (service cylink-backend-service) (deployment ecs-svc/8028401236951367382) deployment failed: alarm "
        "detected." in text
    )


def test_a_deploy_that_trips_a_deployment_alarm_reports_the_release_as_rolled_back_and_fails():
    """The whole path a deploy takes: execute, follow every stack, find the root cause, ask ECS why."""
    cfn, ecs = client("cloudformation"), client("ecs")
    cs = "arn:aws:cloudformation:ap-northeast-1:123456789012:changeSet/cs/1"
    services = {
        "LogicalResourceId": "ServicesStack",
        "PhysicalResourceId": SERVICES_ID,
        "ResourceType": "AWS::CloudFormation::Stack",
        "LastUpdatedTimestamp": T0,
        "ResourceStatus": "UPDATE_COMPLETE",
    }
    reporter = RecordingReporter()
    with Stubber(cfn) as stub, Stubber(ecs) as ecs_stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": [services]}, {"StackName": ROOT_ID})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": SERVICES_ID})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": cs})
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "cylink-prod",
                        "StackId": ROOT_ID,
                        "StackStatus": "UPDATE_ROLLBACK_COMPLETE",
                        "CreationTime": T0,
                    }
                ]
            },
            {"StackName": ROOT_ID},
        )
        stub.add_response("describe_stack_events", {"StackEvents": ROOT_EVENTS}, {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": SERVICES_EVENTS}, {"StackName": SERVICES_ID})
        ecs_stub.add_response(
            "describe_services", ECS_SERVICE, {"cluster": "cylink-cluster", "services": [SERVICE_ARN]}
        )
        ended = r"ended UPDATE_ROLLBACK_COMPLETE \(root cause: BackendService\)"
        with pytest.raises(errors.DeploymentFailed, match=ended):
            deploy_job.execute_and_follow(
                cfn, "cylink-prod", cs, ROOT_ID, 1, reporter, lambda s: None, clock=lambda: T0, ecs=ecs
            )
        stub.assert_no_pending_responses()
        ecs_stub.assert_no_pending_responses()
    ((rollback, told),) = reporter.of("release_rolled_back")
    assert rollback.logical_id == "BackendService" and rollback.service_arn == SERVICE_ARN
    assert told[-1].endswith("deployment failed: alarm detected.")


def test_other_failures_are_not_reported_as_a_release_rollback():
    failed = event(SERVICES_ID, "BackendService", "UPDATE_FAILED", 10, HANDLER, physical=SERVICE_ARN)
    # the stack did not roll back (e.g. --disable-rollback)
    assert ecs_verdict.release_rollback(failed, "UPDATE_FAILED") is None
    assert ecs_verdict.release_rollback(None, "UPDATE_ROLLBACK_COMPLETE") is None
    other = event(
        SERVICES_ID,
        "BackendService",
        "UPDATE_FAILED",
        10,
        "Invalid request provided: CreateService error: subnet not found",
        physical=SERVICE_ARN,
    )
    assert ecs_verdict.release_rollback(other, "UPDATE_ROLLBACK_COMPLETE") is None
    redis = event(
        SERVICES_ID, "RedisReplicationGroup", "UPDATE_FAILED", 10, HANDLER, "AWS::ElastiCache::ReplicationGroup"
    )
    assert ecs_verdict.release_rollback(redis, "UPDATE_ROLLBACK_COMPLETE") is None


def test_ecs_events_of_a_service_arn_without_a_cluster_are_not_guessed():
    assert (
        ecs_verdict.ecs_failure_events(
            client("ecs"), "arn:aws:ecs:ap-northeast-1:123456789012:service/cylink-backend-service"
        )
        == []
    )


def test_ecs_says_at_most_five_things_newest_first_including_a_tripped_circuit_breaker():
    messages = [
        f"(service cylink-backend-service) (deployment ecs-svc/{i}) deployment failed: tasks failed to start."
        for i in range(6)
    ]
    messages.insert(
        1, "(service cylink-backend-service) (deployment ecs-svc/9) circuit breaker tripped: tasks failed to start."
    )
    service = {
        "services": [
            {
                **ECS_SERVICE["services"][0],
                "events": [{"id": str(i), "createdAt": T0, "message": m} for i, m in enumerate(messages)],
            }
        ]
    }
    ecs = client("ecs")
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", service, {"cluster": "cylink-cluster", "services": [SERVICE_ARN]})
        assert ecs_verdict.ecs_failure_events(ecs, SERVICE_ARN) == messages[:5]


def test_a_rolled_back_service_without_a_physical_id_is_still_named_and_the_finding_is_fixed():
    failed = event(SERVICES_ID, "BackendService", "CREATE_FAILED", 10, HANDLER)
    rollback = ecs_verdict.release_rollback(failed, "ROLLBACK_COMPLETE")
    assert rollback == ecs_verdict.ReleaseRollback("cylink-prod-ServicesStack-1Q2W", "BackendService", "", HANDLER)
    with pytest.raises(AttributeError):
        rollback.reason = "x"  # type: ignore[misc]  # frozen: assigning must fail
