"""Bootstrap of an account/region: the CloudFormation service role that every change set runs as.

With it, whoever deploys (an engineer or CI) needs only CloudFormation on the cylink stacks, the
artifacts bucket, and iam:PassRole on this one role — not AdministratorAccess. The role's own policy is
generated from the templates: the union of the CloudFormation handler permissions of exactly the resource
types in the build, each granted only on what our stacks own (issue 24: the deployer writes the template, so
the policy must be safe, not just sufficient): roles only under the permissions boundary bootstrap creates
(``boundary_policy``) and never this role or the deployers', the data key, the Redis AUTH secret, the stack's
log groups, repositories, topics and this account's cylink-* buckets; it passes roles only to the services
that use them and trusts only CloudFormation of this account. IAM holds it as an inline policy plus managed
policies for the grants on "*" (``split_role_policy``).
The role's policy and the deployer policy are also checked in under policies/iam/, so a change to either is
a reviewable diff (``make policies``, tools/policies.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import awacs.aws
import yaml
from awacs import iam, s3
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    Condition,
    ConditionElement,
    Deny,
    ForAnyValueStringLike,
    PolicyDocument,
    Statement,
    StringEquals,
    StringLike,
)
from botocore.exceptions import ClientError

from cylink_deploy.project import PACKAGE_ROOT
from templates_src.common import DATA_KEY_TAG, PERMISSIONS_BOUNDARY, service_trust

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

ROLE_NAME = "cylink-cloudformation"
POLICY_NAME = "manage-cylink-stacks"
NAME_PREFIX = "cylink"  # stacks, roles and buckets the templates create are named cylink-*
SCHEMA_REGION = "ap-northeast-1"  # the handler permissions are the same in every region cfn-lint ships
HANDLERS = ("create", "update", "delete")
# A permission in a schema that is not an IAM action (e.g. "s3:REST.PUT.OBJECT", a log-delivery detail):
# IAM would reject the policy, so it is left out; the test lists exactly which ones are.
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
# Services that appear in the handler permissions only for features the templates do not use: the WebACL
# association's handler lists every resource type a WebACL can protect (ours protects only the ALB), the
# listener's lists Cognito authentication, the scalable target's Lambda, the certificate's a private CA, the
# bucket's S3 Tables, the WebACL's a payments integration. Left out so the policy fits IAM's inline limit;
# the permission test names them, so a template that starts using one fails until it is removed here.
UNUSED_SERVICES = (
    "acm-pca",
    "amplify",
    "apigateway",
    "apprunner",
    "appsync",
    "bedrock-agentcore",
    "cognito-idp",
    "lambda",
    "payments",
    "s3tables",
    "vpc-lattice",
)
# Roles are passed only to the services that run them; service-linked roles only for these services.
PASSED_TO = ("ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com")
# Read-only verbs are granted per service as Describe*/List*/Get* (where at least one is needed): IAM caps a
# role's inline policies at 10,240 characters and the exact list of reads alone would pass it.
READ_VERBS = ("Describe", "List", "Get")
INLINE_LIMIT = 10240
SERVICE_LINKED = (
    "ecs.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "elasticache.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
)


def trust_policy(account: str) -> PolicyDocument:
    """Only CloudFormation acting for this account may assume the service role."""
    return service_trust("cloudformation.amazonaws.com", account)


def built_types() -> list[str]:
    """The resource types of the templates deploy.py builds (render() is what build/ holds)."""
    from templates_src import render

    types = {r["Type"] for text in render.render().values() for r in json.loads(text).get("Resources", {}).values()}
    return sorted(types)


def handler_permissions(types: Iterable[str], region: str = SCHEMA_REGION) -> dict[str, set[str]]:
    """type -> the actions CloudFormation needs to create, update and delete it (cfn-lint's resource
    provider schemas, ``handlers.create/update/delete.permissions``)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    out: dict[str, set[str]] = {}
    for type_ in types:
        handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_).schema.get("handlers", {})
        out[type_] = {a for h in HANDLERS for a in handlers.get(h, {}).get("permissions", [])}
    return out


