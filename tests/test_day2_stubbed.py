"""Day-2 operations against responses shaped like the AWS API reference (botocore Stubber), for what the
emulator cannot show: tasks that keep stopping during a rollout, a circuit-breaker rollback, drift with
property differences in a nested stack, target health with reasons, alarms in ALARM."""

from __future__ import annotations

import io
from datetime import timedelta, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cylink_deploy import polling
from cylink_deploy.errors import DeploymentFailed, StackStateError
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.ops import release, rollout
from cylink_deploy.ops.drift import Drifted
from cylink_deploy.ops.status import Unhealthy
from cylink_deploy.output.human import HumanReporter, JsonReporter

from . import stubbed
from .contract import parsed
from .recording import RecordingReporter, run_command

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
ROOT_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod/aaaa"
NESTED_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod-CacheStack-1X/bbbb"
LB_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod-LoadBalancerStack-2Y/cccc"
CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/cs/1111"
TD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/cyl-backend:"
TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/cyl-backend/0123456789abcdef"
NOW = polling.now()
CLUSTER, SERVICE = "cyl-cluster", "cyl-backend-service"
CANNOT_PULL = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
    f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cyl/backend:v2: not found"
)
HEALTH = f"Task failed ELB health checks in (target-group {TG})"
BREAKER = "ECS deployment circuit breaker: tasks failed to start."


def make(service):
    return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def deployment(status, revision, running, pending, failed, state, reason=""):
    return {
        "id": f"ecs-svc/{revision}",
        "status": status,
        "taskDefinition": f"{TD}{revision}",
        "desiredCount": 2,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": failed,
        "rolloutState": state,
        "rolloutStateReason": reason or f"ECS deployment ecs-svc/{revision} {state}.",
    }


def services(*deployments, running=2, pending=0):
    return {
        "services": [
            {
                "serviceName": SERVICE,
                "status": "ACTIVE",
                "desiredCount": 2,
                "runningCount": running,
                "pendingCount": pending,
                "taskDefinition": deployments[0]["taskDefinition"],
                "deployments": list(deployments),
            }
        ],
        "failures": [],
    }


def task(task_id, seconds, reason, stop_code, container):
    return {
        "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{task_id}",
        "taskDefinitionArn": f"{TD}8",
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stoppedAt": NOW + timedelta(seconds=seconds),
        "stopCode": stop_code,
        "stoppedReason": reason,
        "containers": [{"name": "backend", "lastStatus": "STOPPED", **container}],
    }


PULL = task("a1", 10, CANNOT_PULL, "TaskFailedToStart", {"reason": CANNOT_PULL})
UNHEALTHY = task("b2", 70, HEALTH, "ServiceSchedulerInitiated", {"exitCode": 137})


def stub_ecs_poll(stub, described, stopped):
    stub.add_response("describe_services", described, {"cluster": CLUSTER, "services": [SERVICE]})
    stub.add_response(
        "list_tasks",
        {"taskArns": [t["taskArn"] for t in stopped]},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
    )
    if stopped:
        stub.add_response(
            "describe_tasks",
            {"tasks": stopped, "failures": []},
            {"cluster": CLUSTER, "tasks": [t["taskArn"] for t in stopped]},
        )


