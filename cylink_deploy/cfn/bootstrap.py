"""Bootstrap of an account/region: the CloudFormation service role that every change set runs as.

With it, whoever deploys (an engineer or CI) needs only CloudFormation on the cylink stacks, the
artifacts bucket, and iam:PassRole on this one role — not AdministratorAccess. The role's own policy is
generated from the templates: the union of the CloudFormation handler permissions of exactly the resource
types in the build, confined to cylink-* IAM roles, buckets and stacks where the action names one; it
passes roles only to the services that use them and trusts only CloudFormation of this account.
The role's policy and the deployer policy are also checked in under policies/iam/, so a change to either is
a reviewable diff (``make policies``, tools/policies.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import awacs.aws
import yaml
from awacs import iam, s3
from awacs.aws import Action, Allow, Condition, ConditionElement, PolicyDocument, Statement, StringEquals, StringLike
from botocore.exceptions import ClientError

from cylink_deploy.project import PACKAGE_ROOT
from templates_src.common import service_trust

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


def _scope(action: str, account: str) -> str:
    """The statement an action goes to: scoped by ARN and name prefix where its resource is one we name."""
    service, name = action.split(":")
    if action in ("iam:PassRole", "iam:CreateServiceLinkedRole"):
        return "conditional"
    if service == "iam" and "Role" in name:
        return "roles"
    if service == "cloudformation" and not name.startswith("List"):
        return "stacks"
    if service == "s3":
        return "objects" if "Object" in name else "buckets"
    return "any"


def role_policy(account: str, artifacts_bucket: str, types: Iterable[str] | None = None) -> PolicyDocument:
    """What CloudFormation may do on the deployer's behalf: exactly the handler permissions of the
    resource types in the build (no ``<service>:*``), on cylink-* roles, buckets and stacks where the
    action names one of those, and roles passed only to the services that use them."""
    needed = sorted(
        {
            a
            for perms in handler_permissions(types if types is not None else built_types()).values()
            for a in perms
            if IAM_ACTION.match(a) and a.split(":")[0] not in UNUSED_SERVICES
        }
    )
    groups: dict[str, list[str]] = {}
    for action in needed:
        service, name = action.split(":")
        verb = next((v for v in READ_VERBS if name.startswith(v)), None)
        action = f"{service}:{verb}*" if verb else action
        members = groups.setdefault(_scope(action, account), [])
        if action not in members:
            members.append(action)
    roles = f"arn:aws:iam::{account}:role/{NAME_PREFIX}-*"
    resources = {
        "any": ["*"],
        "roles": [roles],
        "buckets": [f"arn:aws:s3:::{NAME_PREFIX}-*"],
        "objects": [f"arn:aws:s3:::{NAME_PREFIX}-*/*"],
        "stacks": [f"arn:aws:cloudformation:*:{account}:stack/{NAME_PREFIX}-*/*"],
    }
    sids = {
        "any": "StackResources",
        "roles": "StackRoles",
        "buckets": "StackBuckets",
        "objects": "StackBucketObjects",
        "stacks": "NestedStacks",
    }
    # S3 only in this account's buckets: bucket names are global, so a cylink-* bucket may be another account's
    # (s3:ResourceAccount is the bucket owner's account, S3's condition keys in the Service Authorization
    # Reference: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
    own_buckets = {"Condition": Condition(StringEquals("s3:ResourceAccount", account))}
    statements = [
        Statement(
            Sid=sids[key],
            Effect=Allow,
            Action=[Action(*a.split(":")) for a in groups[key]],
            Resource=resources[key],
            **(own_buckets if key in ("buckets", "objects") else {}),
        )
        for key in ("any", "roles", "buckets", "objects", "stacks")
        if groups.get(key)
    ]
    statements += [
        Statement(
            Sid="ReadTemplates",
            Effect=Allow,
            Action=[s3.GetObject],
            Resource=[f"arn:aws:s3:::{artifacts_bucket}/*"],
            **own_buckets,
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
            Resource=["*"],
            Condition=Condition(StringLike("iam:AWSServiceName", list(SERVICE_LINKED))),
        ),
    ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


# The deployer policy is data: its statements, with placeholders, reviewed as a document rather than code.
DEPLOYER_SOURCE = PACKAGE_ROOT / "policies" / "iam" / "deployer-policy.yaml"
STATEMENT_KEYS = {"actions", "resources", "condition"}


def deployer_policy(account: str, region: str, artifacts_bucket: str) -> PolicyDocument:
    """The least privilege of whoever runs deploy.py once the account is bootstrapped: change sets on the
    cylink-* stacks, and the day-2 commands (release, status, logs, drift, rotate-redis-auth) on resources
    named from a NamePrefix starting with ``cylink``. The statements are policies/iam/deployer-policy.yaml,
    filled in here. Proven by tests/test_deployer_policy.py, which records every call the commands make
    against the emulator and evaluates each against this document."""
    values = {
        "account": account,
        "region": region,
        "bucket": artifacts_bucket,
        "prefix": NAME_PREFIX,
        "role": ROLE_NAME,
    }
    source = yaml.safe_load(DEPLOYER_SOURCE.read_text())
    return PolicyDocument(Version="2012-10-17", Statement=[_statement(sid, s, values) for sid, s in source.items()])


def _statement(sid: str, source: dict[str, Any], values: dict[str, str]) -> Statement:
    """An Allow statement from its source (``actions``, ``resources``, optional ``condition`` as
    ``{operator: {key: value}}``), every ``{placeholder}`` filled from ``values``: an unknown key, placeholder
    or operator, or an action that is not ``service:Name``, is an error, never a statement that grants
    something other than what the file says."""
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
    actions = [Action(*a.split(":")) for a in source["actions"]]
    return Statement(Sid=sid, Effect=Allow, Action=actions, Resource=fill(source["resources"]), **extra)


def _operator(name: str) -> Any:
    """awacs's class for an IAM condition operator (``StringEquals``, ``ArnLike``...)."""
    operator = getattr(awacs.aws, name, None)
    if not (isinstance(operator, type) and issubclass(operator, ConditionElement)):
        raise ValueError(f"{DEPLOYER_SOURCE.name}: {name} is not an IAM condition operator")
    return operator


def as_json(document: PolicyDocument) -> str:
    """Stable, readable JSON of a policy (for the README and --bootstrap output)."""
    return json.dumps(json.loads(document.to_json()), indent=2, sort_keys=True)


def service_role(iam_client: Any, account: str, artifacts_bucket: str, update: bool = False) -> tuple[str, bool]:
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
        iam_client.put_role_policy(
            RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=role_policy(account, artifacts_bucket).to_json()
        )
    return arn, created
