"""The permissions boundary of the stacks' roles (issue 24, finding 1): every AWS::IAM::Role the templates
create carries it, it allows what those roles need and nothing else worth having, and bootstrap keeps it (and
the service role's managed policy) in the account with exactly the generated content."""

from __future__ import annotations

import json

import pytest

from cylink_deploy import aws
from cylink_deploy.cfn import bootstrap
from cylink_deploy.emulator import FAKE_CREDENTIALS
from templates_src import render

from . import iameval

ACCOUNT, REGION = "123456789012", "ap-northeast-1"  # moto's account
BOUNDARY_SUB = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/cylink-permissions-boundary"
# AWS's AmazonECSTaskExecutionRolePolicy, which the execution roles attach (AWS Managed Policy Reference,
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSTaskExecutionRolePolicy.html):
# what it grants is used by ECS on the stack's own repositories and log groups only.
EXECUTION_POLICY_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
)
# The stack's resources, as the roles reach them (Sub/GetAtt/Ref in the templates).
RESOURCES = {
    "ecr": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/cylink/backend",
    "logs:/ecs": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/cylink-backend:log-stream:ecs/backend/1",
    "logs:/vpc": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/vpc/cylink-flow-logs:*",
    "secretsmanager": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:RedisAuthSecret-1A2B3C4D5E6F-AbCdEf",
    "kms": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}


def _boundary() -> dict:
    return json.loads(bootstrap.boundary_policy(ACCOUNT).to_json())


def _roles() -> dict[str, dict]:
    out = {}
    for name, text in render.render().items():
        for logical_id, resource in json.loads(text).get("Resources", {}).items():
            if resource["Type"] == "AWS::IAM::Role":
                out[f"{name}:{logical_id}"] = resource["Properties"]
    return out


def test_every_role_the_templates_create_carries_the_boundary():
    roles = _roles()
    assert len(roles) >= 5  # two execution roles, two task roles, the flow-log role
    assert {name: props.get("PermissionsBoundary") for name, props in roles.items()} == {
        name: {"Fn::Sub": BOUNDARY_SUB} for name in roles
    }


def _granted(props: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource the role uses it on, context) for each action the role's own policies grant."""
    out = []
    for policy in props.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            for action in statement["Action"]:
                service = action.split(":")[0]
                if action == "logs:DescribeLogGroups":
                    resource = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"
                else:  # a service with no sample resource here is a KeyError: the test names it
                    resource = RESOURCES["logs:/vpc" if service == "logs" else service]
                context = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"} if service == "kms" else {}
                out.append((action, resource, context))
    if props.get("ManagedPolicyArns"):
        for action in EXECUTION_POLICY_ACTIONS:
            service = action.split(":")[0]
            resource = "*" if action == "ecr:GetAuthorizationToken" else RESOURCES.get(service, RESOURCES["logs:/ecs"])
            out.append((action, resource, {}))
    return out


def test_the_boundary_allows_what_each_stack_role_needs():
    boundary = _boundary()
    needed = [(name, request) for name, props in _roles().items() for request in _granted(props)]
    assert len(needed) >= 10
    assert [
        f"{name}: {action} on {resource}"
        for name, (action, resource, c) in needed
        if not iameval.allowed(boundary, action, resource, c)
    ] == []


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x", {}),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/cylink-cloudformation", {}),
        ("s3:GetObject", "arn:aws:s3:::cylink-cfn-artifacts-123456789012-ap-northeast-1/templates/root.json", {}),
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/payments-db-AbCdEf",
            {},
        ),
        ("kms:Decrypt", RESOURCES["kms"], {}),  # only through Secrets Manager
        ("kms:Decrypt", RESOURCES["kms"], {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}),
        ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/payments/api", {}),
        ("ecr:PutImage", RESOURCES["ecr"], {}),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs-x:log-stream:y", {}),
        ("logs:GetLogEvents", RESOURCES["logs:/ecs"], {}),
        ("logs:DeleteLogGroup", RESOURCES["logs:/ecs"], {}),
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/cylink-cloudformation", {}),
    ],
)
def test_the_boundary_allows_nothing_else_worth_having(action, resource, context):
    assert not iameval.allowed(_boundary(), action, resource, context)


def test_bootstrap_keeps_the_boundary_and_the_managed_policy_in_the_account(emulator):
    iam = aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint).iam
    bucket = f"cylink-cfn-artifacts-{ACCOUNT}-{REGION}"
    bootstrap.service_role(iam, ACCOUNT, bucket, update=True)
    boundary = iam.get_policy(PolicyArn=bootstrap.boundary_arn(ACCOUNT))["Policy"]
    stored = iam.get_policy_version(PolicyArn=boundary["Arn"], VersionId=boundary["DefaultVersionId"])
    document = stored["PolicyVersion"]["Document"]
    assert (json.loads(document) if isinstance(document, str) else document) == _boundary()
    inline, managed = bootstrap.split_role_policy(bootstrap.role_policy(ACCOUNT, bucket))
    attached = {
        p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=bootstrap.ROLE_NAME)["AttachedPolicies"]
    }
    assert set(managed) <= attached
    kept = iam.get_role_policy(RoleName=bootstrap.ROLE_NAME, PolicyName=bootstrap.POLICY_NAME)["PolicyDocument"]
    assert (json.loads(kept) if isinstance(kept, str) else kept) == inline


def test_a_changed_managed_policy_gets_a_new_default_version_and_never_more_than_five(emulator):
    iam = aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint).iam
    name = "cylink-test-versions"

    def document(n: int) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": f"S{n}", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
            }
        )

    arn = bootstrap.ensure_managed_policy(iam, ACCOUNT, name, document(0), "test")
    assert bootstrap.ensure_managed_policy(iam, ACCOUNT, name, document(0), "test") == arn
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1  # unchanged: no new version
    for n in range(1, 7):
        bootstrap.ensure_managed_policy(iam, ACCOUNT, name, document(n), "test")
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    default = next(v for v in versions if v["IsDefaultVersion"])
    stored = iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])["PolicyVersion"]["Document"]
    assert (
        len(versions) <= 5
        and (json.loads(stored) if isinstance(stored, str) else stored)["Statement"][0]["Sid"] == "S6"
    )
