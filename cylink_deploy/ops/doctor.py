"""``deploy.py doctor``: read-only checks of the account and region before a first deploy or an event.

What AWS refuses only half-way through a stack is asked first, each as a small step over its client that
returns ``Check`` rows: the service-linked roles the stack needs, Service Quotas against what this environment
needs at its maximum scale, the hosted zone (``zone.py``), the images of the tag in both repositories, the
region's support, the deploy role's session length, and fixed names another stack (or an earlier one) holds.
The needs come from the templates resolved with the environment's parameters, never from numbers written here.
Nothing is created or changed. A check that cannot be made (an API the endpoint lacks, a permission the caller
lacks) is "not checked", never a pass; ``problems`` are why the command exits 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dns.resolver
from botocore.exceptions import ClientError

from cylink_deploy import aws, documents
from cylink_deploy.cfn import identity, leftovers
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cost.model import PLACEHOLDER_IMAGE_TAG, split_tasks
from cylink_deploy.errors import DeployError
from cylink_deploy.jobs.model import stack_name
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.ops import status, zone
from cylink_deploy.ops.checks import NOT_CHECKED, OK, PROBLEM, Check
from cylink_deploy.preflight import params
from cylink_deploy.preflight.resolve import ResolvedStack, ResolveError, resolve
from cylink_deploy.project import Project
from templates_src import render
from templates_src.network import AZ_COUNT

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_service_quotas import ServiceQuotasClient

# Service-linked roles the stack's services assume. Each is created on first use, but ECS assumes its role at
# once and a fresh account's first cluster can fail "Unable to assume the service linked role"
# (github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/818). Names and service principals:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html,
# https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/using-service-linked-roles.html,
# https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
SERVICE_LINKED_ROLES = (
    ("AWSServiceRoleForECS", "ecs.amazonaws.com"),
    ("AWSServiceRoleForElasticLoadBalancing", "elasticloadbalancing.amazonaws.com"),
    ("AWSServiceRoleForElastiCache", "elasticache.amazonaws.com"),
    ("AWSServiceRoleForApplicationAutoScaling_ECSService", "ecs.application-autoscaling.amazonaws.com"),
)
# Services the stacks use, looked up in botocore's endpoint data for the region (offline).
REGIONAL_SERVICES = (
    "cloudformation",
    "ec2",
    "ecs",
    "ecr",
    "elasticache",
    "elbv2",
    "wafv2",
    "acm",
    "logs",
    "secretsmanager",
    "kms",
    "application-autoscaling",
    "cloudwatch",
    "sns",
)
# A first deploy's length, roughly (docs/releasing.md, "First deploy in a new account"): an hour for the network, Redis,
# the load balancer and the services; half an hour more for Multi-AZ Redis (a second node to create and sync)
# and for a DNS-validated certificate (Route 53 propagates in about 60 s, ACM then validates; a registrar
# change takes longer). The deploy role's session must outlast it (a role's MaxSessionDuration defaults to
# 3600 s: https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
FIRST_DEPLOY_BASE_SECONDS = 3600
FIRST_DEPLOY_EXTRA_SECONDS = 1800
GITHUB_DEPLOYER_ROLE = "github-actions-cylink-deployer-{env}"  # bootstrap --github-environment ENV makes it
STACK_TYPES = {  # the stack's own resources, so the account's usage and names are counted without them
    "AWS::EC2::VPC",
    "AWS::EC2::EIP",
    "AWS::EC2::NatGateway",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::Route53::HostedZone",
    "AWS::Route53::RecordSet",
    "AWS::Logs::LogGroup",
    "AWS::ECR::Repository",
}


class NotReady(DeployError):
    """``doctor`` found problems (exit 1): the one line counts them; the table above says what to do."""


@dataclass(frozen=True)
class DoctorRequest:
    env: str
    stack_name: str | None = None
    image_tag: str | None = None  # the tag to look for (default: the parameter file's ImageTag)
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.stack_name)


@dataclass
class DoctorView:
    """What ``doctor`` shows; ``problems`` are why it exits 1."""

    env: str
    stack: str
    region: str
    account: str
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.result == PROBLEM]

    def document(self) -> dict[str, Any]:
        doc = documents.fields(self)
        doc["environment"], doc["stackName"] = doc.pop("env"), doc.pop("stack")
        doc["ready"] = not self.problems
        doc["notChecked"] = sum(c.result == NOT_CHECKED for c in self.checks)
        return doc


# --- what the environment needs (pure, from the resolved templates) ----------------------------------


@dataclass(frozen=True)
class Plan:
    """The environment as it would be deployed, with the services running (for their maximum)."""

    parameters: dict[str, str]  # the root's effective values
    stacks: dict[str, ResolvedStack]
    files: dict[str, str]

    def count(self, resource_type: str, where: Callable[[dict[str, Any]], bool] = lambda p: True) -> int:
        return sum(
            where(body.get("Properties", {}))
            for s in self.stacks.values()
            for body in s.resources(resource_type).values()
        )

    def fargate_vcpu(self) -> tuple[float, float]:
        """(on-demand, Spot) vCPU with every service at its MaxCapacity while a deployment runs: ECS starts the
        new tasks before it stops the old (MaximumPercent, default 200:
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service_definition_parameters.html), so a
        release at full scale runs up to twice the tasks."""
        on_demand = spot = 0.0
        for s in self.stacks.values():
            for rid, body in s.resources("AWS::ECS::Service").items():
                props = body["Properties"]
                task = s.template["Resources"][props["TaskDefinition"]["Ref"]]["Properties"]
                percent = int(props.get("DeploymentConfiguration", {}).get("MaximumPercent", 200))
                tasks = math.ceil(max_capacity(s, rid) * percent / 100)
                od, sp = split_tasks(tasks, props.get("CapacityProviderStrategy") or [{"CapacityProvider": "FARGATE"}])
                vcpu = int(task["Cpu"]) / 1024
                on_demand, spot = on_demand + od * vcpu, spot + sp * vcpu
        return on_demand, spot

    def repositories(self) -> list[str]:
        return sorted(
            str(body["Properties"]["RepositoryName"])
            for s in self.stacks.values()
            for body in s.resources("AWS::ECR::Repository").values()
        )


def max_capacity(stack: ResolvedStack, service_id: str) -> int:
    """The service's MaxCapacity (its scalable target's), else its DesiredCount."""
    for body in stack.resources("AWS::ApplicationAutoScaling::ScalableTarget").values():
        if "${" + service_id + ".Name}" in json.dumps(body["Properties"].get("ResourceId")):
            return int(body["Properties"]["MaxCapacity"])
    return int(stack.resources()[service_id]["Properties"].get("DesiredCount", 1))


def plan(project: Project, request: DoctorRequest, region: str, account: str) -> Plan:
    """Resolve the built templates with the environment's parameters (bad input: one line, exit 2).
    A region the templates cannot be resolved for raises ResolveError (the region check reports it)."""
    files = render.render()
    root = json.loads(files[render.ROOT_FILE])["Parameters"]
    deployment = params.resolve(
        request.env, params.env_file(project.params_dir, request.env), root, dict(request.overrides), deploying=False
    )
    effective = {k: str(v.get("Default", "")) for k, v in root.items()} | dict(deployment.parameters)
    values = dict(deployment.parameters) | {"ImageTag": effective["ImageTag"] or PLACEHOLDER_IMAGE_TAG}
    return Plan(effective, resolve(files, values, region=region, account_id=account), files)


# --- the checks ---------------------------------------------------------------------------------------


def service_linked_roles(iam: IAMClient) -> list[Check]:
    """Each role the stack's services need exists (bootstrap creates them)."""
    checks = []
    for role, service in SERVICE_LINKED_ROLES:
        try:
            iam.get_role(RoleName=role)
        except ClientError as exc:
            if error := _unchecked(exc, "NoSuchEntity"):
                checks.append(Check("service-linked role", role, NOT_CHECKED, error))
                continue
            todo = (
                "python deploy.py bootstrap (creates it), or aws iam create-service-linked-role "
                f"--aws-service-name {service}"
            )
            checks.append(Check("service-linked role", role, PROBLEM, "missing: created on first use, too late", todo))
            continue
        checks.append(Check("service-linked role", role, OK, "exists"))
    return checks


