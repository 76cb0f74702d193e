"""The artifacts bucket and content-addressed template uploads.

One bucket per account and region, created on first use: encrypted, versioned, public access
blocked, TLS-only, with old templates expiring. Objects are keyed by their content, so a template
that is already there is never uploaded again (a no-op deploy uploads nothing).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from cylink_deploy.errors import AwsAccessError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import CreateBucketRequestTypeDef

KEY_PREFIX = "templates/"
EXPIRE_DAYS = 90  # a stack keeps its own copy of each template; old keys only serve re-deploys


def bucket_name(account: str, region: str) -> str:
    """Deterministic per account and region, so every engineer and CI share one bucket."""
    return f"cylink-cfn-artifacts-{account}-{region}"


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def ensure_bucket(s3: S3Client, bucket: str, region: str) -> bool:
    """Create and harden the bucket unless it exists; True when it was created now."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("403", "AccessDenied"):
            raise AwsAccessError(
                f"bucket {bucket} exists but is not accessible: it belongs to another account, or you lack "
                "s3:ListBucket"
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    create: CreateBucketRequestTypeDef = {"Bucket": bucket}
    if region != "us-east-1":  # any region name: the stubs' list is a snapshot of the regions there were
        create["CreateBucketConfiguration"] = {"LocationConstraint": cast("BucketLocationConstraintType", region)}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-templates",
                    "Status": "Enabled",
                    "Filter": {"Prefix": KEY_PREFIX},
                    "Expiration": {"Days": EXPIRE_DAYS},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    return True


def object_key(file_name: str, text: str) -> str:
    """Children already carry their hash in the name; the root gets one here."""
    if file_name == "root.json":
        return f"{KEY_PREFIX}root-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    return KEY_PREFIX + file_name


@dataclass(frozen=True)
class Upload:
    """Where each file lives in the bucket and which files actually had to be sent."""

    keys: dict[str, str]
    uploaded: list[str]

    @property
    def root_key(self) -> str:
        return self.keys["root.json"]


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload(s3: S3Client, bucket: str, files: dict[str, str], workers: int = 8) -> Upload:
    """Upload the files that are not in the bucket yet, concurrently."""
    keys = {name: object_key(name, text) for name, text in files.items()}

    def put_if_missing(name: str) -> str | None:
        if _exists(s3, bucket, keys[name]):
            return None
        s3.put_object(Bucket=bucket, Key=keys[name], Body=files[name].encode(), ContentType="application/json")
        return name

    with ThreadPoolExecutor(max_workers=workers) as pool:
        sent = [n for n in pool.map(put_if_missing, sorted(files)) if n]
    return Upload(keys=keys, uploaded=sent)


def s3_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted URL CloudFormation reads templates from (the same form the root builds)."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
