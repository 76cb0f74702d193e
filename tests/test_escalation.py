"""Issue 24, finding 1: nobody who may deploy can become administrator through the CloudFormation service role.

The deployer may create change sets, CloudFormation runs them as ``cylink-cloudformation``, and the template is
the deployer's to write: so what matters is what the service role's policy lets CloudFormation do with any
template. Each escalation shown on the issue is a request evaluated (tests/iameval.py) against the generated
documents, and each must be refused; the requests our own stacks make stay allowed (tests/test_permissions.py
for every handler permission, tests/test_deployer_policy.py for every call the commands make)."""

from __future__ import annotations

import json

import pytest

from cylink_deploy.cfn import bootstrap

from . import iameval

ACCOUNT, REGION = "111122223333", "ap-northeast-1"
OUTSIDE = "444455556666"
BUCKET = f"cylink-cfn-artifacts-{ACCOUNT}-{REGION}"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/cylink-permissions-boundary"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ROLE = f"arn:aws:iam::{ACCOUNT}:role"
STACK_ROLE = f"{ROLE}/cylink-prod-ClusterStack-1A2B-BackendExecutionRole-3C4D"
SERVICE_ROLE = f"{ROLE}/cylink-cloudformation"
GITHUB_ROLE = f"{ROLE}/github-actions-cylink-deployer"
ROLE_POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def service_role() -> dict:
    return json.loads(bootstrap.role_policy(ACCOUNT, BUCKET).to_json())


@pytest.fixture(scope="module")
def deployer() -> dict:
    return json.loads(bootstrap.deployer_policy(ACCOUNT, REGION, BUCKET).to_json())