# Where each handler permission goes (issue 24: the service role must be safe, not just sufficient). The
# template is the deployer's to write, so each action is granted only on the resources our stacks own: roles
# under the project's permissions boundary, the data key, the Redis AUTH secret, the log groups, repositories
# and topics named from the NamePrefix (cylink...). What is left on "*" has no resource-level permission, or
# creates something new, or is infrastructure (VPC, ALB, ECS, ElastiCache...) rather than a store of data.
# Resource types and condition keys: the Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
NO_RESOURCE_TYPE = {  # actions IAM authorises only on "*"
    "kms:CreateKey",
    "secretsmanager:GetRandomPassword",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
    *(
        f"logs:{name}"
        for name in (
            "CreateLogDelivery",
            "DeleteIndexPolicy",
            "DeleteLogDelivery",
            "DeleteResourcePolicy",
            "DescribeIndexPolicies",
            "DescribeLogGroups",
            "DescribeResourcePolicies",
            "GetLogDelivery",
            "ListLogDeliveries",
            "PutIndexPolicy",
            "PutResourcePolicy",
            "UpdateLogDelivery",
        )
    ),
}
KMS_ALIAS_ACTIONS = ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias")  # authorised on alias and key
# Never granted: a stack role keeps the boundary (the schemas list it for removing a PermissionsBoundary).
NEVER = ("iam:DeleteRolePermissionsBoundary",)
# The roles nothing CloudFormation runs may touch: this one and GitHub's (github_oidc: the plan role and one
# deployer role per environment), outside the cylink-* namespace too, denied explicitly all the same.
PROTECTED_ROLES = (ROLE_NAME, "github-actions-cylink-*")
ROLE_WRITES = (
    "AttachRolePolicy",
    "CreateRole",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "PassRole",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "TagRole",
    "UntagRole",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
)
BOUNDARY_WRITES = ("CreatePolicyVersion", "DeletePolicy", "DeletePolicyVersion", "SetDefaultPolicyVersion")


def _scope(action: str) -> str:
    """The statement an action goes to (``never``: left out)."""
    service, name = action.split(":")
    if action in NEVER:
        return "never"
    if action in ("iam:PassRole", "iam:CreateServiceLinkedRole") or action in NO_RESOURCE_TYPE:
        return "conditional" if service == "iam" else "any"
    if action == "iam:AttachRolePolicy":
        return "managed"
    if action in ("iam:TagRole", "iam:UntagRole"):  # no iam:PermissionsBoundary key for these
        return "role-tags"
    if service == "iam" and "Role" in name and not name.startswith(READ_VERBS):
        return "roles"
    by_service = {
        "kms": "keys",
        "secretsmanager": "secrets",
        "logs": "log-groups",
        "ecr": "repositories",
        "sns": "topics",
    }
    if service in by_service and not (service == "kms" and name.startswith(READ_VERBS)):  # key reads stay on *
        return by_service[service]
    if action in ("wafv2:PutPermissionPolicy", "wafv2:GetPermissionPolicy"):
        return "rule-groups"
    if service == "cloudformation" and not name.startswith("List"):
        return "stacks"
    if service == "s3":
        return "objects" if "Object" in name else "buckets"
    return "any"


def _grouped(actions: Iterable[str]) -> dict[str, list[str]]:
    """Statement key -> its actions; on "*" and the stack buckets, two or more reads of one service and verb
    become ``service:Verb*`` (IAM's size limits), a single one stays exact (ec2:Get* would include
    GetPasswordData); in the statements scoped to our resources every action stays exact."""
    groups: dict[str, list[str]] = {}
    for action in actions:
        groups.setdefault(_scope(action), []).append(action)
        if action in KMS_ALIAS_ACTIONS:
            groups.setdefault("aliases", []).append(action)
    for key, members in groups.items():
        if key not in ("any", "buckets"):
            continue
        out: list[str] = []
        for action in members:
            service, name = action.split(":")
            verb = next((v for v in READ_VERBS if name.startswith(v)), None)
            same = [a for a in members if verb and a.startswith(f"{service}:{verb}")]
            action = f"{service}:{verb}*" if verb and len(same) > 1 else action
            if action not in out:
                out.append(action)
        groups[key] = out
    return groups


