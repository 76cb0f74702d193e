"""Least privilege, proven: the CloudFormation service role's policy allows every permission that
CloudFormation's resource handlers need for every resource type in the build (cfn-lint's provider
schemas), on the resources our stacks name; and the check fails when a permission or a type is missing."""

from __future__ import annotations

import json

from cylink_deploy.cfn import bootstrap

from . import iameval

ACCOUNT, REGION = "111122223333", "ap-northeast-1"
BUCKET = f"cylink-cfn-artifacts-{ACCOUNT}-{REGION}"
# What a handler's action acts on, as our stacks name it (CloudFormation names children cylink-<env>-...).
SAMPLE = {
    "iam": f"arn:aws:iam::{ACCOUNT}:role/cylink-prod-ClusterStack-1A2B-BackendExecutionRole-3C4D",
    "s3": "arn:aws:s3:::cylink-prod-loadbalancerstack-1a2b-alblogbucket-3c4d",
    "cloudformation": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod-CacheStack-1A2B/0f0e0d0c",
}
# Roles the templates pass, and to which service (TaskDefinition: ECS tasks; FlowLog: VPC flow logs).
PASSED = {"AWS::ECS::TaskDefinition": "ecs-tasks.amazonaws.com", "AWS::EC2::FlowLog": "vpc-flow-logs.amazonaws.com"}
# Schema entries that are not IAM actions at all (IAM would reject them in a policy).
NOT_ACTIONS = {"s3:REST.PUT.OBJECT"}


def _requests(type_: str, action: str) -> list[tuple[str, str, dict]]:
    """(action, resource, context) as CloudFormation's handler would send them for our templates."""
    service, name = action.split(":")
    resource = SAMPLE.get(service, f"arn:aws:{service}:{REGION}:{ACCOUNT}:cylink-resource")
    if service == "s3" and "Object" in name:
        resource += "/AWSLogs/x"
    if service == "s3":  # the stack's own buckets are this account's
        return [(action, resource, {"s3:ResourceAccount": ACCOUNT})]
    if action == "iam:PassRole":
        return [(action, SAMPLE["iam"], {"iam:PassedToService": PASSED[type_]})] if type_ in PASSED else []
    if action == "iam:CreateServiceLinkedRole":
        return [
            (action, f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x", {"iam:AWSServiceName": s})
            for s in bootstrap.SERVICE_LINKED
        ]
    return [(action, resource, {})]


def missing(policy: dict, types: list[str]) -> list[str]:
    out = []
    for type_, permissions in bootstrap.handler_permissions(types).items():
        for action in sorted(permissions):
            if action in NOT_ACTIONS or action.split(":")[0] in bootstrap.UNUSED_SERVICES:
                continue
            for request in _requests(type_, action):
                if not iameval.allowed(policy, *request):
                    out.append(f"{type_}: {action} on {request[1]}")
    return out


def _policy(types: list[str] | None = None) -> dict:
    return json.loads(bootstrap.role_policy(ACCOUNT, BUCKET, types).to_json())


def test_the_service_role_allows_every_handler_permission_of_every_type_in_the_build():
    types = bootstrap.built_types()
    assert len(types) > 30 and "AWS::ElastiCache::ReplicationGroup" in types
    assert missing(_policy(), types) == []


def test_only_known_non_actions_and_unused_features_are_left_out():
    found = {a for perms in bootstrap.handler_permissions(bootstrap.built_types()).values() for a in perms}
    assert {a for a in found if not bootstrap.IAM_ACTION.match(a)} == NOT_ACTIONS
    used_by_a_type = {t.split("::")[1].lower() for t in bootstrap.built_types()}
    assert not {s for s in bootstrap.UNUSED_SERVICES if s.replace("-", "") in used_by_a_type}


def test_removing_any_permission_is_caught():
    policy = _policy()
    statement = next(s for s in policy["Statement"] if s["Sid"] == "StackResources")
    statement["Action"].remove("elasticache:ModifyReplicationGroup")
    assert any("elasticache:ModifyReplicationGroup" in m for m in missing(policy, bootstrap.built_types()))


def test_a_new_resource_type_without_a_wider_role_is_caught():
    types = bootstrap.built_types()
    narrower = _policy([t for t in types if t != "AWS::SecretsManager::Secret"])
    assert any(
        m.startswith("AWS::SecretsManager::Secret: secretsmanager:CreateSecret") for m in missing(narrower, types)
    )


def test_roles_buckets_and_stacks_are_scoped_by_name_and_nothing_is_service_wide():
    policy = _policy()
    actions = [
        a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert not [a for a in actions if a.endswith(":*")]
    assert not iameval.allowed(policy, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/admin")
    assert not iameval.allowed(policy, "s3:DeleteBucket", "arn:aws:s3:::someone-elses-bucket")
    assert not iameval.allowed(
        policy, "cloudformation:DeleteStack", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/other/1"
    )
    assert not iameval.allowed(policy, "iam:PassRole", SAMPLE["iam"], {"iam:PassedToService": "ec2.amazonaws.com"})


def test_the_policy_fits_iams_inline_limit():
    """IAM caps a role's inline policies at 10,240 characters (whitespace not counted)."""
    assert len(json.dumps(_policy(), separators=(",", ":"))) <= bootstrap.INLINE_LIMIT


def test_the_evaluator_knows_deny_wildcards_and_conditions():
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false"}},
            },
        ]
    }
    assert iameval.decision(doc, "kms:Decrypt", "arn:aws:kms:r:a:key/k") == "Allow"
    assert iameval.decision(doc, "kms:CreateGrant", "k") == "Deny"
    assert iameval.decision(doc, "kms:CreateGrant", "k", {"kms:GrantIsForAWSResource": "true"}) == "Allow"
    assert iameval.decision(doc, "s3:GetObject", "x") == "ImplicitDeny"