# (what the template would make CloudFormation do, action, resource, the request's condition context)
SERVICE_ROLE_ESCALATIONS = [
    ("a role without the boundary (cylink-backdoor)", "iam:CreateRole", f"{ROLE}/cylink-backdoor", {}),
    (
        "a role whose boundary is not the project's",
        "iam:CreateRole",
        f"{ROLE}/cylink-backdoor",
        {"iam:PermissionsBoundary": ADMIN},
    ),
    (
        "AdministratorAccess on a stack role, even under the boundary",
        "iam:AttachRolePolicy",
        STACK_ROLE,
        {"iam:PolicyARN": ADMIN, "iam:PermissionsBoundary": BOUNDARY},
    ),
    (
        "AdministratorAccess on a role without the boundary",
        "iam:AttachRolePolicy",
        STACK_ROLE,
        {"iam:PolicyARN": ADMIN},
    ),
    ("an inline policy on a role without the boundary", "iam:PutRolePolicy", f"{ROLE}/cylink-legacy", {}),
    ("its own policy rewritten", "iam:PutRolePolicy", SERVICE_ROLE, {}),
    (
        "its own policy rewritten, with the boundary named",
        "iam:PutRolePolicy",
        SERVICE_ROLE,
        {"iam:PermissionsBoundary": BOUNDARY},
    ),
    ("its own trust rewritten", "iam:UpdateAssumeRolePolicy", SERVICE_ROLE, {"iam:PermissionsBoundary": BOUNDARY}),
    ("a managed policy on itself", "iam:AttachRolePolicy", SERVICE_ROLE, {"iam:PolicyARN": EXECUTION_POLICY}),
    ("the deployer role's policy", "iam:PutRolePolicy", GITHUB_ROLE, {"iam:PermissionsBoundary": BOUNDARY}),
    ("the deployer role's trust", "iam:UpdateAssumeRolePolicy", GITHUB_ROLE, {}),
    ("the boundary removed from a stack role", "iam:DeleteRolePermissionsBoundary", STACK_ROLE, {}),
    (
        "the boundary removed, naming it",
        "iam:DeleteRolePermissionsBoundary",
        STACK_ROLE,
        {"iam:PermissionsBoundary": BOUNDARY},
    ),
    ("the boundary swapped", "iam:PutRolePermissionsBoundary", STACK_ROLE, {"iam:PermissionsBoundary": ADMIN}),
    ("the boundary's content rewritten", "iam:CreatePolicyVersion", BOUNDARY, {}),
    ("itself passed to a service", "iam:PassRole", SERVICE_ROLE, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
    (
        "any secret read (prod/payments-db)",
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/payments-db-AbCdEf",
        {},
    ),
    (
        "any secret's key changed",
        "secretsmanager:UpdateSecret",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/payments-db-AbCdEf",
        {},
    ),
    (
        "deletion of a key that is not the stack's",
        "kms:ScheduleKeyDeletion",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000aaaa-1111-2222-3333-444455556666",
        {"kms:ResourceAliases": ["alias/payments"]},
    ),
    (
        "a foreign key's policy rewritten",
        "kms:PutKeyPolicy",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000aaaa-1111-2222-3333-444455556666",
        {},
    ),
    (
        "decrypt with a foreign key",
        "kms:Decrypt",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000aaaa-1111-2222-3333-444455556666",
        {},
    ),
    (
        "a foreign key aliased into the namespace",
        "kms:CreateAlias",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000aaaa-1111-2222-3333-444455556666",
        {},
    ),
    (
        "CloudTrail's log group deleted",
        "logs:DeleteLogGroup",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs-{ACCOUNT}-1a2b3c4d:*",
        {},
    ),
    (
        "CloudTrail's log retention cut",
        "logs:PutRetentionPolicy",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:CloudTrail/DefaultLogGroup:*",
        {},
    ),
    (
        "another repository made public",
        "ecr:SetRepositoryPolicy",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/payments/api",
        {},
    ),
    (
        "another topic subscribed to",
        "sns:Subscribe",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:payments-events",
        {},
    ),
]


@pytest.mark.parametrize(
    ("what", "action", "resource", "context"), SERVICE_ROLE_ESCALATIONS, ids=[e[0] for e in SERVICE_ROLE_ESCALATIONS]
)
def test_the_service_role_refuses_each_escalation(service_role, what, action, resource, context):
    assert not iameval.allowed(service_role, action, resource, context), what


TEMPLATE = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/root-0123456789ab.json"
EVIL = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-evil/00000000-0000-0000-0000-000000000000"
DEPLOYER_ESCALATIONS = [
    ("a change set that runs with the deployer's own permissions", {"cloudformation:TemplateUrl": TEMPLATE}),
    (
        "a change set run as another role",
        {"cloudformation:RoleArn": f"{ROLE}/cylink-prod-admin", "cloudformation:TemplateUrl": TEMPLATE},
    ),
    ("a template body instead of the bucket", {"cloudformation:RoleArn": SERVICE_ROLE}),
    (
        "a template from another bucket",
        {
            "cloudformation:RoleArn": SERVICE_ROLE,
            "cloudformation:TemplateUrl": "https://evil-bucket.s3.amazonaws.com/templates/root.json",
        },
    ),
    (
        "a template from a bucket whose name starts like ours",
        {
            "cloudformation:RoleArn": SERVICE_ROLE,
            "cloudformation:TemplateUrl": f"https://{BUCKET}-evil.s3.{REGION}.amazonaws.com/templates/root.json",
        },
    ),
    (
        "an import of an existing resource (e.g. prod/payments-db) into a cylink stack",
        {
            "cloudformation:RoleArn": SERVICE_ROLE,
            "cloudformation:TemplateUrl": TEMPLATE,
            "cloudformation:ImportResourceTypes": ["AWS::SecretsManager::Secret"],
        },
    ),
]


@pytest.mark.parametrize(("what", "context"), DEPLOYER_ESCALATIONS, ids=[e[0] for e in DEPLOYER_ESCALATIONS])
def test_the_deployer_creates_change_sets_only_as_the_service_role_from_its_bucket(deployer, what, context):
    assert not iameval.allowed(deployer, "cloudformation:CreateChangeSet", EVIL, context), what


def test_the_change_set_deploy_py_creates_is_allowed(deployer):
    context = {"cloudformation:RoleArn": SERVICE_ROLE, "cloudformation:TemplateUrl": TEMPLATE}
    assert iameval.allowed(deployer, "cloudformation:CreateChangeSet", EVIL, context)


PROD = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod/00000000-0000-0000-0000-000000000000"
PROD_NESTED = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod-CacheStack-1A2B/0000"
PROD_CHANGE_SET = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/cylink-prod-20261204-000000-abcdef/1111"
GITHUB_ESCALATIONS = [  # (role, what it must not do, action, resource)
    ("plan", "execute a change set", "cloudformation:ExecuteChangeSet", PROD_CHANGE_SET),
    ("plan", "delete a stack", "cloudformation:DeleteStack", PROD),
    ("plan", "lift the stack policy", "cloudformation:SetStackPolicy", PROD),
    (
        "plan",
        "roll out a service",
        "ecs:UpdateService",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/cylink-cluster/cylink-backend-service",
    ),
    ("staging", "execute prod's change set", "cloudformation:ExecuteChangeSet", PROD_CHANGE_SET),
    ("staging", "delete prod", "cloudformation:DeleteStack", PROD),
    ("staging", "delete a nested stack of prod", "cloudformation:DeleteStack", PROD_NESTED),
    ("dev", "create a change set on prod", "cloudformation:CreateChangeSet", PROD),
]


@pytest.mark.parametrize(
    ("role", "what", "action", "resource"), GITHUB_ESCALATIONS, ids=[f"{e[0]}: {e[1]}" for e in GITHUB_ESCALATIONS]
)
def test_each_github_role_does_only_its_own_job(role, what, action, resource):
    """Issue 24 finding 2: the plan job's role creates change sets and executes none; an environment's role
    reaches only its own stack."""
    kwargs = {"plan": True} if role == "plan" else {"environment": role}
    policy = json.loads(bootstrap.deployer_policy(ACCOUNT, REGION, BUCKET, **kwargs).to_json())
    context = {"cloudformation:RoleArn": SERVICE_ROLE, "cloudformation:TemplateUrl": TEMPLATE}
    assert not iameval.allowed(policy, action, resource, context), what
    if role == "staging":  # its own stack stays its own
        own = resource.replace("cylink-prod", "cylink-staging")
        assert iameval.allowed(policy, action, own, context), f"{action} on {own}"