def boundary_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:policy/{PERMISSIONS_BOUNDARY}"


def managed_policies() -> list[str]:
    """The AWS managed policies the templates attach to their roles (ManagedPolicyArns), as ARNs in the
    aws partition: the only ones the service role may attach."""
    from templates_src import render

    arns: set[str] = set()
    for text in render.render().values():
        for resource in json.loads(text).get("Resources", {}).values():
            if resource["Type"] == "AWS::IAM::Role":
                for arn in resource["Properties"].get("ManagedPolicyArns", []):
                    value = arn["Fn::Sub"] if isinstance(arn, dict) else arn
                    if not isinstance(value, str) or "${" in value.replace("${AWS::Partition}", ""):
                        raise ValueError(f"ManagedPolicyArns entry {arn} is not a fixed ARN")
                    arns.add(value.replace("${AWS::Partition}", "aws"))
    return sorted(arns)


def _resources(account: str) -> dict[str, list[str]]:
    """Statement key -> the ARNs its actions are granted on."""
    region = "*"  # one role for every region the stacks are deployed to
    prefix = NAME_PREFIX
    return {
        "any": ["*"],
        "roles": [f"arn:aws:iam::{account}:role/{prefix}-*"],
        "role-tags": [f"arn:aws:iam::{account}:role/{prefix}-*"],
        "managed": [f"arn:aws:iam::{account}:role/{prefix}-*"],
        "keys": [f"arn:aws:kms:{region}:{account}:key/*"],
        "aliases": [f"arn:aws:kms:{region}:{account}:alias/{prefix}*"],
        # CloudFormation names the secret after its logical ID (cache.py's RedisAuthSecret)
        "secrets": [f"arn:aws:secretsmanager:{region}:{account}:secret:*RedisAuthSecret*"],
        # the groups the templates name: /ecs/<prefix>-<service>, /vpc/<prefix>-flow-logs, aws-waf-logs-<prefix>
        "log-groups": [
            f"arn:aws:logs:{region}:{account}:log-group:{group}{prefix}*"
            for group in ("/ecs/", "/vpc/", "aws-waf-logs-")
        ],
        "repositories": [f"arn:aws:ecr:{region}:{account}:repository/{prefix}*"],
        "topics": [f"arn:aws:sns:{region}:{account}:{prefix}*"],
        "rule-groups": [f"arn:aws:wafv2:{region}:{account}:*/rulegroup/{prefix}*/*"],
        "buckets": [f"arn:aws:s3:::{prefix}-*"],
        "objects": [f"arn:aws:s3:::{prefix}-*/*"],
        "stacks": [f"arn:aws:cloudformation:{region}:{account}:stack/{prefix}-*/*"],
    }


SIDS = {
    "any": "StackResources",
    "roles": "StackRolesOnlyUnderTheBoundary",
    "managed": "OnlyTheManagedPoliciesTheTemplatesUse",
    "role-tags": "TagStackRoles",
    "keys": "TheDataKeyByItsTag",
    "aliases": "TheDataKeyAlias",
    "secrets": "TheRedisAuthSecret",
    "log-groups": "TheStacksLogGroups",
    "repositories": "TheStacksRepositories",
    "topics": "TheStacksTopics",
    "rule-groups": "TheStacksRuleGroups",
    "buckets": "StackBuckets",
    "objects": "StackBucketObjects",
    "stacks": "NestedStacks",
}


def _conditions(account: str) -> dict[str, Condition]:
    """Statement key -> the condition its grant is under."""
    boundary = ArnEquals("iam:PermissionsBoundary", boundary_arn(account))
    # S3 only in this account's buckets: bucket names are global, so a cylink-* bucket may be another account's
    # (s3:ResourceAccount is the bucket owner's account, S3's condition keys in the Service Authorization
    # Reference: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
    own_buckets = Condition(StringEquals("s3:ResourceAccount", account))
    return {
        "roles": Condition(boundary),
        # one ArnEquals element with both keys: awacs keeps only the last of two elements with the same operator
        "managed": Condition(
            ArnEquals({"iam:PermissionsBoundary": boundary_arn(account), "iam:PolicyARN": managed_policies()})
        ),
        "keys": Condition(StringEquals(f"aws:ResourceTag/{DATA_KEY_TAG[0]}", DATA_KEY_TAG[1])),
        "buckets": own_buckets,
        "objects": own_buckets,
    }