def _unchecked(exc: ClientError, expected: str) -> str:
    """ "" for the ``expected`` error code; else why the check could not be made (denied, not implemented...)."""
    code = aws.error_code(exc)
    if code == expected:
        return ""
    message = str(exc.response.get("Error", {}).get("Message", ""))
    said = "" if message.lstrip().startswith("<") else f": {aws.one_line(message, 120)}"  # an HTML error page
    http = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return f"{code or 'error'} on {exc.operation_name}{said}" + (f" (HTTP {http})" if http and http >= 500 else "")


def quota_value(sq: ServiceQuotasClient, service: str, code: str) -> float | str:
    """The applied quota, else AWS's default (for some quotas only the default is available, and GetServiceQuota
    then answers NoSuchResourceException:
    https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html); a string says
    why neither could be read."""
    try:
        return float(sq.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as exc:
        if error := _unchecked(exc, "NoSuchResourceException"):
            return error
    try:
        return float(sq.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as exc:
        return _unchecked(exc, "")


@dataclass(frozen=True)
class Quota:
    """One Service Quota: its codes (``aws service-quotas list-service-quotas --service-code S`` lists them;
    the defaults are in the General Reference pages cited by QUOTAS), what the environment needs, and how
    much of it the account's other resources use (None: not counted)."""

    name: str
    service: str
    code: str
    need: float
    in_use: int | None = None
    note: str = ""
    usage_unread: str = ""  # why the account's usage of a counted quota could not be read


def quota_check(sq: ServiceQuotasClient, q: Quota) -> Check:
    subject = f"{q.name} ({q.service}/{q.code})"
    value = quota_value(sq, q.service, q.code)
    if isinstance(value, str):
        return Check("quota", subject, NOT_CHECKED, value, "check it in the Service Quotas console")
    used = q.in_use or 0
    found = f"needs {q.need:g}" + (f" + {used} in use" if q.in_use is not None else "") + f", quota {value:g}"
    if q.usage_unread and q.need <= value:  # enough for this stack alone; what others use is unknown
        return Check("quota", subject, NOT_CHECKED, f"{found}; usage not read: {q.usage_unread}")
    if q.need + used > value:
        todo = (
            f"request an increase: aws service-quotas request-service-quota-increase --service-code {q.service} "
            f"--quota-code {q.code} --desired-value {math.ceil(q.need + used)}"
        )
        return Check("quota", subject, PROBLEM, f"{found}{q.note}", todo)
    return Check("quota", subject, OK, f"{found}{q.note}")


def _not_own(ids: Iterable[str], own: set[str]) -> int:
    return sum(i not in own for i in ids)


def usage(ec2: EC2Client, elbv2: ElasticLoadBalancingv2Client, own: set[str]) -> dict[str, int]:
    """What the account's other resources in the region use of each counted quota (the stack's own excluded)."""
    vpcs = [v["VpcId"] for p in ec2.get_paginator("describe_vpcs").paginate() for v in p["Vpcs"]]
    addresses = ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"]
    eips = sum(a.get("AllocationId") not in own and a.get("PublicIp") not in own for a in addresses)
    nats = [
        n
        for p in ec2.get_paginator("describe_nat_gateways").paginate(
            Filters=[{"Name": "state", "Values": ["pending", "available"]}]
        )
        for n in p["NatGateways"]
        if n["NatGatewayId"] not in own
    ]
    subnets = {n["SubnetId"] for n in nats}
    zones = (
        {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=sorted(subnets))["Subnets"]}
        if subnets
        else {}
    )
    per_zone = [sum(zones.get(n["SubnetId"]) == z for n in nats) for z in set(zones.values())]
    albs = [
        lb["LoadBalancerArn"]
        for p in elbv2.get_paginator("describe_load_balancers").paginate()
        for lb in p["LoadBalancers"]
        if lb.get("Type", "application") == "application"
    ]
    return {"vpc": _not_own(vpcs, own), "eip": eips, "nat": max(per_zone, default=0), "alb": _not_own(albs, own)}


def quotas(p: Plan, used: Mapping[str, int] | str) -> list[Quota]:
    """The quotas this environment meets at its maximum scale. Codes and defaults: VPC
    https://docs.aws.amazon.com/general/latest/gr/vpc-service.html, Elastic IPs
    https://docs.aws.amazon.com/general/latest/gr/ec2-service.html, ALBs
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html, Fargate
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html (vCPU-based)."""
    u, unread = (used, "") if not isinstance(used, str) else ({}, used)
    on_demand, spot = p.fargate_vcpu()
    nat_per_zone = 1 if p.count("AWS::EC2::NatGateway") else 0  # nat-per-az or single-nat: one in a zone
    fargate_note = " (at MaxCapacity during a release; other Fargate tasks in the region share it)"
    return [
        Quota("VPCs per Region", "vpc", "L-F678F1CE", p.count("AWS::EC2::VPC"), u.get("vpc"), usage_unread=unread),
        Quota("EC2-VPC Elastic IPs", "ec2", "L-0263D0A3", p.count("AWS::EC2::EIP"), u.get("eip"), usage_unread=unread),
        Quota(
            "NAT gateways per Availability Zone", "vpc", "L-FE5A380F", nat_per_zone, u.get("nat"), usage_unread=unread
        ),
        Quota(
            "Application Load Balancers per Region",
            "elasticloadbalancing",
            "L-53DA6B97",
            p.count(
                "AWS::ElasticLoadBalancingV2::LoadBalancer", lambda q: q.get("Type", "application") == "application"
            ),
            u.get("alb"),
            usage_unread=unread,
        ),
        Quota("Fargate On-Demand vCPU resource count", "fargate", "L-3032A538", on_demand, None, fargate_note),
        Quota("Fargate Spot vCPU resource count", "fargate", "L-36FBB829", spot, None, fargate_note),
    ]


def region_support(region: str, ec2: EC2Client, resolve_error: str) -> list[Check]:
    """The region has every service the stacks use, two Availability Zones, and a row in every mapping."""
    missing = [s for s in REGIONAL_SERVICES if region not in aws.regions_of(s)]
    checks = [
        Check(
            "region",
            f"{region} services",
            PROBLEM,
            f"not offered in {region}: {', '.join(missing)}",
            "use another region",
        )
        if missing
        else Check("region", f"{region} services", OK, f"{len(REGIONAL_SERVICES)} services offered")
    ]
    if resolve_error:
        checks.append(Check("region", f"{region} mappings", PROBLEM, resolve_error, "use a region the templates map"))
    else:
        checks.append(Check("region", f"{region} mappings", OK, "every Fn::FindInMap resolves"))
    zones = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
    enough = len(zones) >= AZ_COUNT
    checks.append(
        Check("region", f"{region} zones", OK if enough else PROBLEM, f"{len(zones)} available (needs {AZ_COUNT})")
    )
    return checks


def images(ecr: ECRClient, repositories: list[str], tag: str, env: str) -> list[Check]:
    """The tag in both repositories (a deploy with services pulls it at once)."""
    if not tag:
        return [Check("images", "-", OK, "no ImageTag: a deploy without services (push, then release)")]
    checks = []
    for repo in repositories:
        try:
            found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]
        except ClientError as exc:
            code = aws.error_code(exc)
            if code == "ImageNotFoundException":
                found = []
            elif code == "RepositoryNotFoundException":
                todo = (
                    f"first deploy without services (ImageTag empty: python deploy.py --env {env}), push, then release"
                )
                checks.append(Check("images", f"{repo}:{tag}", PROBLEM, "the repository does not exist yet", todo))
                continue
            else:
                checks.append(Check("images", f"{repo}:{tag}", NOT_CHECKED, _unchecked(exc, "")))
                continue
        if found:
            checks.append(Check("images", f"{repo}:{tag}", OK, str(found[0]["imageDigest"])))
        else:
            todo = f"push it (docker push <registry>/{repo}:{tag}) or release --build"
            checks.append(Check("images", f"{repo}:{tag}", PROBLEM, "tag not in the repository", todo))
    return checks


