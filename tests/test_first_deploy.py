"""The first real deploy (issue 21): what the tool does about faults AWS would show and the emulator does not --
service-linked roles, a Redis replica added with failover, regions without a mapping row, deploy sessions shorter
than the deploy, and a new hosted zone whose certificate waits for the registrar. Stubber and pure functions; the
emulator only where the whole path matters (marked slow)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from botocore.stub import Stubber

from cylink_deploy import polling
from cylink_deploy.cfn import bootstrap as boot
from cylink_deploy.cfn import changes as ch
from cylink_deploy.cfn import delegation, github_oidc
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.build import Prepared
from cylink_deploy.jobs.model import DeployRequest
from cylink_deploy.jobs.views import NewZone
from cylink_deploy.output.human import HumanReporter
from cylink_deploy.preflight import build as build_step
from cylink_deploy.preflight import params
from templates_src import render

from .recording import RecordingReporter
from .stubbed import SESSION
from .stubbed import clients as stubbed_clients

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
STACK = "cylink-dev"


class _CleanLint:
    """cfn-lint's result for tests that stop before it matters: no problems, nothing to close."""

    warnings: list[str] = []
    cached = True

    def result(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def prepared(env: str = "dev", **overrides: str) -> Prepared:
    files = render.render()
    root = yaml.safe_load(files[render.ROOT_FILE])["Parameters"]
    param_file = REPO / "params" / f"{env}.yaml"
    deployment = params.resolve(env, param_file, root, overrides)
    return Prepared(deployment, build_step.Build(files, [], 0.0), param_file, cast(Any, _CleanLint()))


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = SESSION.client(service, region_name="ap-northeast-1")  # type: ignore[call-overload]
    return client, Stubber(client)


# -- finding 5: regions -----------------------------------------------------------------------------------------------


def test_a_region_without_a_mapping_row_is_refused_before_any_aws_call():
    """Every client is an empty Stubber: any AWS call would fail the test with UnStubbedResponseError."""
    clients = stubbed_clients(region="eu-central-1")
    with pytest.raises(BadInput, match=r"^region eu-central-1 is not supported: mapping ElbLogAccount has no row"):
        deploy_job.deploy(DeployRequest("dev"), clients, RecordingReporter(), cast(Any, None), prepared())


# -- finding 2: Redis replica and failover in one update --------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after, refused",
    [
        ({"RedisNodeCount": "1"}, {"RedisNodeCount": "2"}, True),  # the first replica with failover on: refused
        ({"RedisNodeCount": "2"}, {"RedisNodeCount": "1"}, True),  # the last replica removed with Multi-AZ on
        ({"RedisNodeCount": "1"}, {"RedisNodeCount": "2", "RedisFailover": "off"}, False),  # step 1 of 1 -> 2
        ({"RedisNodeCount": "2", "RedisFailover": "off"}, {"RedisNodeCount": "2"}, False),  # step 2: failover on
        ({"RedisNodeCount": "2"}, {"RedisNodeCount": "2", "RedisFailover": "off"}, False),  # step 1 of 2 -> 1
        ({"RedisNodeCount": "2", "RedisFailover": "off"}, {"RedisNodeCount": "1"}, False),  # step 2
        ({"RedisNodeCount": "2"}, {"RedisNodeCount": "3"}, False),  # a second replica: failover stays on
        ({"RedisNodeCount": "1"}, {"RedisNodeCount": "1"}, False),
    ],
)
def test_a_replica_is_never_added_or_removed_in_the_update_that_switches_failover(before, after, refused):
    """AWS refuses to enable automatic failover in the update that adds the first replica, and to remove the last
    replica while Multi-AZ is on (cloudformation-coverage-roadmap issue 383)."""
    assert (ch.redis_refusal(before, after, "staging") is not None) is refused


def test_the_refusal_names_the_two_deploys():
    refusal = ch.redis_refusal({"RedisNodeCount": "1"}, {"RedisNodeCount": "2"}, "staging")
    assert refusal is not None and refusal.exit_code == StackStateError.exit_code
    first = "python deploy.py --env staging --parameter RedisNodeCount=2 --parameter RedisFailover=off"
    assert str(refusal).startswith("RedisNodeCount 1 -> 2 switches Redis automatic failover") and first in str(refusal)
    assert str(refusal).endswith("then this deploy again") and "\n" not in str(refusal)


def _stack(parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "StackId": f"arn:aws:cloudformation:ap-northeast-1:{ACCOUNT}:stack/{STACK}/x",
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": polling.now(),
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            }
        ]
    }