def role_policy(account: str, artifacts_bucket: str, types: Iterable[str] | None = None) -> PolicyDocument:
    """What CloudFormation may do on the deployer's behalf: exactly the handler permissions of the resource
    types in the build (no ``<service>:*``), each on the resources our stacks own (see ``_scope``), roles only
    under the project's permissions boundary, and roles passed only to the services that use them."""
    needed = sorted(
        {
            a
            for perms in handler_permissions(types if types is not None else built_types()).values()
            for a in perms
            if IAM_ACTION.match(a) and a.split(":")[0] not in UNUSED_SERVICES
        }
    )
    groups, resources, conditions = _grouped(needed), _resources(account), _conditions(account)
    statements = [
        Statement(
            Sid=SIDS[key],
            Effect=Allow,
            Action=[Action(*a.split(":")) for a in groups[key]],
            Resource=resources[key],
            **({"Condition": conditions[key]} if key in conditions else {}),
        )
        for key in SIDS
        if groups.get(key)
    ]
    if groups.get("keys"):  # keys made before the tag existed are known by the stack's alias
        statements.insert(
            [s.Sid for s in statements].index(SIDS["keys"]) + 1,
            Statement(
                Sid="TheDataKeyByItsAlias",
                Effect=Allow,
                Action=[Action(*a.split(":")) for a in groups["keys"]],
                Resource=resources["keys"],
                Condition=Condition(ForAnyValueStringLike("kms:ResourceAliases", f"alias/{NAME_PREFIX}*")),
            ),
        )
    return PolicyDocument(Version="2012-10-17", Statement=statements + _fixed_statements(account, artifacts_bucket))


def _fixed_statements(account: str, artifacts_bucket: str) -> list[Statement]:
    """Reading the templates, passing and creating roles for services, and what is never allowed."""
    roles = f"arn:aws:iam::{account}:role/{NAME_PREFIX}-*"
    return [
        Statement(
            Sid="ReadTemplates",
            Effect=Allow,
            Action=[s3.GetObject],
            Resource=[f"arn:aws:s3:::{artifacts_bucket}/*"],
            Condition=Condition(StringEquals("s3:ResourceAccount", account)),
        ),
        Statement(
            Sid="PassStackRolesToTheirServices",
            Effect=Allow,
            Action=[iam.PassRole],
            Resource=[roles],
            Condition=Condition(StringEquals("iam:PassedToService", list(PASSED_TO))),
        ),
        Statement(
            Sid="ServiceLinkedRoles",
            Effect=Allow,
            Action=[iam.CreateServiceLinkedRole],
            Resource=[f"arn:aws:iam::{account}:role/aws-service-role/*"],
            Condition=Condition(StringLike("iam:AWSServiceName", list(SERVICE_LINKED))),
        ),
        Statement(
            Sid="NeverThisRoleOrTheDeployers",
            Effect=Deny,
            Action=[Action("iam", a) for a in ROLE_WRITES],
            Resource=[f"arn:aws:iam::{account}:role/{name}" for name in PROTECTED_ROLES],
        ),
        Statement(
            Sid="TheBoundaryStays",
            Effect=Deny,
            Action=[Action("iam", "DeleteRolePermissionsBoundary")] + [Action("iam", a) for a in BOUNDARY_WRITES],
            Resource=["*"],
        ),
    ]


MANAGED_LIMIT = 6144  # a customer managed policy, whitespace not counted
# The service role's grants on "*" (StackResources) are the bulk of its policy: they go to customer managed
# policies attached to it (this name, then -2, -3... if one is not enough), the rest stays inline.
RESOURCES_POLICY = "cylink-cloudformation-resources"


