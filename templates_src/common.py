"""Shared vocabulary of the templates: the services Cylink runs, and small helpers that keep
parameters and outputs uniformly documented and constrained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awacs import sts
from awacs.aws import Allow, Condition, ConditionElement, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Output, Parameter, Ref, Sub, Tags, Template

# Logical IDs and output names derived from these titles are a public API: never rename them.


@dataclass(frozen=True)
class AppService:
    """One container service of Cylink (guide §7)."""

    name: str  # lower-case: used in resource names (cylink/backend, /ecs/cylink-backend)
    port: int
    cpu: int
    memory: int
    health_path: str
    writable_paths: tuple[str, ...]  # the root filesystem is read-only; these get scratch volumes
    # Secrets the container receives: (environment variable, stack parameter holding the secret's ARN).
    # The service's own execution role may read exactly these and no other.
    secrets: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        """CamelCase prefix for logical IDs, parameters and outputs."""
        return self.name.capitalize()


BACKEND = AppService(
    "backend", 3001, 512, 1024, "/health", ("/tmp",), secrets=(("REDIS_AUTH_TOKEN", "RedisAuthSecretArn"),)
)
# Next.js writes its image/fetch cache under .next/cache (the standalone image's WORKDIR is /app).
FRONTEND = AppService("frontend", 3000, 256, 512, "/", ("/tmp", "/app/.next/cache"))
# Containers run as this uid:gid (the "node" user of the official Node.js images), never as root.
APP_USER = "1000:1000"
SERVICES: tuple[AppService, ...] = (BACKEND, FRONTEND)

# Guide §7: FARGATE base 1 weight 1, FARGATE_SPOT weight 4 (the Spot weight is a parameter).
FARGATE_BASE = 1
FARGATE_WEIGHT = 1

# A letter, then letters and digits where single hyphens may join them: never a trailing hyphen and never two in a
# row, because the prefix starts ECR repository names, whose schema pattern (AWS::ECR::Repository RepositoryName,
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html) refuses "cy-/backend" and
# "cy--x/backend" (issue 21 finding 6). 2-20 characters (MinLength/MaxLength): tests/test_names.py proves every
# name built from a prefix this admits fits its resource's schema pattern and length.
NAME_PREFIX_PATTERN = r"^[a-z](-?[a-z0-9])+$"
NAME_PREFIX_LENGTH = (2, 20)
CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-8])$"
APEX_DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
DOMAIN_PATTERN = r"^$|" + APEX_DOMAIN_PATTERN  # empty: no domain yet
# The certificate names www.<domain> and api.<domain> too, and ACM takes names of at most 253 characters
# (https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html): the apex gets 253 - 4.
DOMAIN_MAX_LENGTH = 249
# The alarm topic's e-mail endpoint: a path is at most 256 octets with its angle brackets, so an address is at most
# 254 (https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.3, https://www.rfc-editor.org/errata/eid1690).
EMAIL_MAX_LENGTH = 254
# Values that flow between nested stacks: constrained too, so a wiring mistake fails at the boundary.
SUBNET_LIST_PATTERN = r"^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$"
HOSTNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]*$"
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+$"
ORIGINS_PATTERN = r"^https?://[A-Za-z0-9.-]+(,https?://[A-Za-z0-9.-]+)*$"
PORT_PATTERN = r"^[0-9]{1,5}$"
HOSTED_ZONE_PATTERN = r"^Z[A-Z0-9]{1,32}$"


def arn_pattern(service: str) -> str:
    """An ARN of ``service`` in any partition."""
    return rf"^arn:aws[a-z-]*:{service}:.+$"


# Stateful resources survive both stack deletion and replacement (a test enforces it for every one).
RETAINED: dict[str, str] = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# Resources with a fixed name (log groups, ECR repositories): kept like RETAINED, except when the create
# that made them fails -- then CloudFormation deletes them, so the retry is not blocked by "already exists".
RETAINED_NAMED: dict[str, str] = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}

EGRESS_MODES = ("nat-per-az", "single-nat", "none")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


def add_param(t: Template, name: str, description: str, type_: str = "String", **kw: Any) -> Parameter:
    """Add a parameter; every parameter carries a description (and constraints through kw)."""
    return t.add_parameter(Parameter(name, Type=type_, Description=description, **kw))


def add_output(t: Template, name: str, value: Any, description: str) -> Output:
    """Add an output; the root reads children's outputs only by these names."""
    return t.add_output(Output(name, Value=value, Description=description))