def event(logical_id, status, seconds, reason=None, type_="AWS::CloudFormation::Stack"):
    e = {
        "StackId": ROOT_ID,
        "StackName": "cylink-prod",
        "EventId": f"{logical_id}-{status}-{seconds}",
        "LogicalResourceId": logical_id,
        "ResourceType": type_,
        "ResourceStatus": status,
        "Timestamp": NOW + timedelta(seconds=seconds),
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def stack_desc(status, **extra):
    return {
        "Stacks": [
            {"StackName": "cylink-prod", "StackId": ROOT_ID, "StackStatus": status, "CreationTime": NOW, **extra}
        ]
    }


def stub_circuit_breaker_release(cfn_stub, ecs_stub):
    """ServicesStack updates; the new tasks cannot pull their image, then fail health checks; the circuit
    breaker fails the deployment and CloudFormation rolls back to the previous task definition."""
    started = [event("ServicesStack", "UPDATE_IN_PROGRESS", 1)]
    failed = [
        event(
            "ServicesStack",
            "UPDATE_FAILED",
            300,
            "Embedded stack was not successfully updated: [BackendService] "
            "Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.",
        ),
        *started,
    ]
    rolled = [
        event("cylink-prod", "UPDATE_ROLLBACK_COMPLETE", 400),
        event("ServicesStack", "UPDATE_COMPLETE", 399),
        *failed,
    ]
    cfn_stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
    cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    cfn_stub.add_response("execute_change_set", {}, {"ChangeSetName": CS})
    old = deployment("ACTIVE", 7, 2, 0, 0, "COMPLETED")
    for status, events, ecs in (
        (
            "UPDATE_IN_PROGRESS",
            started,
            (services(deployment("PRIMARY", 8, 0, 2, 1, "IN_PROGRESS"), old, pending=2), [PULL]),
        ),
        (
            "UPDATE_IN_PROGRESS",
            started,
            (services(deployment("PRIMARY", 8, 0, 2, 2, "IN_PROGRESS"), old, pending=2), [UNHEALTHY, PULL]),
        ),
        (
            "UPDATE_ROLLBACK_IN_PROGRESS",
            failed,
            (services(deployment("PRIMARY", 8, 0, 0, 3, "FAILED", BREAKER), old), [UNHEALTHY, PULL]),
        ),
        (
            "UPDATE_ROLLBACK_COMPLETE",
            rolled,
            (services(deployment("PRIMARY", 7, 2, 0, 0, "COMPLETED")), [UNHEALTHY, PULL]),
        ),
    ):
        cfn_stub.add_response("describe_stacks", stack_desc(status), {"StackName": ROOT_ID})
        cfn_stub.add_response("describe_stack_events", {"StackEvents": list(events)}, {"StackName": ROOT_ID})
        stub_ecs_poll(ecs_stub, *ecs)


def test_a_rollout_whose_tasks_keep_stopping_is_shown_as_it_happens_beside_the_events():
    cfn, ecs = make("cloudformation"), make("ecs")
    out = io.StringIO()
    reporter = HumanReporter(out=out)
    watch = rollout.RolloutWatch(ecs, CLUSTER, {"backend": SERVICE}, reporter, NOW)
    with Stubber(cfn) as cfn_stub, Stubber(ecs) as ecs_stub:
        stub_circuit_breaker_release(cfn_stub, ecs_stub)
        with pytest.raises(DeploymentFailed, match="ended UPDATE_ROLLBACK_COMPLETE"):
            deploy_job.execute_and_follow(
                cfn, "cylink-prod", CS, ROOT_ID, 1, reporter, lambda s: None, clock=lambda: NOW, watch=watch
            )
        cfn_stub.assert_no_pending_responses()
        ecs_stub.assert_no_pending_responses()
    lines = out.getvalue().splitlines()
    at = {
        name: next(i for i, line in enumerate(lines) if needle in line)
        for name, needle in (
            ("services updating", "ServicesStack UPDATE_IN_PROGRESS"),
            ("pull", "task a1 stopped"),
            ("health", "task b2 stopped"),
            ("failed", "ServicesStack UPDATE_FAILED"),
            ("breaker", "FAILED  desired 2 running 0"),
            ("rolled back", "UPDATE_ROLLBACK_COMPLETE"),
        )
    }
    # each stopped task appears on the poll that first sees it, long before CloudFormation gives up
    assert at["services updating"] < at["pull"] < at["health"] < at["failed"] < at["breaker"] < at["rolled back"]
    assert "CannotPullContainerError" in lines[at["pull"]] and "Task failed ELB health checks" in lines[at["health"]]
    assert "exit code 137" in lines[at["health"]] and BREAKER in lines[at["breaker"]]
    assert sum("task a1 stopped" in line for line in lines) == 1  # each stopped task once, however many polls see it
    assert any(
        "ECS backend: IN_PROGRESS  desired 2 running 0 pending 2 failed 1  cyl-backend:8" in line for line in lines
    )


def test_the_watch_stays_quiet_until_the_services_stack_is_being_updated():
    ecs = make("ecs")
    watch = rollout.RolloutWatch(ecs, CLUSTER, {"backend": SERVICE}, RecordingReporter(), NOW)
    with Stubber(ecs) as stub:  # no responses: any ECS call would fail the test
        watch([event("CacheStack", "UPDATE_IN_PROGRESS", 1)])
        stub.assert_no_pending_responses()
    assert watch.polls == 0


def test_a_circuit_breaker_rollback_is_one_line_naming_the_reason_and_what_runs(monkeypatch, project):
    cfn, ecs, ecr, sts = make("cloudformation"), make("ecs"), make("ecr"), make("sts")
    clients = stubbed.clients(cfn, sts=sts, ecr=ecr, ecs=ecs)
    outputs = {
        "ClusterName": CLUSTER,
        "BackendServiceName": SERVICE,
        "ApiUrl": "https://api.example.com",
        "BackendRepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cyl/backend",
        "FrontendRepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cyl/frontend",
    }

    def follow_only(request, clients, reporter, project, prepared, sleep, watch):
        """deploy up to the executed change set is covered elsewhere; here: the real following + watch."""
        deploy_job.execute_and_follow(
            clients.cloudformation, request.stack, CS, ROOT_ID, 1, reporter, sleep, clock=lambda: NOW, watch=watch
        )

    monkeypatch.setattr(release.deploy_job, "deploy", follow_only)
    monkeypatch.setattr(polling, "now", lambda: NOW)
    reporter = RecordingReporter()
    with Stubber(cfn) as cfn_stub, Stubber(ecs) as ecs_stub, Stubber(ecr) as ecr_stub, Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/x", "UserId": "x"}
        )
        cfn_stub.add_response(
            "describe_stacks",
            stack_desc(
                "UPDATE_COMPLETE",
                Outputs=[{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                Parameters=[{"ParameterKey": "ImageTag", "ParameterValue": "v1"}],
            ),
            {"StackName": "cylink-prod"},
        )
        cfn_stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": "cylink-prod"})  # nobody's review
        for name in ("backend", "frontend"):
            ecr_stub.add_response(
                "describe_images",
                {
                    "imageDetails": [
                        {"repositoryName": f"cyl/{name}", "imageDigest": "sha256:" + "d" * 64, "imageTags": ["v2"]}
                    ]
                },
                {"repositoryName": f"cyl/{name}", "imageIds": [{"imageTag": "v2"}]},
            )
        stub_circuit_breaker_release(cfn_stub, ecs_stub)
        ecs_stub.add_response(
            "describe_services",
            services(deployment("PRIMARY", 7, 2, 0, 0, "COMPLETED")),
            {"cluster": CLUSTER, "services": [SERVICE]},
        )
        ecs_stub.add_response(
            "describe_task_definition",
            {
                "taskDefinition": {
                    "taskDefinitionArn": f"{TD}7",
                    "containerDefinitions": [{"name": "backend", "image": f"{outputs['BackendRepositoryUri']}:v1"}],
                }
            },
            {"taskDefinition": "cyl-backend:7"},
        )
        with pytest.raises(DeploymentFailed) as failure:
            # the images' configs are tests/test_image_check.py's: here, the rollback
            request = release.ReleaseRequest("prod", "v2", skip_image_check=True)
            release.release(request, clients, reporter, project, None, lambda s: None)
        ecs_stub.assert_no_pending_responses()
    assert str(failure.value) == (
        f"release v2 rolled back: backend: {BREAKER}; last stopped task backend: {HEALTH}: backend exit code 137; "
        "running: backend v1 (previous tag v1)"
    )
    assert [t.task_id for t in reporter.of("stopped_task")] == ["a1", "b2"]


def summary(logical: str, physical: str, kind: str, status: str) -> dict:
    """One StackResourceSummaries entry, as ListStackResources returns it."""
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": kind,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": status,
    }


# --- drift ------------------------------------------------------------------------------------


def test_drift_in_a_nested_stack_is_listed_with_property_differences_and_exits_1():
    cfn = make("cloudformation")
    clients = stubbed.clients(cfn)
    nested = summary("CacheStack", NESTED_ID, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")
    out, document = io.StringIO(), io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc("UPDATE_COMPLETE"), {"StackName": "cylink-prod"})  # --env
        stub.add_response("describe_stacks", stack_desc("UPDATE_COMPLETE"), {"StackName": "cylink-prod"})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": [nested]}, {"StackName": "cylink-prod"})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": NESTED_ID})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-root"}, {"StackName": "cylink-prod"})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-cache"}, {"StackName": NESTED_ID})

        def status(detection, stack_id, state, drift="IN_SYNC", drifted=0):
            return {
                "StackId": stack_id,
                "StackDriftDetectionId": detection,
                "DetectionStatus": state,
                "StackDriftStatus": drift,
                "DriftedStackResourceCount": drifted,
                "Timestamp": NOW,
            }

        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-root", ROOT_ID, "DETECTION_IN_PROGRESS"),
            {"StackDriftDetectionId": "d-root"},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-cache", NESTED_ID, "DETECTION_COMPLETE", "DRIFTED", 1),
            {"StackDriftDetectionId": "d-cache"},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-root", ROOT_ID, "DETECTION_COMPLETE"),
            {"StackDriftDetectionId": "d-root"},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    {
                        "StackId": NESTED_ID,
                        "LogicalResourceId": "RedisReplicationGroup",
                        "PhysicalResourceId": "cyl-redis",
                        "ResourceType": "AWS::ElastiCache::ReplicationGroup",
                        "StackResourceDriftStatus": "MODIFIED",
                        "Timestamp": NOW,
                        "ExpectedProperties": "{}",
                        "ActualProperties": "{}",
                        "PropertyDifferences": [
                            {
                                "PropertyPath": "/SnapshotRetentionLimit",
                                "ExpectedValue": "7",
                                "ActualValue": "0",
                                "DifferenceType": "NOT_EQUAL",
                            },
                            {
                                "PropertyPath": "/CacheNodeType",
                                "ExpectedValue": "cache.t3.medium",
                                "ActualValue": "cache.r6g.large",
                                "DifferenceType": "NOT_EQUAL",
                            },
                        ],
                    }
                ]
            },
            {"StackName": NESTED_ID, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
        )
        args = opscmd_args("drift")
        with pytest.raises(
            Drifted,
            match=r"^1 resource\(s\) drifted: CacheStack/RedisReplicationGroup "
            r"\(see docs/troubleshooting\.md to resolve\)$",
        ):
            run_command(args, JsonReporter(out=out, document_out=document), clients)  # people read the same text
        stub.assert_no_pending_responses()
    (drifted,) = parsed("drift", document.getvalue())["drifted"]  # --json: checked against its schema
    assert (drifted["stackPath"], drifted["logicalId"], drifted["differences"][0]["path"]) == (
        "CacheStack",
        "RedisReplicationGroup",
        "/SnapshotRetentionLimit",
    )
    text = out.getvalue()
    assert (
        "CacheStack  RedisReplicationGroup  AWS::ElastiCache::ReplicationGroup  MODIFIED  /SnapshotRetentionLimit: 7 "
        "-> 0" in text
    )
    assert "/CacheNodeType: cache.t3.medium -> cache.r6g.large" in text