def boundary_policy(account: str) -> PolicyDocument:
    """The permissions boundary of every role a stack creates (PERMISSIONS_BOUNDARY): the most any of them may
    do, whatever policy a template gives it. Exactly what the stacks' roles need: the execution roles pull the
    stack's images, write their log groups and read the Redis AUTH secret through Secrets Manager (their
    inline policy and AWS's AmazonECSTaskExecutionRolePolicy); the flow-log role writes its log group; the task
    roles hold nothing. tests/test_boundary.py proves each of those is inside it."""
    logs_arn = f"arn:aws:logs:*:{account}:log-group"
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Sid="EcrLogin", Effect=Allow, Action=[Action("ecr", "GetAuthorizationToken")], Resource=["*"]),
            Statement(
                Sid="PullTheStacksImages",
                Effect=Allow,
                Action=[
                    Action("ecr", a) for a in ("BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage")
                ],
                Resource=[f"arn:aws:ecr:*:{account}:repository/{NAME_PREFIX}*"],
            ),
            Statement(
                Sid="WriteTheStacksLogs",
                Effect=Allow,
                Action=[Action("logs", a) for a in ("CreateLogStream", "PutLogEvents", "DescribeLogStreams")],
                Resource=[f"{logs_arn}:/ecs/{NAME_PREFIX}*", f"{logs_arn}:/vpc/{NAME_PREFIX}*"],
            ),
            # names only; IAM authorises it on "*" (the flow-log role asks for log-group:*, inside "*")
            Statement(Sid="ListLogGroups", Effect=Allow, Action=[Action("logs", "DescribeLogGroups")], Resource=["*"]),
            Statement(
                Sid="ReadTheRedisAuthSecret",
                Effect=Allow,
                Action=[Action("secretsmanager", "GetSecretValue")],
                Resource=[f"arn:aws:secretsmanager:*:{account}:secret:*RedisAuthSecret*"],
            ),
            Statement(
                Sid="DecryptItThroughSecretsManager",
                Effect=Allow,
                Action=[Action("kms", "Decrypt")],
                Resource=[f"arn:aws:kms:*:{account}:key/*"],
                Condition=Condition(StringLike("kms:ViaService", "secretsmanager.*.amazonaws.com")),
            ),
        ],
    )


def _size(document: PolicyDocument | dict[str, Any]) -> int:
    """The length IAM counts (whitespace not counted)."""
    data = json.loads(document.to_json()) if isinstance(document, PolicyDocument) else document
    return len(json.dumps(data, separators=(",", ":")))