def name_prefix_param(t: Template) -> Parameter:
    """The prefix of every physical name; 'cylink' reproduces the guide's names."""
    return add_param(
        t,
        "NamePrefix",
        "Prefix of physical resource names (cylink gives the guide's names).",
        AllowedPattern=NAME_PREFIX_PATTERN,
        MinLength=NAME_PREFIX_LENGTH[0],
        MaxLength=NAME_PREFIX_LENGTH[1],
        ConstraintDescription="2-20 characters: lower-case letters and digits, starting with a letter; single "
        "hyphens only between them (none at the end).",
    )


def log_retention_param(t: Template) -> Parameter:
    """Retention of every log group (container, flow and WAF logs)."""
    return add_param(
        t, "LogRetentionDays", "Days the logs are kept.", "Number", AllowedValues=[str(d) for d in LOG_RETENTION_DAYS]
    )


def data_key_param(t: Template) -> Parameter:
    """The customer-managed KMS key (keys stack) that encrypts data at rest."""
    return add_param(t, "DataKeyArn", "KMS key encrypting data at rest.", AllowedPattern=arn_pattern("kms"))


def checkov_skips(**reasons: str) -> dict[str, Any]:
    """Resource Metadata skipping checkov checks, each with its reason (docs/security.md lists every skip)."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in sorted(reasons.items())]}}


# Every role a stack creates carries this permissions boundary: a managed policy deploy.py's bootstrap creates
# (bootstrap.boundary_policy), the most any stack role may do. The CloudFormation service role may create and
# change roles only under it (issue 24): a template cannot make a role more powerful than the boundary.
PERMISSIONS_BOUNDARY = "cylink-permissions-boundary"
# The data key's tag: the service role may administer and use only keys that carry it (or the stack's alias),
# since CloudFormation does not put its aws:cloudformation:* tags on KMS keys.
DATA_KEY_TAG = ("cylink:data-key", "true")


def permissions_boundary() -> Sub:
    """The boundary's ARN in the stack's own account (PermissionsBoundary of every AWS::IAM::Role)."""
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/" + PERMISSIONS_BOUNDARY)


def service_trust(service: str, account: Any = None, *extra: ConditionElement) -> PolicyDocument:
    """A role only ``service`` acting for this account may assume (the confused-deputy guard);
    ``account`` defaults to the stack's own, ``extra`` narrows further (e.g. aws:SourceArn)."""
    conditions = [StringEquals("aws:SourceAccount", Ref("AWS::AccountId") if account is None else account), *extra]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", service),
                Action=[sts.AssumeRole],
                Condition=Condition(conditions if extra else conditions[0]),
            )
        ],
    )


def service_name(svc: AppService) -> Sub:
    """Physical name of a service's ECS service: deterministic, so the monitoring stack can alarm on it
    before the services stack exists (the services stack reads the alarms it rolls back on)."""
    return Sub("${NamePrefix}-" + svc.name + "-service")


# The WebACL's CloudWatch metric name, and so the value of its metrics' WebACL dimension
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-wafv2-webacl-visibilityconfig.html:
# "MetricName: A name of the Amazon CloudWatch metric dimension"). One expression for both the WebACL and its alarm,
# per NamePrefix, so two environments in one account never share a metric (issue 21 finding 3).
WEB_ACL_METRIC = "${NamePrefix}-alb"


def name_tags(suffix: str) -> Tags:
    """A Name tag '<NamePrefix>-<suffix>' (stack tags from the deploy tool propagate on top)."""
    return Tags(Name=Sub("${NamePrefix}-" + suffix))


def ids(*titles: str) -> list[Ref]:
    """Refs to several resources, for list-valued properties."""
    return [Ref(x) for x in titles]