def opscmd_args(command, **extra):
    import argparse

    return argparse.Namespace(
        command=command, env="prod", stack_name=None, region=REGION, profile=None, json=False, **extra
    )


# --- status -----------------------------------------------------------------------------------


def test_status_shows_target_health_reasons_alarms_and_stopped_tasks_and_exits_1():
    cfn, ecs, elbv2, cw = make("cloudformation"), make("ecs"), make("elbv2"), make("cloudwatch")
    clients = stubbed.clients(cfn, ecs=ecs, elbv2=elbv2, cloudwatch=cw)
    outputs = {
        "ClusterName": CLUSTER,
        "BackendServiceName": SERVICE,
        "SiteUrl": "https://example.com",
        "ApiUrl": "https://api.example.com",
    }
    lb = summary("LoadBalancerStack", LB_ID, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")
    tg = summary("BackendTargetGroup", TG, "AWS::ElasticLoadBalancingV2::TargetGroup", "CREATE_COMPLETE")
    alarm = {
        "LogicalResourceId": "BackendTarget5xxAlarm",
        "PhysicalResourceId": "cyl-backend-5xx",
        "ResourceType": "AWS::CloudWatch::Alarm",
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "CREATE_COMPLETE",
    }
    out, document = io.StringIO(), io.StringIO()
    with Stubber(cfn) as cfn_stub, Stubber(ecs) as ecs_stub, Stubber(elbv2) as elb_stub, Stubber(cw) as cw_stub:
        described = stack_desc(
            "UPDATE_COMPLETE",
            LastUpdatedTime=NOW,
            Outputs=[{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            Parameters=[
                {"ParameterKey": "NamePrefix", "ParameterValue": "cyl"},
                {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
            ],
        )
        cfn_stub.add_response("describe_stacks", described, {"StackName": "cylink-prod"})  # --env checked
        cfn_stub.add_response("describe_stacks", described, {"StackName": "cylink-prod"})
        ecs_stub.add_response(
            "describe_services",
            services(deployment("PRIMARY", 7, 2, 0, 0, "COMPLETED")),
            {"cluster": CLUSTER, "services": [SERVICE]},
        )
        ecs_stub.add_response(
            "describe_task_definition",
            {"taskDefinition": {"containerDefinitions": [{"name": "backend", "image": "x/cyl/backend:v1"}]}},
            {"taskDefinition": "cyl-backend:7"},
        )
        stub_ecs_poll_stopped_only(ecs_stub, [UNHEALTHY])
        cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [lb]}, {"StackName": "cylink-prod"})
        cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [tg]}, {"StackName": LB_ID})
        cfn_stub.add_response(
            "list_stack_resources", {"StackResourceSummaries": [lb, alarm]}, {"StackName": "cylink-prod"}
        )
        cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [tg]}, {"StackName": LB_ID})
        elb_stub.add_response(
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {
                        "Target": {"Id": "10.0.10.5", "Port": 3001},
                        "HealthCheckPort": "3001",
                        "TargetHealth": {"State": "healthy"},
                    },
                    {
                        "Target": {"Id": "10.0.11.9", "Port": 3001},
                        "HealthCheckPort": "3001",
                        "TargetHealth": {
                            "State": "unhealthy",
                            "Reason": "Target.ResponseCodeMismatch",
                            "Description": "Health checks failed with these codes: [502]",
                        },
                    },
                ]
            },
            {"TargetGroupArn": TG},
        )
        cw_stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [
                    {
                        "AlarmName": "cyl-backend-5xx",
                        "StateValue": "ALARM",
                        "StateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).",
                    }
                ],
                "CompositeAlarms": [],
            },
            {"AlarmNames": ["cyl-backend-5xx"], "StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
        )
        with pytest.raises(Unhealthy) as unhealthy:
            run_command(opscmd_args("status"), JsonReporter(out=out, document_out=document), clients)
        for stub in (cfn_stub, ecs_stub, elb_stub, cw_stub):
            stub.assert_no_pending_responses()
    assert str(unhealthy.value) == (
        "cylink-prod is not healthy: BackendTargetGroup: 1 unhealthy target(s) (Target.ResponseCodeMismatch); "
        "alarm cyl-backend-5xx"
    )
    text = out.getvalue()
    screen = text + f"error: {unhealthy.value}\n"  # what cli.py adds: the one error line
    assert screen.count("1 unhealthy target(s)") == 1 and screen.count("alarm cyl-backend-5xx") == 1, screen
    assert "10.0.11.9  3001  unhealthy  Target.ResponseCodeMismatch" in text
    assert "ALARM cyl-backend-5xx: Threshold Crossed" in text
    assert "backend task b2 stopped" in text and "Task failed ELB health checks" in text
    (row,) = [
        line.split() for line in text.splitlines() if line.strip().startswith("backend ") and "cyl-backend:7" in line
    ]
    assert row == ["backend", "2", "2", "0", "cyl-backend:7", "v1", "COMPLETED"]
    doc = parsed("status", document.getvalue())  # --json: the same screen, checked against its schema
    assert doc["healthy"] is False and doc["imageTags"] == {"backend": "v1"} and doc["stopped"][0]["taskId"] == "b2"
    updated = NOW.astimezone(timezone.utc).replace(microsecond=0)  # to the second, in UTC, said as such
    assert doc["lastUpdate"] == updated.isoformat() and f"(last update {updated:%Y-%m-%d %H:%M:%S} UTC)" in text
    assert doc["targetGroups"][0]["targets"][1]["reason"] == "Target.ResponseCodeMismatch"


