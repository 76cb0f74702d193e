"""Keys stack: the customer-managed KMS key that encrypts Cylink's data at rest — log groups, ECR
images, Redis, the Redis AUTH secret and the alarm topic. Rotation on; retained when the stack goes.

The key policy lets the account administer the key (no data operations), CloudWatch Logs encrypt its
own log groups of this account, CloudWatch alarms of this account publish to the encrypted alarm topic
(an SNS publisher must be able to generate a data key; without this statement alarms fail silently),
and principals of this account use the key for data only *through* Secrets Manager, ElastiCache, ECR
and SNS. Outputs: DataKeyArn.
"""

from __future__ import annotations

from awacs import kms
from awacs.aws import Allow, ArnLike, BoolIfExists, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Sub, Tags, Template
from troposphere import kms as tkms

from .common import DATA_KEY_TAG, RETAINED, add_output, name_prefix_param

# Administration only: no "kms:Create*", which would include kms:CreateGrant -- a grant is a way around
# the kms:ViaService limits below. CreateAlias is the one Create action administration needs.
ADMIN_ACTIONS = [
    kms.Action(a)
    for a in (
        "CreateAlias",
        "Describe*",
        "Enable*",
        "List*",
        "Put*",
        "Update*",
        "Revoke*",
        "Disable*",
        "Get*",
        "Delete*",
        "TagResource",
        "UntagResource",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
    )
]
DATA_ACTIONS = [kms.Encrypt, kms.Decrypt, kms.Action("ReEncrypt*"), kms.Action("GenerateDataKey*"), kms.DescribeKey]
VIA_SERVICES = ("secretsmanager", "elasticache", "ecr", "sns")
# What a publisher to an SSE-KMS topic needs (SNS docs: "Enable compatibility between event sources ...").
PUBLISH_ACTIONS = [kms.Decrypt, kms.Action("GenerateDataKey*")]


def key_policy() -> PolicyDocument:
    """Administration by the account; data operations only via the services that hold Cylink's data."""
    account_root = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AccountAdministersTheKey",
                Effect=Allow,
                Principal=account_root,
                Action=ADMIN_ACTIONS,
                Resource=["*"],
            ),
            Statement(
                Sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                Effect=Allow,
                Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                Action=DATA_ACTIONS,
                Resource=["*"],
                Condition=Condition(
                    ArnLike(
                        "kms:EncryptionContext:aws:logs:arn",
                        Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
                    )
                ),
            ),
            Statement(
                Sid="CloudWatchAlarmsOfThisAccountPublishToTheEncryptedTopic",
                Effect=Allow,
                Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                Action=PUBLISH_ACTIONS,
                Resource=["*"],
                Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            ),
            Statement(
                Sid="DataServicesOfThisAccount",
                Effect=Allow,
                Principal=account_root,
                Action=DATA_ACTIONS + [kms.CreateGrant, kms.Action("ListGrants")],
                Resource=["*"],
                Condition=Condition(
                    [
                        StringEquals("kms:CallerAccount", Sub("${AWS::AccountId}")),
                        StringEquals(
                            "kms:ViaService", [Sub(f"{svc}.${{AWS::Region}}.amazonaws.com") for svc in VIA_SERVICES]
                        ),
                    ]
                ),
            ),
            # Grants only for AWS resources (ECR, ElastiCache create them for their own use), whoever asks:
            # even a principal with an IAM kms:CreateGrant cannot grant itself decrypt outside kms:ViaService.
            Statement(
                Sid="GrantsOnlyForAwsResources",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[kms.CreateGrant],
                Resource=["*"],
                Condition=Condition(
                    BoolIfExists({"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"})
                ),
            ),
        ],
    )


def build() -> Template:
    """One retained, rotating, symmetric key and its alias."""
    t = Template(Description="Cylink data key: customer-managed KMS key for logs, ECR, Redis and secrets")
    name_prefix_param(t)
    t.add_resource(
        tkms.Key(
            "DataKey",
            **RETAINED,
            Description=Sub("${NamePrefix} data at rest: logs, images, Redis, secrets"),
            EnableKeyRotation=True,
            KeyPolicy=key_policy(),
            Tags=Tags(**{DATA_KEY_TAG[0]: DATA_KEY_TAG[1]}),
        )
    )
    t.add_resource(
        tkms.Alias("DataKeyAlias", AliasName=Sub("alias/${NamePrefix}-data"), TargetKeyId=GetAtt("DataKey", "Arn"))
    )
    add_output(t, "DataKeyArn", GetAtt("DataKey", "Arn"), "ARN of the data key.")
    return t