def test_deploy_refuses_the_flip_before_it_creates_a_change_set():
    """The running dev stack has one node; this deploy asks for two (failover follows): refused after reading the
    stack, before any upload or change set (those calls are not stubbed, so they would fail the test)."""
    cfn, cfn_stub = _stubbed("cloudformation")
    sts, sts_stub = _stubbed("sts")
    sts_stub.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": "arn:aws:iam::1:user/x", "UserId": "x"})
    for _ in range(3):  # settle, the --env identity check, then the parameters the stack runs with
        cfn_stub.add_response("describe_stacks", _stack({"RedisNodeCount": "1"}), {"StackName": STACK})
    with cfn_stub, sts_stub, pytest.raises(StackStateError, match="RedisFailover=off"):
        deploy_job.deploy(
            DeployRequest("dev", overrides={"RedisNodeCount": "2"}),
            stubbed_clients(cfn, sts=sts),
            RecordingReporter(),
            cast(Any, None),
            prepared(RedisNodeCount="2"),
        )
    cfn_stub.assert_no_pending_responses()


# -- finding 1: service-linked roles ---------------------------------------------------------------------------------


def test_bootstrap_creates_the_service_linked_roles_and_keeps_existing_ones():
    """CreateServiceLinkedRole says InvalidInput "... has been taken" for an existing role
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html); the emulator says
    EntityAlreadyExists. Either is "already there"."""
    iam, stub = _stubbed("iam")
    taken = "Service role name AWSServiceRoleForElasticLoadBalancing has been taken in this account"
    role = {
        "Role": {
            "Path": "/aws-service-role/",
            "RoleName": "AWSServiceRoleForECS",
            "RoleId": "AROAEXAMPLEEXAMPLE1",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            "CreateDate": polling.now(),
        }
    }
    stub.add_response("create_service_linked_role", role, {"AWSServiceName": "ecs.amazonaws.com"})
    stub.add_client_error("create_service_linked_role", "InvalidInput", taken)
    stub.add_client_error("create_service_linked_role", "EntityAlreadyExists", "Role with name x already exists.")
    stub.add_response("create_service_linked_role", role)
    with stub:
        made = boot.ensure_service_linked_roles(iam)
    assert made == {
        "ecs.amazonaws.com": True,
        "elasticloadbalancing.amazonaws.com": False,
        "elasticache.amazonaws.com": False,
        "ecs.application-autoscaling.amazonaws.com": True,
    }


def test_any_other_service_linked_role_error_stops_the_bootstrap():
    iam, stub = _stubbed("iam")
    stub.add_client_error("create_service_linked_role", "AccessDenied", "not allowed: iam:CreateServiceLinkedRole")
    with stub, pytest.raises(iam.exceptions.ClientError, match="AccessDenied"):
        boot.ensure_service_linked_roles(iam)


@pytest.mark.slow
def test_bootstrap_on_the_emulator_creates_the_roles_once(fresh_emulator, monkeypatch):
    from cylink_deploy import aws
    from cylink_deploy.emulator import FAKE_CREDENTIALS
    from cylink_deploy.jobs.bootstrap import bootstrap

    clients = aws.make_clients(
        aws.make_session("ap-northeast-1", None, FAKE_CREDENTIALS, env={}), fresh_emulator.endpoint
    )
    first, again = RecordingReporter(), RecordingReporter()
    bootstrap(clients, first)
    bootstrap(clients, again)
    assert any(s.startswith("Service-linked roles: created for ecs.amazonaws.com") for s in first.of("step"))
    assert any(s.startswith("Service-linked roles: all there") for s in again.of("step"))
    names = {r["RoleName"] for r in clients.iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]}
    assert len(names) == len(boot.SERVICE_LINKED)


# -- finding 9: deploy sessions --------------------------------------------------------------------------------------


def test_the_deploy_session_outlasts_the_execute_job():
    """A role's MaxSessionDuration defaults to 3600 s and role-duration-seconds cannot exceed it (IAM CreateRole;
    aws-actions/configure-aws-credentials); the execute job must end before its session does."""
    workflow = yaml.safe_load((REPO / ".github/workflows/deploy.yml").read_text())
    execute = workflow["jobs"]["execute"]
    (creds,) = [s for s in execute["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert github_oidc.MAX_SESSION_SECONDS > 3600
    assert int(creds["with"]["role-duration-seconds"]) == github_oidc.MAX_SESSION_SECONDS
    assert execute["timeout-minutes"] * 60 < github_oidc.MAX_SESSION_SECONDS


def test_a_role_made_before_keeps_up_with_the_session_length():
    """Bootstrap again on an account whose roles were made with 1 h: their MaxSessionDuration is raised."""
    iam, stub = _stubbed("iam")
    arn = f"arn:aws:iam::{ACCOUNT}:role/github-actions-cylink-prod"
    stub.add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": "r",
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Arn": arn,
                "CreateDate": polling.now(),
            }
        },
    )
    stub.add_response("update_assume_role_policy", {})
    stub.add_response(
        "update_role",
        {},
        {"RoleName": "github-actions-cylink-prod", "MaxSessionDuration": github_oidc.MAX_SESSION_SECONDS},
    )
    stub.add_response("put_role_policy", {})
    from awacs.aws import PolicyDocument

    with stub:
        github_oidc._ensure_role(
            iam, ACCOUNT, "ap-northeast-1", "github-actions-cylink-prod", ["repo:o/r:environment:prod"],
            PolicyDocument(Version="2012-10-17", Statement=[]), "deploys prod",
        )  # fmt: skip
    stub.assert_no_pending_responses()