def split_role_policy(document: PolicyDocument) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The service role's policy as IAM can hold it: (inline document, {managed policy name: document}).
    StackResources goes to managed policies, its actions split by service where one would pass
    MANAGED_LIMIT; together the parts grant exactly ``document``."""
    data = json.loads(document.to_json())
    bulk = [s for s in data["Statement"] if s["Sid"] == "StackResources"]
    inline = {**data, "Statement": [s for s in data["Statement"] if s["Sid"] != "StackResources"]}
    chunks: list[list[str]] = [[]]
    for action in [a for s in bulk for a in s["Action"]]:
        trial = {**data, "Statement": [{**bulk[0], "Action": chunks[-1] + [action]}]}
        if chunks[-1] and _size(trial) > MANAGED_LIMIT:
            chunks.append([])
        chunks[-1].append(action)
    managed = {
        RESOURCES_POLICY + (f"-{i + 1}" if i else ""): {**data, "Statement": [{**bulk[0], "Action": chunk}]}
        for i, chunk in enumerate(chunks)
        if chunk
    }
    return inline, managed


def ensure_managed_policy(iam_client: IAMClient, account: str, name: str, document: str, description: str) -> str:
    """A customer managed policy of this account with exactly ``document`` as its default version: created,
    or given a new default version when it differs (the oldest other version deleted at IAM's five)."""
    arn = f"arn:aws:iam::{account}:policy/{name}"
    try:
        default = iam_client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        created = iam_client.create_policy(
            PolicyName=name,
            PolicyDocument=document,
            Description=description,
            Tags=[{"Key": "Project", "Value": "Cylink"}],
        )
        return created["Policy"]["Arn"]
    stored = iam_client.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
    if (json.loads(unquote(stored)) if isinstance(stored, str) else stored) == json.loads(document):
        return arn
    versions = iam_client.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= 5:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam_client.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam_client.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return arn


# The deployer policy is data: its statements, with placeholders, reviewed as a document rather than code.
DEPLOYER_SOURCE = PACKAGE_ROOT / "policies" / "iam" / "deployer-policy.yaml"
STATEMENT_KEYS = {"effect", "actions", "resources", "condition"}


# What the GitHub plan job's role lacks (issue 24 finding 2): it creates and reviews change sets, and can neither
# execute one, delete a stack, change its protection, nor run a day-2 write (push, roll out, rotate).
PLAN_WITHHELD = frozenset(
    {
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:SetStackPolicy",
        "cloudformation:UpdateTerminationProtection",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecs:UpdateService",
        "elasticache:ModifyReplicationGroup",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
)


def deployer_policy(
    account: str, region: str, artifacts_bucket: str, environment: str | None = None, plan: bool = False
) -> PolicyDocument:
    """The least privilege of whoever runs deploy.py once the account is bootstrapped: change sets on the
    cylink-* stacks, and the day-2 commands (release, status, logs, drift, rotate-redis-auth) on resources
    named from a NamePrefix starting with ``cylink``. The statements are policies/iam/deployer-policy.yaml,
    filled in here. Proven by tests/test_deployer_policy.py, which records every call the commands make
    against the emulator and evaluates each against this document.

    ``environment``: only the stack of that environment (``cylink-ENV`` and its nested stacks, their change
    sets), the policy of its GitHub deployer role; the day-2 resources are named from the NamePrefix, which the
    environments share, so those stay as they are. ``plan``: without PLAN_WITHHELD (the plan job's role)."""
    values = {
        "account": account,
        "region": region,
        "bucket": artifacts_bucket,
        "prefix": NAME_PREFIX,
        "role": ROLE_NAME,
    }
    source = yaml.safe_load(DEPLOYER_SOURCE.read_text())
    stack = f"{NAME_PREFIX}-{environment}" if environment else None
    statements = []
    for sid, body in source.items():
        if plan and isinstance(body, dict) and isinstance(body.get("actions"), list):
            body = {**body, "actions": [a for a in body["actions"] if a not in PLAN_WITHHELD]}
            if not body["actions"]:
                continue
        statements.append(_statement(sid, body, values, stack))
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _one_stack(resources: list[str], stack: str) -> list[str]:
    """The cylink-* stack and change-set ARNs narrowed to one stack: the stack, its nested stacks
    (``<stack>-<Child>Stack-...``) and its change sets (named ``<stack>-<time>-<hex>``)."""
    out: list[str] = []
    for arn in resources:
        head, _, tail = arn.partition(f"/{NAME_PREFIX}-*/")
        if head.endswith(":stack"):
            out += [f"{head}/{stack}/{tail}", f"{head}/{stack}-*/{tail}"]
        elif head.endswith(":changeSet"):
            out.append(f"{head}/{stack}-*/{tail}")
        else:
            out.append(arn)
    return out


def _statement(sid: str, source: dict[str, Any], values: dict[str, str], stack: str | None = None) -> Statement:
    """A statement from its source (``actions``, ``resources``, optional ``condition`` as
    ``{operator: {key: value}}``, optional ``effect``: Allow, or Deny), every ``{placeholder}`` filled from
    ``values``: an unknown key, placeholder, effect or operator, or an action that is not ``service:Name``, is an
    error, never a statement that grants something other than what the file says."""
    if set(source) - STATEMENT_KEYS or not {"actions", "resources"} <= set(source):
        raise ValueError(f"{DEPLOYER_SOURCE.name}: {sid}: keys {sorted(source)}, expected {sorted(STATEMENT_KEYS)}")
    if not all(IAM_ACTION.match(a) for a in source["actions"]):
        raise ValueError(f"{DEPLOYER_SOURCE.name}: {sid}: actions are service:Name, without wildcards")

    def fill(value: str | list[str]) -> str | list[str]:
        return value.format_map(values) if isinstance(value, str) else [v.format_map(values) for v in value]

    extra = {}
    if "condition" in source:
        extra["Condition"] = Condition(
            [_operator(op)({key: fill(v) for key, v in pairs.items()}) for op, pairs in source["condition"].items()]
        )
    effect = {"Allow": Allow, "Deny": Deny}.get(source.get("effect", "Allow"))
    if effect is None:
        raise ValueError(f"{DEPLOYER_SOURCE.name}: {sid}: effect is Allow or Deny")
    actions = [Action(*a.split(":")) for a in source["actions"]]
    resources = fill(source["resources"])
    resources = _one_stack([resources] if isinstance(resources, str) else resources, stack) if stack else resources
    return Statement(Sid=sid, Effect=effect, Action=actions, Resource=resources, **extra)


def _operator(name: str) -> type[ConditionElement]:
    """awacs's class for an IAM condition operator (``StringEquals``, ``ArnLike``...)."""
    operator = getattr(awacs.aws, name, None)
    if not (isinstance(operator, type) and issubclass(operator, ConditionElement)):
        raise ValueError(f"{DEPLOYER_SOURCE.name}: {name} is not an IAM condition operator")
    return operator


def as_json(document: PolicyDocument) -> str:
    """Stable, readable JSON of a policy (for the policy files docs/security.md links and --bootstrap output)."""
    return json.dumps(json.loads(document.to_json()), indent=2, sort_keys=True)


def installed_policies(account: str, artifacts_bucket: str) -> dict[str, Any]:
    """What ``service_role(update=True)`` writes to IAM, by policy name: the stack roles' permissions boundary,
    the service role's inline policy and the managed policies it is split into (``bootstrap --json``)."""
    inline, managed = split_role_policy(role_policy(account, artifacts_bucket))
    return {PERMISSIONS_BOUNDARY: json.loads(boundary_policy(account).to_json()), POLICY_NAME: inline, **managed}


def service_role(iam_client: IAMClient, account: str, artifacts_bucket: str, update: bool = False) -> tuple[str, bool]:
    """The service role's ARN, creating it when missing (``update``: also rewrite its policy).
    Returns (arn, created)."""
    try:
        arn = iam_client.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        created = False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        arn = iam_client.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=trust_policy(account).to_json(),
            Description="CloudFormation service role for the Cylink stacks (created by deploy.py)",
        )["Role"]["Arn"]
        created = update = True
    if update:
        ensure_managed_policy(
            iam_client,
            account,
            PERMISSIONS_BOUNDARY,
            boundary_policy(account).to_json(),
            "The most any role of the Cylink stacks may do (created by deploy.py bootstrap)",
        )
        inline, managed = split_role_policy(role_policy(account, artifacts_bucket))
        for name, document in managed.items():
            policy = ensure_managed_policy(
                iam_client, account, name, json.dumps(document), "What the Cylink stacks' service role may do on *"
            )
            iam_client.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=policy)
        iam_client.put_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(inline))
    return arn, created