def first_deploy_seconds(parameters: Mapping[str, str]) -> int:
    """Pure: the session a first deploy of these parameters needs (see FIRST_DEPLOY_BASE_SECONDS)."""
    extra = (parameters.get("RedisNodeCount", "1") != "1") + bool(parameters.get("DomainName"))
    return FIRST_DEPLOY_BASE_SECONDS + FIRST_DEPLOY_EXTRA_SECONDS * extra


def session_length(iam: IAMClient, caller_arn: str, env: str, needed: int) -> list[Check]:
    """The caller's role (when it is one) and the environment's GitHub deployer role must allow sessions as
    long as a first deploy, or the tool's polling fails with an expired token while the stack goes on."""
    is_role = ":assumed-role/" in caller_arn
    roles = [caller_arn.split(":assumed-role/", 1)[1].split("/", 1)[0]] if is_role else []
    roles.append(GITHUB_DEPLOYER_ROLE.format(env=env))
    checks = []
    for role in roles:
        try:
            max_seconds = int(iam.get_role(RoleName=role)["Role"].get("MaxSessionDuration", 3600))
        except ClientError as exc:
            if error := _unchecked(exc, "NoSuchEntity"):
                checks.append(Check("session", role, NOT_CHECKED, error))
            continue  # no GitHub role for this environment: nothing to check
        found = f"MaxSessionDuration {max_seconds} s, a first deploy needs about {needed} s"
        if max_seconds < needed:
            todo = (
                f"aws iam update-role --role-name {role} --max-session-duration {needed}, and ask for that long a "
                "session (role-duration-seconds); a chained role's session is capped at 1 h"
            )
            checks.append(Check("session", role, PROBLEM, found, todo))
        else:
            checks.append(Check("session", role, OK, found))
    if not is_role:
        checks.append(Check("session", caller_arn.rsplit(":", 1)[-1], OK, "not a role session (no expiry to outlast)"))
    return checks


