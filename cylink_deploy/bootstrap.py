"""Bootstrap of an account/region: the CloudFormation service role that every change set runs as.

With it, whoever deploys (an engineer or CI) needs only CloudFormation on the cylink stacks, the
artifacts bucket, and iam:PassRole on this one role — not AdministratorAccess. The role's own policy is
broad on the services the stacks manage (that is its job) but confined to cylink-* IAM roles, passes
roles only to the services that use them, and trusts only CloudFormation of this account.
"""
from __future__ import annotations

import json
from typing import Any

from awacs import cloudformation as cfn
from awacs import iam, s3, sts
from awacs.aws import Action, Allow, Condition, PolicyDocument, Statement, StringEquals, StringLike
from botocore.exceptions import ClientError

from templates_src.common import service_trust

ROLE_NAME = "cylink-cloudformation"
POLICY_NAME = "manage-cylink-stacks"
# Services whose resources the nested stacks create, update and delete.
MANAGED_SERVICES = (
    "acm", "application-autoscaling", "cloudwatch", "ec2", "ecr", "ecs", "elasticache", "elasticloadbalancing",
    "kms", "logs", "route53", "secretsmanager", "wafv2",
)
ROLE_ACTIONS = (
    "CreateRole", "DeleteRole", "GetRole", "UpdateRole", "UpdateAssumeRolePolicy", "TagRole", "UntagRole", "PutRolePolicy",
    "DeleteRolePolicy", "GetRolePolicy", "ListRolePolicies", "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
)
BUCKET_ACTIONS = (
    "CreateBucket", "DeleteBucket", "PutBucket*", "GetBucket*", "DeleteBucketPolicy", "PutEncryptionConfiguration", "GetEncryptionConfiguration",
    "PutLifecycleConfiguration", "GetLifecycleConfiguration", "PutBucketPublicAccessBlock", "ListBucket",
)


def trust_policy(account: str) -> PolicyDocument:
    """Only CloudFormation acting for this account may assume the service role."""
    return service_trust("cloudformation.amazonaws.com", account)


def role_policy(account: str, artifacts_bucket: str) -> PolicyDocument:
    """What CloudFormation may do on the deployer's behalf."""
    roles = f"arn:aws:iam::{account}:role/cylink-*"
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Sid="ManageStackResources", Effect=Allow, Action=[Action(svc, "*") for svc in MANAGED_SERVICES], Resource=["*"]),
            Statement(Sid="AlbLogBuckets", Effect=Allow, Action=[s3.Action(a) for a in BUCKET_ACTIONS], Resource=["arn:aws:s3:::cylink-*"]),
            Statement(Sid="ReadTemplates", Effect=Allow, Action=[s3.GetObject], Resource=[f"arn:aws:s3:::{artifacts_bucket}/*"]),
            Statement(Sid="NestedStacks", Effect=Allow, Action=[cfn.Action("*")], Resource=[f"arn:aws:cloudformation:*:{account}:stack/cylink-*/*"]),
            Statement(Sid="StackRoles", Effect=Allow, Action=[iam.Action(a) for a in ROLE_ACTIONS], Resource=[roles]),
            Statement(
                Sid="PassStackRolesToTheirServices",
                Effect=Allow,
                Action=[iam.PassRole],
                Resource=[roles],
                Condition=Condition(StringEquals("iam:PassedToService", ["ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com"])),
            ),
            Statement(
                Sid="ServiceLinkedRoles",
                Effect=Allow,
                Action=[iam.CreateServiceLinkedRole],
                Resource=["*"],
                Condition=Condition(
                    StringLike(
                        "iam:AWSServiceName",
                        ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "elasticache.amazonaws.com", "ecs.application-autoscaling.amazonaws.com"],
                    )
                ),
            ),
        ],
    )


def deployer_policy(account: str, region: str, artifacts_bucket: str) -> PolicyDocument:
    """The least privilege of whoever runs deploy.py once the account is bootstrapped."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Sid="WhoAmI", Effect=Allow, Action=[sts.GetCallerIdentity], Resource=["*"]),
            Statement(
                Sid="CylinkStacks",
                Effect=Allow,
                Action=[cfn.Action(a) for a in (
                    "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "ListChangeSets", "DescribeStacks",
                    "DescribeStackEvents", "ListStackResources", "GetTemplate", "DeleteStack", "SetStackPolicy", "GetStackPolicy",
                    "UpdateTerminationProtection",
                )],
                Resource=[f"arn:aws:cloudformation:{region}:{account}:stack/cylink-*/*", f"arn:aws:cloudformation:{region}:{account}:changeSet/cylink-*/*"],
            ),
            Statement(
                Sid="ArtifactsBucket",
                Effect=Allow,
                Action=[s3.ListBucket, s3.GetObject, s3.PutObject],
                Resource=[f"arn:aws:s3:::{artifacts_bucket}", f"arn:aws:s3:::{artifacts_bucket}/*"],
            ),
            Statement(Sid="CheckTheServiceRole", Effect=Allow, Action=[iam.GetRole], Resource=[f"arn:aws:iam::{account}:role/{ROLE_NAME}"]),
            Statement(
                Sid="PassTheServiceRoleToCloudFormation",
                Effect=Allow,
                Action=[iam.PassRole],
                Resource=[f"arn:aws:iam::{account}:role/{ROLE_NAME}"],
                Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com")),
            ),
        ],
    )


def as_json(document: PolicyDocument) -> str:
    """Stable, readable JSON of a policy (for the README and --bootstrap output)."""
    return json.dumps(json.loads(document.to_json()), indent=2, sort_keys=True)


def service_role(iam_client: Any, account: str, artifacts_bucket: str, update: bool = False) -> tuple[str, bool]:
    """The service role's ARN, creating it when missing (``update``: also rewrite its policy). Returns (arn, created)."""
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
        iam_client.put_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=role_policy(account, artifacts_bucket).to_json())
    return arn, created