# CreateServiceLinkedRole answers InvalidInput "Service role name AWSServiceRoleForECS has been taken in this
# account" when the role exists (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html
# #API_CreateServiceLinkedRole_Errors); some emulators say EntityAlreadyExists.
_SLR_EXISTS = ("has been taken", "already exists")


def ensure_service_linked_roles(iam_client: IAMClient, services: Iterable[str] = SERVICE_LINKED) -> dict[str, bool]:
    """Create the service-linked roles the stacks rely on ahead of the first deploy; returns service -> created.

    ECS creates AWSServiceRoleForECS on first use and assumes it at once, so the first cluster or service in a new
    account can fail "Unable to assume the service linked role" until IAM propagates (issue 21 finding 1:
    https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/818). ELB, ElastiCache and
    Application Auto Scaling (ECS) create theirs the same way (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    using-service-linked-roles.html, "AWS services that work with IAM"). Idempotent: an existing role is kept."""
    out: dict[str, bool] = {}
    for service in services:
        try:
            iam_client.create_service_linked_role(AWSServiceName=service)
            out[service] = True
        except ClientError as exc:
            error = exc.response.get("Error", {})
            taken = error.get("Code") in ("InvalidInput", "EntityAlreadyExists") and any(
                text in error.get("Message", "") for text in _SLR_EXISTS
            )
            if not taken:
                raise
            out[service] = False
    return out
