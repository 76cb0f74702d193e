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
    "kms": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "secretsmanager": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:RedisAuthSecret-1A2B3C4D5E6F-AbCdEf",
    "ecr": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/cylink/backend",
    "sns": f"arn:aws:sns:{REGION}:{ACCOUNT}:cylink-alarms",
    "wafv2": f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/cylink-alb/1111",
}
# Every log group the templates name (/ecs/<prefix>-<service>, /vpc/<prefix>-flow-logs, aws-waf-logs-<prefix>).
LOG_GROUPS = ("/ecs/cylink-backend", "/ecs/cylink-frontend", "/vpc/cylink-flow-logs", "aws-waf-logs-cylink")
# What the request carries for the stacks' own resources: roles under the boundary, attaching only the managed
# policy the templates use, the data key's tag (its alias on a key made before the tag), our own buckets.
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/cylink-permissions-boundary"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
CONTEXT = {
    "iam": {"iam:PermissionsBoundary": BOUNDARY, "iam:PolicyARN": EXECUTION_POLICY},
    "s3": {"s3:ResourceAccount": ACCOUNT},
}
KEY_CONTEXTS = ({"aws:ResourceTag/cylink:data-key": "true"}, {"kms:ResourceAliases": ["alias/cylink-data"]})
# Roles the templates pass, and to which service (TaskDefinition: ECS tasks; FlowLog: VPC flow logs).
PASSED = {"AWS::ECS::TaskDefinition": "ecs-tasks.amazonaws.com", "AWS::EC2::FlowLog": "vpc-flow-logs.amazonaws.com"}
# Schema entries that are not IAM actions at all (IAM would reject them in a policy).
NOT_ACTIONS = {"s3:REST.PUT.OBJECT"}
# Handler permissions left out on purpose (issue 24), each with the reason: the test fails if one is granted.
REFUSED = {
    "iam:DeleteRolePermissionsBoundary": "a stack role keeps the project's permissions boundary",
}


def _requests(type_: str, action: str) -> list[tuple[str, str, dict]]:
    """(action, resource, context) as CloudFormation's handler would send them for our templates."""
    service, name = action.split(":")
    resource = SAMPLE.get(service, f"arn:aws:{service}:{REGION}:{ACCOUNT}:cylink-resource")
    context = dict(CONTEXT.get(service, {}))
    if service == "s3" and "Object" in name:
        resource += "/AWSLogs/x"
    if action == "iam:PassRole":
        return [(action, SAMPLE["iam"], {"iam:PassedToService": PASSED[type_]})] if type_ in PASSED else []
    if action == "iam:CreateServiceLinkedRole":
        return [
            (action, f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x", {"iam:AWSServiceName": s})
            for s in bootstrap.SERVICE_LINKED
        ]
    if service == "logs":
        return [
            (
                action,
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
                + (":log-stream:s" if "LogEvents" in name or "LogStream" in name else ":*"),
                {},
            )
            for group in LOG_GROUPS
        ]
    if service == "kms" and name.endswith("Alias"):  # authorised on the alias and on the key
        alias = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/cylink-data"
        return [(action, alias, {})] + [(action, resource, c) for c in KEY_CONTEXTS]
    if service == "kms":
        return [(action, resource, c) for c in KEY_CONTEXTS]
    if action.endswith("PermissionPolicy"):  # acts on rule groups (the association's schema lists it)
        return [(action, f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/rulegroup/cylink-rules/1111", {})]
    return [(action, resource, context)]


def missing(policy: dict, types: list[str]) -> list[str]:
    out = []
    for type_, permissions in bootstrap.handler_permissions(types).items():
        for action in sorted(permissions):
            if action in NOT_ACTIONS or action in REFUSED or action.split(":")[0] in bootstrap.UNUSED_SERVICES:
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


def test_the_policy_fits_iams_limits_split_into_an_inline_and_managed_policies():
    """IAM caps a role's inline policies at 10,240 characters and a managed policy at 6,144 (whitespace not
    counted): the grants on "*" go to managed policies, and the parts together are exactly the policy."""
    policy = bootstrap.role_policy(ACCOUNT, BUCKET)
    inline, managed = bootstrap.split_role_policy(policy)
    assert len(json.dumps(inline, separators=(",", ":"))) <= bootstrap.INLINE_LIMIT
    assert managed and all(
        len(json.dumps(d, separators=(",", ":"))) <= bootstrap.MANAGED_LIMIT for d in managed.values()
    )
    parts = inline["Statement"] + [s for d in managed.values() for s in d["Statement"]]
    whole = json.loads(policy.to_json())["Statement"]
    assert {s["Sid"] for s in parts} == {s["Sid"] for s in whole}
    actions = lambda statements, sid: sorted(a for s in statements if s["Sid"] == sid for a in s["Action"])  # noqa: E731
    assert all(actions(parts, s["Sid"]) == actions(whole, s["Sid"]) for s in whole)


def test_a_resources_policy_past_the_managed_limit_is_split_by_action(monkeypatch):
    monkeypatch.setattr(bootstrap, "MANAGED_LIMIT", 2000)
    inline, managed = bootstrap.split_role_policy(bootstrap.role_policy(ACCOUNT, BUCKET))
    assert len(managed) >= 3 and list(managed)[:2] == [bootstrap.RESOURCES_POLICY, bootstrap.RESOURCES_POLICY + "-2"]
    assert all(len(json.dumps(d, separators=(",", ":"))) <= 2000 for d in managed.values())


def test_the_handler_permissions_left_out_are_refused():
    policy = _policy()
    for action in REFUSED:
        assert not iameval.allowed(policy, action, SAMPLE["iam"], CONTEXT["iam"]), action


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


def test_the_one_service_role_reads_the_templates_of_every_region_of_its_account_and_no_other_accounts():
    """IAM is global per account, so the service role bootstrapped in a second region is the same role, its
    policy rewritten for that region's bucket: the first region's nested stacks must still read their templates
    (issue 25), through the grant on the stacks' own cylink-* buckets of this account."""
    policy = json.loads(bootstrap.role_policy(ACCOUNT, "cylink-cfn-artifacts-111122223333-us-east-1").to_json())
    mine = {"s3:ResourceAccount": ACCOUNT}
    for region in ("ap-northeast-1", "us-east-1"):
        key = f"arn:aws:s3:::cylink-cfn-artifacts-{ACCOUNT}-{region}/templates/root-0a1b.json"
        assert iameval.allowed(policy, "s3:GetObject", key, mine), region
    other = "arn:aws:s3:::cylink-cfn-artifacts-444455556666-us-east-1/templates/root-0a1b.json"
    assert not iameval.allowed(policy, "s3:GetObject", other, {"s3:ResourceAccount": "444455556666"})
