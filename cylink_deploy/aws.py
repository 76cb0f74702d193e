"""AWS sessions and clients, and the translation of access failures into one-line errors.

The same code serves AWS and the local emulator: only ``endpoint_url`` differs (``--local``, or the
standard ``AWS_ENDPOINT_URL`` variable, which botocore honours by itself).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import botocore.exceptions as bex

if TYPE_CHECKING:
    from botocore.client import (
        BaseClient,
    )  # boto3 itself is imported when a session is made: `build` and `cost` never pay for it
    import boto3
    from botocore.config import Config
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elasticache import ElastiCacheClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_sts import STSClient

from cylink_deploy.errors import AwsAccessError, BadInput, DeployError

DEFAULT_REGION = "ap-northeast-1"  # the guide's region (Tokyo)

EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
INVALID = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "AuthFailure",
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"}


@dataclass(frozen=True)
class Clients:
    """The clients the deploy steps use; built once, passed explicitly."""

    cloudformation: CloudFormationClient
    s3: S3Client
    sts: STSClient
    region: str
    iam: IAMClient
    # day-2 operations (release, status, logs, drift; ECS also explains a rolled-back release)
    ecr: ECRClient
    ecs: ECSClient
    logs: CloudWatchLogsClient
    elbv2: ElasticLoadBalancingv2Client
    elasticache: ElastiCacheClient
    cloudwatch: CloudWatchClient
    secretsmanager: SecretsManagerClient  # rotate-redis-auth
    profile: str | None = None  # named profile in use (None: the default chain)
    route53: Route53Client | None = None  # a new hosted zone's name servers while the certificate waits


@dataclass(frozen=True)
class AccountClients:
    """The extra clients of ``doctor``'s account checks (made only by it: EC2's model is large to load)."""

    ec2: EC2Client
    route53: Route53Client
    servicequotas: ServiceQuotasClient


# Nothing answered: refused, no such host (EndpointConnectionError), or no answer to the connect within
# CONNECT_TIMEOUT (ConnectTimeoutError: an endpoint that drops packets, e.g. a firewall or a wrong VPN route).
UNREACHABLE = (bex.EndpointConnectionError, bex.ConnectTimeoutError)
# botocore's default is 60 s per attempt (https://docs.aws.amazon.com/botocore/latest/reference/config.html):
# a TCP connect to an AWS endpoint takes milliseconds, so 5 s is generous and an unreachable one is said soon.
CONNECT_TIMEOUT = 5


C = TypeVar("C", bound="BaseClient")


class FailFast:
    """Ends a call at once when its connection is refused or its host name does not resolve, while nothing has
    answered in this run: retrying a connection that was never made only delays the error line by 10-30 s.

    botocore's standard and adaptive modes retry ``ConnectionError`` (EndpointConnectionError's base) as they
    retry throttling and HTTP 500/502/503/504 (https://docs.aws.amazon.com/boto3/latest/guide/retries.html,
    botocore/retries/standard.py TransientRetryableChecker). After every attempt the endpoint emits
    ``needs-retry.<service>.<operation>`` (botocore/endpoint.py ``_needs_retry``); botocore's retry handler is
    registered on ``needs-retry.<service>`` and this check first on that same event (``register_first``), so it
    decides before the retry handler, and what it raises reaches the caller unretried. Whatever answers goes
    on to botocore's retries; once something has answered, a failed connection (a Wi-Fi or VPN blip mid-deploy)
    is retried as before. The same on AWS and the emulator: only the endpoint differs."""

    def __init__(self) -> None:
        self.answered = False

    def attach(self, client: C) -> C:
        """``client``, with the check ahead of its retry handler (its type kept: typed clients stay typed)."""
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"needs-retry.{service}", self.check)
        return client

    def check(self, response: Any = None, caught_exception: Exception | None = None, **_: Any) -> None:
        """A ``needs-retry`` handler: None lets botocore's retry handler decide."""
        if response is not None:
            self.answered = True
        elif isinstance(caught_exception, UNREACHABLE) and not self.answered:
            raise caught_exception


