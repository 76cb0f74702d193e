"""The emulator shows the state the real stack would have (issue 20): the egress the ALB and Redis groups
declare, a two-node Redis with two nodes, the ECS alarms after the first release, LastUpdatedTime, one
stack's change sets, and services and cluster gone with ``--remove-services`` and ``delete``. Each gap
has its own must-fail scenario (tests/compat_scenarios.py); this walks the real templates through them."""

from __future__ import annotations

import uuid

import boto3
import pytest

from cylink_deploy import aws
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.jobs import delete as delete_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import DeleteRequest, DeployRequest, Status

from .conftest import credentials, image_manifest
from .recording import RecordingReporter


REGION = "ap-northeast-1"


@pytest.fixture
def clients(emulator):
    return aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint)


def no_sleep(seconds: float) -> None:
    pass


def egress(ec2, group_id: str) -> list[tuple[str, str]]:
    """A group's egress rules as (protocol and port, peer)."""
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return sorted(
        (f"{p['IpProtocol']}:{p.get('FromPort', '')}", peer)
        for p in group["IpPermissionsEgress"]
        for peer in [r["CidrIp"] for r in p.get("IpRanges", [])] + [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
    )


def nested_outputs(cfn, stack: str, child: str) -> dict[str, str]:
    physical = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=child)["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    return {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=physical)["Stacks"][0]["Outputs"]}


def test_the_emulator_shows_what_the_templates_declare_through_a_stacks_life(clients, project, emulator):
    tag = uuid.uuid4().hex[:6]
    prefix, stack = f"cyt{tag}", f"cylink-t{tag}"

    def deploy(**kw) -> None:
        request = DeployRequest("dev", stack, {"NamePrefix": prefix, "RedisNodeCount": "2"}, **kw)
        result = deploy_job.deploy(request, clients, RecordingReporter(answers=[True]), project, sleep=no_sleep)
        assert result.status is Status.DEPLOYED, result.document()

    cfn, ecs = clients.cloudformation, clients.ecs
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS))
    deploy()  # created without an image tag: no services yet
    assert "LastUpdatedTime" not in cfn.describe_stacks(StackName=stack)["Stacks"][0]

    groups = nested_outputs(cfn, stack, "SecurityStack")
    task = groups["TaskSecurityGroupId"]
    assert egress(ec2, groups["RedisSecurityGroupId"]) == [("-1:", "127.0.0.1/32")]  # "no egress", as declared
    assert egress(ec2, groups["AlbSecurityGroupId"]) == [
        ("-1:", "127.0.0.1/32"),
        ("tcp:3000", task),
        ("tcp:3001", task),
    ]
    assert egress(ec2, task) == [  # HTTPS and Redis only (issue 21 finding 14)
        ("-1:", "127.0.0.1/32"),
        ("tcp:443", "0.0.0.0/0"),
        ("tcp:6379", groups["RedisSecurityGroupId"]),
    ]

    (redis,) = clients.elasticache.describe_replication_groups(
        ReplicationGroupId=nested_outputs(cfn, stack, "CacheStack")["RedisReplicationGroupId"]
    )["ReplicationGroups"]
    assert [m["CurrentRole"] for m in redis["NodeGroups"][0]["NodeGroupMembers"]] == ["primary", "replica"]

    # another stack's change set under review is not this stack's
    other = DeployRequest("dev", f"cylink-o{tag}", {"NamePrefix": f"cyo{tag}"}, execute=False)
    deploy_job.deploy(other, clients, RecordingReporter(), project, sleep=no_sleep)
    assert [s["StackName"] for s in cfn.list_change_sets(StackName=other.stack)["Summaries"]] == [other.stack]

    # the first release: the services, and the alarms on them (the tag must be in both repositories first)
    for service in ("backend", "frontend"):
        clients.ecr.put_image(repositoryName=f"{prefix}/{service}", imageManifest=image_manifest(), imageTag="1.0.0")
    deploy(image_tag="1.0.0")
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["LastUpdatedTime"] > described["CreationTime"]
    alarms = {a["AlarmName"] for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]}
    assert {f"{prefix}-backend-cpu-high", f"{prefix}-frontend-tasks-below-minimum"} <= alarms, sorted(alarms)
    cluster = f"{prefix}-cluster"
    assert len(ecs.list_services(cluster=cluster)["serviceArns"]) == 2

    deploy(remove_services=True)  # the services go, and their alarms
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []
    alarms = {a["AlarmName"] for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]}
    assert f"{prefix}-backend-cpu-high" not in alarms

    result = delete_job.delete(DeleteRequest("dev", stack), clients, RecordingReporter(answers=[True]), no_sleep)
    assert result.status is Status.DELETED
    assert [c["status"] for c in ecs.describe_clusters(clusters=[cluster])["clusters"]] == ["INACTIVE"]