def test_status_of_an_environment_with_nothing_released_says_to_release_not_that_a_target_is_unhealthy():
    """Deployed without ImageTag (README, First deploy, step 3): no ServicesStack, so the target groups have no
    target. That is not a failing target: status says nothing is released yet and what to run."""
    cfn, elbv2 = make("cloudformation"), make("elbv2")
    clients = stubbed.clients(cfn, elbv2=elbv2)
    lb = summary("LoadBalancerStack", LB_ID, "AWS::CloudFormation::Stack", "CREATE_COMPLETE")
    tg = summary("BackendTargetGroup", TG, "AWS::ElasticLoadBalancingV2::TargetGroup", "CREATE_COMPLETE")
    out = io.StringIO()
    with Stubber(cfn) as cfn_stub, Stubber(elbv2) as elb_stub:
        described = stack_desc(
            "CREATE_COMPLETE",
            Outputs=[{"OutputKey": "SiteUrl", "OutputValue": "http://alb.example"}],
            Parameters=[
                {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
                {"ParameterKey": "ImageTag", "ParameterValue": ""},
            ],
        )
        for _ in range(2):  # the --env check, then status
            cfn_stub.add_response("describe_stacks", described, {"StackName": "cylink-prod"})
        for _ in range(2):  # the nested-stack walk, then each stack's resources
            cfn_stub.add_response(
                "list_stack_resources", {"StackResourceSummaries": [lb]}, {"StackName": "cylink-prod"}
            )
            cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [tg]}, {"StackName": LB_ID})
        elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": []}, {"TargetGroupArn": TG})
        with pytest.raises(Unhealthy) as unhealthy:
            run_command(opscmd_args("status"), HumanReporter(out=out), clients)
        cfn_stub.assert_no_pending_responses()
    said = str(unhealthy.value)
    assert "nothing has been released yet" in said and "no healthy target" not in said
    assert "python deploy.py release --env prod --image-tag TAG" in said
    screen = out.getvalue()
    assert "no ECS services: nothing has been released yet" in screen and "Desired" not in screen  # no empty table