@functools.cache
def client_config() -> Config:
    """Throttling and transient errors: botocore's adaptive retry mode (client-side rate limiting + backoff)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        connect_timeout=CONNECT_TIMEOUT,
        user_agent_extra="cylink-deploy",
    )


REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def on_loopback(url: str | None) -> bool:
    """``url`` names this machine (127.0.0.0/8, ::1, localhost or a name under it): the local emulator, which
    ``serve-local`` and ``--local`` run on 127.0.0.1, never an AWS endpoint."""
    host = urlsplit(url or "").hostname or ""
    try:
        return host == "localhost" or host.endswith(".localhost") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose_region(flag: str | None, env: Mapping[str, str], profile_region: str | None) -> str:
    """--region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's, then Tokyo. A region that
    is given but empty or malformed is an error, never a silent fall-back to another region."""
    for source, value in (
        ("--region", flag),
        ("AWS_REGION", env.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", env.get("AWS_DEFAULT_REGION")),
    ):
        if value is None:
            continue
        if not REGION.match(value):
            raise BadInput(
                f"{source} {value!r} is not an AWS region: use a name such as {DEFAULT_REGION} (or unset it)"
            )
        return value
    return profile_region or DEFAULT_REGION


def make_session(
    region: str | None = None,
    profile: str | None = None,
    credentials: dict[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> boto3.Session:
    """A session honouring --profile (or AWS_PROFILE) and the region order of ``choose_region``.
    With explicit ``credentials`` (the emulator) no profile is read at all: local needs no AWS setup."""
    import boto3
    import botocore.session

    env = os.environ if env is None else env
    if credentials is not None:
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        return boto3.Session(botocore_session=core, region_name=choose_region(region, env, None), **credentials)
    try:
        session = boto3.Session(profile_name=profile)
        profile_region = session.region_name
    except bex.ProfileNotFound:
        shown = f"--profile {profile}" if profile else f"AWS_PROFILE {env.get('AWS_PROFILE')}"
        raise BadInput(
            f"{shown}: no such profile in ~/.aws/config or ~/.aws/credentials (list them: aws configure list-profiles)"
        ) from None
    return boto3.Session(profile_name=profile, region_name=choose_region(region, env, profile_region))


def make_clients(session: boto3.Session, endpoint_url: str | None = None) -> Clients:
    """Clients for ``session`` with adaptive retries, failing fast while nothing answers (one ``FailFast``
    for the set); ``endpoint_url`` only for the emulator."""
    config, url = client_config(), endpoint_url or None  # None: botocore's own endpoint (or AWS_ENDPOINT_URL)
    ff = FailFast()
    return Clients(
        cloudformation=ff.attach(session.client("cloudformation", config=config, endpoint_url=url)),
        s3=ff.attach(session.client("s3", config=config, endpoint_url=url)),
        sts=ff.attach(session.client("sts", config=config, endpoint_url=url)),
        region=session.region_name,
        iam=ff.attach(session.client("iam", config=config, endpoint_url=url)),
        ecr=ff.attach(session.client("ecr", config=config, endpoint_url=url)),
        ecs=ff.attach(session.client("ecs", config=config, endpoint_url=url)),
        logs=ff.attach(session.client("logs", config=config, endpoint_url=url)),
        elbv2=ff.attach(session.client("elbv2", config=config, endpoint_url=url)),
        elasticache=ff.attach(session.client("elasticache", config=config, endpoint_url=url)),
        cloudwatch=ff.attach(session.client("cloudwatch", config=config, endpoint_url=url)),
        secretsmanager=ff.attach(session.client("secretsmanager", config=config, endpoint_url=url)),
        profile=session.profile_name if session.profile_name != "default" else None,
        route53=ff.attach(session.client("route53", config=config, endpoint_url=url)),
    )


ACCOUNT_ATTEMPTS = 2


def make_account_clients(session: boto3.Session, endpoint_url: str | None = None) -> AccountClients:
    """``doctor``'s extra clients, configured as ``make_clients`` configures the others but with fewer attempts:
    a read that fails is reported "not checked", and an endpoint without the API (the emulator answers an
    operation it lacks with HTTP 500, which botocore retries) should say so in seconds, not minutes."""
    from botocore.config import Config

    config = client_config().merge(Config(retries={"mode": "adaptive", "max_attempts": ACCOUNT_ATTEMPTS}))
    url, ff = endpoint_url or None, FailFast()
    return AccountClients(
        ec2=ff.attach(session.client("ec2", config=config, endpoint_url=url)),
        route53=ff.attach(session.client("route53", config=config, endpoint_url=url)),
        servicequotas=ff.attach(session.client("service-quotas", config=config, endpoint_url=url)),
    )


@functools.cache
def regions_of(service: str) -> tuple[str, ...]:
    """The regions botocore's endpoint data lists for ``service`` (offline: no call; empty for a global one)."""
    return tuple(_endpoint_data().get_available_regions(service))


@functools.cache
def _endpoint_data() -> Any:
    """One botocore session for the endpoint data (making one per look-up costs a fifth of a second)."""
    import botocore.session

    return botocore.session.get_session()


def error_code(exc: Exception) -> str:
    """The AWS error code of a ``ClientError`` ("" for anything else): the one place that reads it."""
    if isinstance(exc, bex.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_missing_stack(exc: Exception) -> bool:
    """CloudFormation reports a missing stack only as ValidationError "... does not exist": the code alone
    cannot tell it from other validation errors, so this is the one place that reads the message."""
    return error_code(exc) == "ValidationError" and "does not exist" in str(exc)


def account_id(sts: STSClient) -> str:
    """Who we are: the cheapest call that proves the credentials work."""
    return sts.get_caller_identity()["Account"]


def one_line(text: str, limit: int = 300) -> str:
    """A message of several lines (botocore's validation lists, an endpoint's HTML page) as one line."""
    joined = "; ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


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
    if isinstance(exc, UNREACHABLE):
        where = os.environ.get("AWS_ENDPOINT_URL") or str(exc)
        return AwsAccessError(
            f"cannot reach the AWS endpoint ({where}): check the network, AWS_ENDPOINT_URL, or use --local"
        )
    if isinstance(exc, bex.ParamValidationError):  # botocore refused a value before sending it
        return BadInput(
            f"a value is not valid for AWS: {one_line(str(exc).removeprefix('Parameter validation failed:'))}"
        )
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        op = getattr(exc, "operation_name", "the call")
        if code in EXPIRED:
            return AwsAccessError(
                f"your AWS credentials have expired ({code} on {op}): refresh them (e.g. 'aws sso login') and retry"
            )
        if code in INVALID:
            return AwsAccessError(
                f"AWS rejected the credentials ({code} on {op}): check the access key or profile in use"
            )
        if code in DENIED:
            return AwsAccessError(
                f"access denied on {op}: the deployer needs the permissions listed in docs/security.md, "
                "'Deployer permissions'"
            )
    return None