def names(clients: aws.Clients, p: Plan, stack: str, own: set[str]) -> list[Check]:
    """Fixed names the stack will create (log groups, repositories) that exist and are not its own."""
    wanted = leftovers.planned(p.files, p.parameters, clients.region)
    taken = [x for x in leftovers.existing(clients.logs, clients.ecr, wanted) if x.name not in own]
    if not taken:
        return [Check("names", p.parameters["NamePrefix"], OK, f"none of the {len(wanted)} fixed names is taken")]
    live, _ = identity.live_stacks(clients.cloudformation, stack)  # as deploy compares them (cfn/identity.py)
    root = json.loads(p.files[render.ROOT_FILE])["Parameters"]
    owners = {n.name: o.stack for o in live for n in identity.names_of(o, p.files, root, clients.region)}
    checks = []
    for item in taken:
        if item.name in owners:
            checks.append(
                Check(
                    "names",
                    item.name,
                    PROBLEM,
                    f"used by live stack {owners[item.name]}",
                    "give this environment a NamePrefix of its own",
                )
            )
        else:
            todo = f"deploy with another NamePrefix, or remove it: {item.delete_command(clients.region)}"
            checks.append(Check("names", item.name, PROBLEM, "left by an earlier stack (retained)", todo))
    return checks


def own_resources(clients: aws.Clients, stack: str) -> set[str]:
    """Physical IDs of the stack's own counted resources (empty before the first deploy)."""
    if st.describe(clients.cloudformation, stack) is None:
        return set()
    return {r["PhysicalResourceId"] for r in status.resources_of(clients.cloudformation, stack, STACK_TYPES)}


