"""For tests that answer AWS with botocore's Stubber: ``aws.Clients`` with the clients a test gives (every other
service gets an offline client whose empty Stubber fails the test on any call: nothing reaches a network), and
partial responses for the pure views."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, cast

import boto3
from botocore.client import BaseClient
from botocore.stub import Stubber

from cylink_deploy import aws

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import DescribeChangeSetOutputTypeDef
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elasticache import ElastiCacheClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

REGION = "ap-northeast-1"
# one session: botocore loads each service's model once per session, not once per test
SESSION = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
C = TypeVar("C", bound=BaseClient)


def unused(client: C) -> C:
    """``client`` with an active Stubber and no responses: any call raises (UnStubbedResponseError)."""
    Stubber(client).activate()
    return client


def clients(
    cloudformation: CloudFormationClient | None = None,
    s3: S3Client | None = None,
    sts: STSClient | None = None,
    region: str = REGION,
    *,
    iam: IAMClient | None = None,
    ecr: ECRClient | None = None,
    ecs: ECSClient | None = None,
    logs: CloudWatchLogsClient | None = None,
    elbv2: ElasticLoadBalancingv2Client | None = None,
    elasticache: ElastiCacheClient | None = None,
    cloudwatch: CloudWatchClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
    route53: Route53Client | None = None,
) -> aws.Clients:
    """The given clients; every service not given gets an ``unused`` one (in ``region``)."""
    return aws.Clients(
        cloudformation or unused(SESSION.client("cloudformation", region_name=region)),
        s3 or unused(SESSION.client("s3", region_name=region)),
        sts or unused(SESSION.client("sts", region_name=region)),
        region,
        iam or unused(SESSION.client("iam", region_name=region)),
        ecr or unused(SESSION.client("ecr", region_name=region)),
        ecs or unused(SESSION.client("ecs", region_name=region)),
        logs or unused(SESSION.client("logs", region_name=region)),
        elbv2 or unused(SESSION.client("elbv2", region_name=region)),
        elasticache or unused(SESSION.client("elasticache", region_name=region)),
        cloudwatch or unused(SESSION.client("cloudwatch", region_name=region)),
        secretsmanager or unused(SESSION.client("secretsmanager", region_name=region)),
        route53=route53 or unused(SESSION.client("route53", region_name=region)),
    )


def described(**fields: object) -> DescribeChangeSetOutputTypeDef:
    """A DescribeChangeSet answer with only ``fields``: the views read a few of its keys (and AWS leaves out
    many that the stubs' output type lists as always there)."""
    return cast("DescribeChangeSetOutputTypeDef", fields)
