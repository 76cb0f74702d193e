"""The CloudFormation service role and the deployer's least privilege (documented in docs/security.md)."""

from __future__ import annotations

import json

from cylink_deploy.cfn import bootstrap

from .conftest import REPO
from .docspages import page, section


def _statements(document):
    return {s["Sid"]: s for s in json.loads(document.to_json())["Statement"]}


def test_the_deployer_needs_only_cloudformation_the_bucket_passrole_on_the_service_role_and_the_day2_reads_and_writes():
    statements = _statements(bootstrap.deployer_policy("111122223333", "ap-northeast-1", "bucket"))
    actions = {
        a for s in statements.values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {a.split(":")[0] for a in actions} == {
        "sts",
        "cloudformation",
        "s3",
        "iam",  # deploy, execute, delete
        "ecr",
        "ecs",
        "logs",
        "elasticloadbalancing",
        "elasticache",
        "cloudwatch",  # day-2
        "secretsmanager",
        "kms",  # rotate-redis-auth
        "route53",  # a new zone's name servers while the certificate waits (issue 21)
    }
    unscoped = {sid for sid, s in statements.items() if "*" in s["Resource"] and "Condition" not in s}
    assert unscoped == {"WhoAmI", "Day2Reads", "FindLeftoverLogGroups"}  # no resource-level permissions exist
    assert not any(a.endswith("*") for a in actions)
    assert {a for a in actions if a.startswith("iam:")} == {"iam:GetRole", "iam:PassRole"}
    passing = statements["PassTheServiceRoleToCloudFormation"]
    assert passing["Resource"] == ["arn:aws:iam::111122223333:role/cylink-cloudformation"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}


def test_the_service_role_is_confined_to_cylink_roles_and_passes_them_only_to_their_services():
    statements = _statements(bootstrap.role_policy("111122223333", "bucket"))
    roles = statements["StackRolesOnlyUnderTheBoundary"]
    assert roles["Resource"] == ["arn:aws:iam::111122223333:role/cylink-*"]
    boundary = "arn:aws:iam::111122223333:policy/cylink-permissions-boundary"
    assert roles["Condition"] == {"ArnEquals": {"iam:PermissionsBoundary": boundary}}
    managed = statements["OnlyTheManagedPoliciesTheTemplatesUse"]
    assert managed["Action"] == ["iam:AttachRolePolicy"]
    assert managed["Condition"]["ArnEquals"] == {
        "iam:PermissionsBoundary": boundary,
        "iam:PolicyARN": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
    }
    never = statements["NeverThisRoleOrTheDeployers"]
    assert never["Effect"] == "Deny" and never["Resource"] == [
        "arn:aws:iam::111122223333:role/cylink-cloudformation",
        "arn:aws:iam::111122223333:role/github-actions-cylink-*",
    ]
    assert statements["PassStackRolesToTheirServices"]["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "ecs-tasks.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
    ]
    assert "iam:*" not in json.dumps(statements)
    trust = json.loads(bootstrap.trust_policy("111122223333").to_json())["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def _security_section(heading: str) -> str:
    return section(page("security"), heading)


def _rendered(name: str) -> str:
    """A file of policies/iam/, which must be the policy rendered for ACCOUNT_ID and REGION (no stale copy)."""
    return (REPO / "policies" / "iam" / name).read_text().rstrip("\n")


def test_the_security_page_shows_exactly_the_deployer_policy():
    """By linking the checked-in file, which is exactly the generated policy; no copy of it to go stale."""
    text = _security_section("## Deployer permissions")
    assert "](../policies/iam/deployer-policy.json)" in text and "](../policies/iam/deployer-policy.yaml)" in text
    assert '"Statement"' not in text
    expected = bootstrap.as_json(
        bootstrap.deployer_policy("ACCOUNT_ID", "REGION", "cylink-cfn-artifacts-ACCOUNT_ID-REGION")
    )
    assert _rendered("deployer-policy.json") == expected


def test_the_security_page_shows_exactly_the_generated_service_role_policy():
    text = _security_section("## Service role policy (as generated)")
    assert "](../policies/iam/service-role-policy.json)" in text and '"Statement"' not in text
    expected = bootstrap.as_json(bootstrap.role_policy("ACCOUNT_ID", "cylink-cfn-artifacts-ACCOUNT_ID-REGION"))
    assert _rendered("service-role-policy.json") == expected