# -- finding 4: the new zone's name servers --------------------------------------------------------------------------

ZONE_EVENT = {
    "StackName": "cylink-prod-DnsStack-X",
    "LogicalResourceId": "HostedZone",
    "ResourceType": "AWS::Route53::HostedZone",
    "ResourceStatus": "CREATE_COMPLETE",
    "PhysicalResourceId": "Z0123456789ABCDEFGHIJ",
}


def test_only_a_created_zone_is_reported():
    assert delegation.created_zone(ZONE_EVENT) == "Z0123456789ABCDEFGHIJ"
    assert delegation.created_zone({**ZONE_EVENT, "ResourceStatus": "CREATE_IN_PROGRESS"}) is None
    assert delegation.created_zone({**ZONE_EVENT, "ResourceType": "AWS::CertificateManager::Certificate"}) is None


def test_the_name_servers_come_from_route53_and_say_what_to_set_at_the_registrar():
    route53, stub = _stubbed("route53")
    servers = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"]
    stub.add_response(
        "get_hosted_zone",
        {
            "HostedZone": {"Id": "/hostedzone/Z0123456789ABCDEFGHIJ", "Name": "example.com.", "CallerReference": "x"},
            "DelegationSet": {"NameServers": servers},
        },
        {"Id": "Z0123456789ABCDEFGHIJ"},
    )
    with stub:
        found = delegation.delegation(route53, "Z0123456789ABCDEFGHIJ")
    assert found == delegation.Delegation("example.com", "Z0123456789ABCDEFGHIJ", tuple(servers))
    out = io.StringIO()
    HumanReporter(out=out).show(NewZone(found))
    text = out.getvalue()
    assert "set these name servers at your registrar now" in text and all(f"  {s}\n" in text for s in servers)
    assert "dig NS example.com" in text and "72 hours" in text


@pytest.mark.slow
def test_a_deploy_that_creates_the_zone_prints_its_name_servers_once(emulator, project):
    """On the emulator the certificate validates at once; the name servers are shown as soon as the zone exists."""
    import uuid

    from cylink_deploy import aws
    from cylink_deploy.emulator import FAKE_CREDENTIALS

    clients = aws.make_clients(aws.make_session("ap-northeast-1", None, FAKE_CREDENTIALS, env={}), emulator.endpoint)
    tag = uuid.uuid4().hex[:6]
    request = DeployRequest("dev", f"cylink-z{tag}", {"NamePrefix": f"cyz{tag}", "DomainName": f"z{tag}.example.com"})
    reporter = RecordingReporter(answers=[True])
    deploy_job.deploy(request, clients, reporter, project, sleep=lambda s: None)
    (zone,) = reporter.of("new_zone")
    assert zone.domain == f"z{tag}.example.com" and len(zone.name_servers) >= 1
    assert all(re.match(r"^[a-z0-9.-]+$", s) for s in zone.name_servers)


# -- finding 6: the prefix, checked by the tool as CloudFormation checks it -------------------------------------------


@pytest.mark.parametrize("prefix", ["cy-", "cy--x", "a" * 21, "c"])
def test_a_prefix_ecr_or_the_length_limit_refuses_is_bad_input_before_anything_else(prefix):
    """AllowedPattern and MinLength/MaxLength are both CloudFormation parameter constraints
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html); the tool
    checks both, so a 21-character prefix fails here, not in CloudFormation."""
    root = yaml.safe_load(render.render()[render.ROOT_FILE])["Parameters"]
    assert params.check_value("NamePrefix", prefix, root["NamePrefix"]) is not None
    with pytest.raises(BadInput, match="NamePrefix"):
        params.resolve("dev", REPO / "params" / "dev.yaml", root, {"NamePrefix": prefix})
    assert params.check_value("NamePrefix", "a" * 20, root["NamePrefix"]) is None


def test_a_zone_whose_name_servers_cannot_be_read_is_a_warning_with_the_command_not_a_failure():
    route53, stub = _stubbed("route53")
    stub.add_client_error("get_hosted_zone", "AccessDenied", "not authorized to perform: route53:GetHostedZone")
    reporter = RecordingReporter()
    with stub:
        deploy_job.show_delegation(route53, "Z0123456789ABCDEFGHIJ", reporter)
    (warning,) = reporter.of("warn")
    assert "(AccessDenied)" in warning and "aws route53 get-hosted-zone --id Z0123456789ABCDEFGHIJ" in warning