@pytest.mark.parametrize(
    ("region", "hint"),
    [("us-east-1", "deployed in another region? check --region and AWS_REGION"), (REGION, "")],
)
def test_status_of_a_stack_missing_in_the_region_names_the_stack_and_the_region(region, hint):
    """'status --region us-east-1' once said only 'deploy it first': the stack may well be in another region."""
    cfn = boto3.client("cloudformation", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    clients = stubbed.clients(cfn, region=region)
    with Stubber(cfn) as cfn_stub:
        for _ in range(2):  # the --env check, then status
            cfn_stub.add_client_error(
                "describe_stacks", "ValidationError", "Stack with id cylink-prod does not exist", 400
            )
        with pytest.raises(StackStateError) as missing:
            run_command(opscmd_args("status"), HumanReporter(out=io.StringIO()), clients)
    said = str(missing.value)
    deploy = "python deploy.py --env prod" + ("" if region == REGION else f" --region {region}")
    assert said.startswith(f"stack cylink-prod does not exist in {region}: deploy it first ({deploy})"), said
    assert hint in said and ("another region" in said) == bool(hint)


def stub_ecs_poll_stopped_only(stub, stopped):
    stub.add_response(
        "list_tasks",
        {"taskArns": [t["taskArn"] for t in stopped]},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
    )
    stub.add_response("describe_tasks", {"tasks": stopped, "failures": []}, {"cluster": CLUSTER, "tasks": ANY})
