"""AWS sessions and clients, and the translation of access failures into one-line errors.

The same code serves AWS and the local emulator: only ``endpoint_url`` differs (``--local``, or the
standard ``AWS_ENDPOINT_URL`` variable, which botocore honours by itself).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from .errors import AwsAccessError, BadInput, DeployError

DEFAULT_REGION = "ap-northeast-1"  # the guide's region (Tokyo)
# Throttling and transient errors: botocore's adaptive retry mode (client-side rate limiting + backoff).
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="cylink-deploy")

EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
INVALID = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"}


@dataclass(frozen=True)
class Clients:
    """The clients the deploy steps use; built once, passed explicitly."""

    cloudformation: Any
    s3: Any
    sts: Any
    region: str
    iam: Any = None


def make_session(region: str | None = None, profile: str | None = None, credentials: dict[str, str] | None = None) -> boto3.Session:
    """A session honouring --region/--profile, then AWS_* variables and config, then Tokyo."""
    try:
        session = boto3.Session(profile_name=profile, **(credentials or {}))
    except bex.ProfileNotFound:
        raise BadInput(f"--profile {profile}: no such profile in ~/.aws/config or ~/.aws/credentials (list them: aws configure list-profiles)") from None
    chosen = region or session.region_name or DEFAULT_REGION
    return boto3.Session(profile_name=profile, region_name=chosen, **(credentials or {}))


def make_clients(session: boto3.Session, endpoint_url: str | None = None) -> Clients:
    """Clients for ``session`` with adaptive retries; ``endpoint_url`` only for the emulator."""
    kwargs: dict[str, Any] = {"config": CLIENT_CONFIG}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return Clients(
        cloudformation=session.client("cloudformation", **kwargs),
        s3=session.client("s3", **kwargs),
        sts=session.client("sts", **kwargs),
        region=session.region_name,
        iam=session.client("iam", **kwargs),
    )


def account_id(sts: Any) -> str:
    """Who we are: the cheapest call that proves the credentials work."""
    return sts.get_caller_identity()["Account"]


def translate(exc: Exception) -> DeployError | None:
    """A one-line, actionable error for credential/region/permission failures (None: not one of those)."""
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return AwsAccessError(
            "no AWS credentials found: run 'aws configure' or 'aws sso login --profile NAME' and pass --profile NAME "
            "(or set AWS_PROFILE / AWS_ACCESS_KEY_ID); for the emulator use --local"
        )
    if isinstance(exc, bex.NoRegionError):
        return AwsAccessError(f"no AWS region: pass --region (default {DEFAULT_REGION}) or set AWS_REGION")
    if isinstance(exc, bex.TokenRetrievalError) or isinstance(exc, bex.SSOTokenLoadError):
        return AwsAccessError("your SSO session has expired: run 'aws sso login' (with --profile NAME) and retry")
    if isinstance(exc, bex.EndpointConnectionError):
        where = os.environ.get("AWS_ENDPOINT_URL") or str(exc)
        return AwsAccessError(f"cannot reach the AWS endpoint ({where}): check the network, AWS_ENDPOINT_URL, or use --local")
    if isinstance(exc, bex.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        op = getattr(exc, "operation_name", "the call")
        if code in EXPIRED:
            return AwsAccessError(f"your AWS credentials have expired ({code} on {op}): refresh them (e.g. 'aws sso login') and retry")
        if code in INVALID:
            return AwsAccessError(f"AWS rejected the credentials ({code} on {op}): check the access key or profile in use")
        if code in DENIED:
            return AwsAccessError(f"access denied on {op}: the deployer needs the permissions listed in README 'Deployer permissions'")
    return None
