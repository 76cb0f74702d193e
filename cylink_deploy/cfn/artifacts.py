"""The artifacts bucket and content-addressed template uploads.

One bucket per account and region, created on first use: encrypted, versioned, public access
blocked, TLS-only, with old templates expiring. Objects are keyed by their content, so a template
that is already there is never uploaded again (a no-op deploy uploads nothing).

The bucket's name is predictable, so another account could create it first (with a policy letting this
account in) and receive the templates. Every request therefore names the expected owner
(``ExpectedBucketOwner``: S3 answers 403 when the bucket belongs to another account,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html), and such a bucket is
refused before anything is uploaded. CreateBucket is the one call without that parameter: it makes the bucket
this account's, or fails because the name is taken.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from cylink_deploy.errors import StackStateError

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


class BucketNotOwned(StackStateError):
    """The artifacts bucket exists but another account owns it: nothing may be uploaded there."""


def not_owned(bucket: str, account: str) -> BucketNotOwned:
    return BucketNotOwned(
        f"artifacts bucket {bucket} is not owned by account {account} (S3 refused a request naming this account as "
        "its owner): another account may have created it first; nothing was uploaded. Have an administrator check "
        "who owns it (or that you may s3:ListBucket on it)"
    )


def ensure_bucket(s3: S3Client, bucket: str, region: str, account: str) -> bool:
    """Create and harden the bucket unless this account already owns it; True when it was created now.
    A bucket of that name owned by another account is refused (exit 4) before any upload."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return False
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("403", "AccessDenied"):
            raise not_owned(bucket, account) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    create: CreateBucketRequestTypeDef = {"Bucket": bucket}
    if region != "us-east-1":  # any region name: the stubs' list is a snapshot of the regions there were
        create["CreateBucketConfiguration"] = {"LocationConstraint": cast("BucketLocationConstraintType", region)}
    try:
        s3.create_bucket(**create)
    except ClientError as exc:  # taken between the check and the create
        if exc.response.get("Error", {}).get("Code") == "BucketAlreadyExists":
            raise not_owned(bucket, account) from None
        raise
    s3.put_public_access_block(
        Bucket=bucket,
        ExpectedBucketOwner=account,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ExpectedBucketOwner=account,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, ExpectedBucketOwner=account)
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket), ExpectedBucketOwner=account)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        ExpectedBucketOwner=account,
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


def _exists(s3: S3Client, bucket: str, key: str, account: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload(s3: S3Client, bucket: str, files: dict[str, str], account: str, workers: int = 8) -> Upload:
    """Upload the files that are not in the bucket yet, concurrently, only into ``account``'s bucket."""
    keys = {name: object_key(name, text) for name, text in files.items()}

    def put_if_missing(name: str) -> str | None:
        if _exists(s3, bucket, keys[name], account):
            return None
        s3.put_object(
            Bucket=bucket,
            Key=keys[name],
            Body=files[name].encode(),
            ContentType="application/json",
            ExpectedBucketOwner=account,
        )
        return name

    with ThreadPoolExecutor(max_workers=workers) as pool:
        sent = [n for n in pool.map(put_if_missing, sorted(files)) if n]
    return Upload(keys=keys, uploaded=sent)


def s3_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted URL CloudFormation reads templates from (the same form the root builds)."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