def doctor(
    request: DoctorRequest,
    clients: aws.Clients,
    account_clients: aws.AccountClients,
    reporter: Reporter,
    project: Project,
    dns_resolver: dns.resolver.Resolver | None,
) -> DoctorView:
    """Every check, shown as one table and returned (``problems`` empty when ready)."""
    identity = clients.sts.get_caller_identity()
    view = DoctorView(request.env, request.stack, clients.region, identity["Account"])
    try:
        p: Plan | None = plan(project, request, clients.region, identity["Account"])
        resolve_error = ""
    except ResolveError as exc:
        p, resolve_error = None, str(exc)
    view.checks += region_support(clients.region, account_clients.ec2, resolve_error)
    view.checks += service_linked_roles(clients.iam)
    if p is None:
        view.checks.append(Check("templates", request.stack, NOT_CHECKED, "not resolved for this region: see above"))
    else:
        view.checks += _planned_checks(request, clients, account_clients, dns_resolver, p, identity["Arn"])
    reporter.show(view)
    reporter.result(view.document())
    return view


def _planned_checks(
    request: DoctorRequest,
    clients: aws.Clients,
    account_clients: aws.AccountClients,
    dns_resolver: dns.resolver.Resolver | None,
    p: Plan,
    caller_arn: str,
) -> list[Check]:
    """The checks that need the resolved templates."""
    own = own_resources(clients, request.stack)
    try:
        used: Mapping[str, int] | str = usage(account_clients.ec2, clients.elbv2, own)
    except ClientError as exc:
        used = _unchecked(exc, "")
    checks = [quota_check(account_clients.servicequotas, q) for q in quotas(p, used)]
    domain, zone_id = p.parameters.get("DomainName", ""), p.parameters.get("HostedZoneId", "")
    checks += zone.zone_checks(account_clients.route53, dns_resolver, domain, zone_id, own)
    tag = request.image_tag if request.image_tag is not None else p.parameters.get("ImageTag", "")
    checks += images(clients.ecr, p.repositories(), tag, request.env)
    checks += session_length(clients.iam, caller_arn, request.env, first_deploy_seconds(p.parameters))
    checks += names(clients, p, request.stack, own)
    return checks


def summary(view: DoctorView) -> str:
    """The one line ``doctor`` ends with when it is not ready."""
    first = view.problems[0]
    return (
        f"{view.stack} in {view.region} is not ready: {len(view.problems)} problem(s), first {first.area} "
        f"{first.subject}: {first.todo or first.detail}"
    )
