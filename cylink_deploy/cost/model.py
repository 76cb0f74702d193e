"""What an environment costs: monthly and event estimates from the resolved templates and a price file.

Pure: resolved stacks (``cylink_deploy.resolve``) + a ``PriceBook`` + ``Assumptions`` -> an
``Estimate`` of line items. Every resource type in the templates has a pricing rule in ``RULES`` or a
reason in ``FREE``; a type with neither is an error, so a new billable resource cannot slip in unpriced.
Each line item says whether the guide's cost table counted it and, when not, why the templates have it.
Formatting lives in ``cylink_deploy.costreport``; nothing here calls AWS or prints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from cylink_deploy.cost.pricing import PriceBook
from cylink_deploy.errors import BadInput, DeployError
from cylink_deploy.preflight import params
from cylink_deploy.preflight.resolve import ResolvedStack, resolve
from templates_src import render

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1e9
# Container Insights publishes roughly this many metrics per cluster and per service (ECS metric list);
# an approximation, printed with the estimate.
CI_METRICS_PER_CLUSTER = 8
CI_METRICS_PER_SERVICE = 12
TARGET_TRACKING_ALARMS = 2  # one high, one low alarm per target-tracking policy
ALB_LOG_PUTS_PER_NODE_HOUR = 12  # ALB delivers access logs every 5 minutes per node
# The guide's table (section "コスト見積もり"), USD per month; None: "variable".
GUIDE_TABLE: tuple[tuple[str, float | None], ...] = (
    ("Backend", 35.0),
    ("Frontend", 18.0),
    ("Redis", 60.0),
    ("ALB", 25.0),
    ("Route 53", 0.5),
    ("Data transfer", None),
)
GUIDE_TOTAL = (140.0, 200.0)
GUIDE_EVENT_USD = 0.50  # "backend scales to 10 tasks for the 3-hour, 1,000-user event: about $0.50 extra"
PLACEHOLDER_IMAGE_TAG = "estimate"
PLACEHOLDER_DOMAIN = "example.com"


class CostError(DeployError):
    """The templates hold something the estimate cannot price (the message says what to add)."""


@dataclass(frozen=True)
class Assumptions:
    """Usage the templates cannot tell: sized for Cylink (a site between events, events of ~1,000 users)."""

    data_out_gb: float = 50.0
    requests_million: float = 3.0
    alb_lcu: float = 1.0
    alb_nodes: int = 2
    nat_gb: float = 10.0
    app_log_gb_per_day: float = 0.1
    flow_log_gb_per_day: float = 0.2
    waf_log_kb_per_request: float = 1.5
    alb_log_bytes_per_request: float = 300.0
    container_insights_gb_per_day: float = 0.05
    ecr_gb_per_repository: float = 1.0
    redis_data_gb: float = 0.1
    kms_requests: float = 30_000
    secret_calls: float = 2_000
    event_users: int = 1000
    event_mb_per_user_hour: float = 5.0
    event_requests_per_user_hour: float = 120.0


# What each assumption means, for the printed notes and the --help of the flags.
ASSUMPTION_HELP: dict[str, str] = {
    "data_out_gb": "GB a month sent to the internet",
    "requests_million": "million HTTP requests a month through the ALB (and WAF)",
    "alb_lcu": "average load-balancer capacity units billed per hour",
    "alb_nodes": "public IPv4 addresses of the ALB (one per AZ at low load)",
    "nat_gb": "GB a month through the NAT gateways (image layers use the free S3 endpoint)",
    "app_log_gb_per_day": "GB of container logs a day, per service",
    "flow_log_gb_per_day": "GB of VPC flow logs a day",
    "waf_log_kb_per_request": "KB of WAF log per request",
    "alb_log_bytes_per_request": "bytes of compressed ALB access log per request",
    "container_insights_gb_per_day": "GB of Container Insights performance logs a day",
    "ecr_gb_per_repository": "GB stored per image repository",
    "redis_data_gb": "GB of Redis data per snapshot",
    "kms_requests": "KMS requests a month",
    "secret_calls": "Secrets Manager API calls a month",
    "event_users": "users connected during an event",
    "event_mb_per_user_hour": "MB each event user receives per hour",
    "event_requests_per_user_hour": "HTTP requests per event user per hour",
}


@dataclass(frozen=True)
class LineItem:
    """One billable quantity: ``quantity`` ``unit`` at ``unit_price`` USD each."""

    item: str
    resource: str  # "NetworkStack/NatGateway1"
    quantity: float
    unit: str
    unit_price: float
    price_key: str
    guide: str | None = None  # the guide's line it belongs to; None: the guide did not count it
    why: str = ""  # why the templates have it when the guide did not count it

    @property
    def usd(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Estimate:
    """The monthly estimate of one environment."""

    env: str
    region: str
    items: tuple[LineItem, ...]
    free: tuple[str, ...]  # resource types present that cost nothing, with the reason
    prices_updated: str
    unconfirmed_prices: tuple[str, ...]
    priced_as: tuple[str, ...] = ()  # parameters the estimate filled in (image tag, domain)

    @property
    def total(self) -> float:
        return sum(i.usd for i in self.items)

    def by_guide_line(self) -> dict[str | None, float]:
        out: dict[str | None, float] = {}
        for i in self.items:
            out[i.guide] = out.get(i.guide, 0.0) + i.usd
        return out


@dataclass(frozen=True)
class EventEstimate:
    """What an event adds to the month: services scaled from their minimum for ``hours``."""

    env: str
    hours: float
    tasks: dict[str, tuple[int, int]]  # service -> (from, to)
    items: tuple[LineItem, ...]

    @property
    def total(self) -> float:
        return sum(i.usd for i in self.items)

    @property
    def fargate(self) -> float:
        """The part the guide's "$0.50" claim covers: the extra tasks alone."""
        return sum(i.usd for i in self.items if i.price_key.startswith("fargate"))


def grouped(items: Iterable[LineItem]) -> tuple[LineItem, ...]:
    """The same thing at the same price for the same reason as one line, quantities added (18 alarms are one line
    of 18, not 18 lines), in first-seen order; ``resource`` lists them all. The estimate keeps one item per
    resource (``Estimate.items``, and ``--json``): this is for reading."""
    merged: dict[tuple[str, str, float, str, str | None, str], LineItem] = {}
    for i in items:
        key = (i.item, i.unit, i.unit_price, i.price_key, i.guide, i.why)
        seen = merged.get(key)
        merged[key] = (
            i
            if seen is None
            else replace(seen, quantity=seen.quantity + i.quantity, resource=f"{seen.resource}, {i.resource}")
        )
    return tuple(merged.values())


# -- helpers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    stacks: Mapping[str, ResolvedStack]
    stack: ResolvedStack
    book: PriceBook
    a: Assumptions

    def item(self, item: str, rid: str, qty: float, key: str, guide: str | None = None, why: str = "") -> LineItem:
        p = self.book[key]
        return LineItem(item, f"{self.stack.path}/{rid}", qty, p.unit, p.usd, key, guide, why)

    def all_resources(self, type_: str) -> list[tuple[ResolvedStack, str, dict[str, Any]]]:
        return [(s, rid, r) for s in self.stacks.values() for rid, r in s.resources(type_).items()]


def _num(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CostError(f"{what} is not known before deployment ({json.dumps(value)}): cannot price it") from None


def split_tasks(count: int, strategy: list[dict[str, Any]]) -> tuple[int, int]:
    """(on FARGATE, on FARGATE_SPOT) for ``count`` tasks: bases first, the rest by weight, rounded to
    whole tasks (ECS places whole tasks; half rounds towards on-demand)."""
    base = {s["CapacityProvider"]: int(_num(s.get("Base", 0), "capacity-provider base")) for s in strategy}
    weight = {s["CapacityProvider"]: _num(s.get("Weight", 0), "capacity-provider weight") for s in strategy}
    od = min(count, base.get("FARGATE", 0))
    spot = min(count - od, base.get("FARGATE_SPOT", 0))
    rest = count - od - spot
    w_od, w_spot = weight.get("FARGATE", 0.0), weight.get("FARGATE_SPOT", 0.0)
    if w_od + w_spot == 0:
        return od + rest, spot
    extra_od = math.floor(rest * w_od / (w_od + w_spot) + 0.5)
    return od + extra_od, spot + rest - extra_od


def _service_shape(
    stack: ResolvedStack, rid: str, body: dict[str, Any]
) -> tuple[str, float, float, list[dict[str, Any]], bool]:
    """(title, vCPU, GB, capacity strategy, has public IP) of an ECS service."""
    props = body["Properties"]
    td_ref = props.get("TaskDefinition", {})
    td = stack.template["Resources"].get(td_ref.get("Ref", "") if isinstance(td_ref, dict) else "")
    if td is None:
        raise CostError(f"{stack.path}/{rid}: its task definition is not in the same stack: cannot price it")
    tdp = td["Properties"]
    vcpu = _num(tdp.get("Cpu"), f"{rid} CPU") / 1024
    gb = _num(tdp.get("Memory"), f"{rid} memory") / 1024
    strategy = props.get("CapacityProviderStrategy") or [{"CapacityProvider": "FARGATE", "Weight": 1}]
    public = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("AssignPublicIp") == "ENABLED"
    return rid.removesuffix("Service"), vcpu, gb, strategy, public


def _task_lines(
    c: _Ctx, rid: str, body: dict[str, Any], count: int, hours: float, event: bool = False
) -> list[LineItem]:
    title, vcpu, gb, strategy, public = _service_shape(c.stack, rid, body)
    od, spot = split_tasks(count, strategy)
    guide = None if event else title if title in dict(GUIDE_TABLE) else None
    shape = f"{vcpu:g} vCPU, {gb:g} GB"
    out = []
    for n, kind, vkey, gkey in (
        (od, "FARGATE", "fargate_vcpu_hour", "fargate_gb_hour"),
        (spot, "FARGATE_SPOT", "fargate_spot_vcpu_hour", "fargate_spot_gb_hour"),
    ):
        if n:
            price = vcpu * c.book[vkey].usd + gb * c.book[gkey].usd
            out.append(
                LineItem(
                    f"{title} tasks on {kind} ({shape}) x{n}",
                    f"{c.stack.path}/{rid}",
                    n * hours,
                    "task-hour",
                    price,
                    f"{vkey}+{gkey}",
                    guide,
                )
            )
    if public and count:
        out.append(
            c.item(
                f"{title} task public IPv4 x{count}",
                rid,
                count * hours,
                "public_ipv4_hour",
                why="EgressMode none: tasks run in public subnets with a public IP (no NAT)",
            )
        )
    return out


# -- rules: resource type -> line items --------------------------------------------------------------

Rule = Callable[[_Ctx, str, dict[str, Any]], list[LineItem]]


def _ecs_service(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    count = _running(c.stack, rid, body)
    return _task_lines(c, rid, body, count, HOURS_PER_MONTH)


def _redis(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    p = body["Properties"]
    nodes = int(_num(p.get("NumCacheClusters", 1), f"{rid} NumCacheClusters"))
    node_type = p.get("CacheNodeType")
    key = f"elasticache_node_hour:{node_type}"
    out = [c.item(f"Redis node ({node_type})", rid, HOURS_PER_MONTH, key, guide="Redis")]
    if nodes > 1:
        out.append(
            c.item(
                f"Redis replica ({node_type}) x{nodes - 1}",
                rid,
                (nodes - 1) * HOURS_PER_MONTH,
                key,
                why="RedisNodeCount 2+: Multi-AZ automatic failover (the guide's single node cannot fail over)",
            )
        )
    kept = int(_num(p.get("SnapshotRetentionLimit", 0), f"{rid} SnapshotRetentionLimit"))
    if kept > 1:
        out.append(
            c.item(
                f"Redis snapshots beyond the free one x{kept - 1}",
                rid,
                (kept - 1) * c.a.redis_data_gb,
                "elasticache_backup_gb_month",
                why="daily snapshots kept RedisSnapshotRetentionDays days",
            )
        )
    return out


def _secret(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    why = "Redis AUTH token kept in Secrets Manager (the guide's Redis has no AUTH)"
    return [
        c.item("Secrets Manager secret", rid, 1, "secret_month", why=why),
        c.item("Secrets Manager API calls", rid, c.a.secret_calls / 10_000, "secret_10k_calls", why=why),
    ]


def _kms_key(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    why = "customer-managed key encrypting logs, images, Redis and the secret"
    return [
        c.item("KMS key (first year; each yearly rotation adds $1, up to two)", rid, 1, "kms_key_month", why=why),
        c.item("KMS requests", rid, c.a.kms_requests / 10_000, "kms_10k_requests", why=why),
    ]


def _nat(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    count = len(c.all_resources("AWS::EC2::NatGateway"))
    why = "NAT egress: the guide's private subnets have no route out (Fargate could not pull images)"
    return [
        c.item("NAT gateway", rid, HOURS_PER_MONTH, "nat_hour", why=why),
        c.item("NAT gateway data processed", rid, c.a.nat_gb / count, "nat_gb", why=why),
    ]


def _eip(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    return [
        c.item(
            "Elastic IP of a NAT gateway (public IPv4)",
            rid,
            HOURS_PER_MONTH,
            "public_ipv4_hour",
            why="each NAT gateway holds a public IPv4 address (charged since 2024-02)",
        )
    ]


def _alb(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    out = [
        c.item("ALB", rid, HOURS_PER_MONTH, "alb_hour", guide="ALB"),
        c.item(
            f"ALB capacity units ({c.a.alb_lcu:g} LCU average)",
            rid,
            c.a.alb_lcu * HOURS_PER_MONTH,
            "alb_lcu_hour",
            guide="ALB",
        ),
    ]
    if body["Properties"].get("Scheme") == "internet-facing":
        out.append(
            c.item(
                f"ALB public IPv4 x{c.a.alb_nodes}",
                rid,
                c.a.alb_nodes * HOURS_PER_MONTH,
                "public_ipv4_hour",
                why="AWS charges public IPv4 addresses since 2024-02, after the guide was written",
            )
        )
        out.append(
            c.item("Data transfer out to the internet", rid, c.a.data_out_gb, "data_out_gb", guide="Data transfer")
        )
    return out


def _web_acl(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    why = "WafEnabled: WAF with AWS managed rules and a per-IP rate limit in front of the ALB"
    rules = len(body["Properties"].get("Rules", []))
    return [
        c.item("WAF web ACL", rid, 1, "waf_acl_month", why=why),
        c.item(f"WAF rules x{rules}", rid, rules, "waf_rule_month", why=why),
        c.item("WAF requests", rid, c.a.requests_million, "waf_million_requests", why=why),
    ]


def _log_source(c: _Ctx, rid: str) -> str:
    """What writes into a log group: 'flow', 'waf' or 'app' (decides the volume and price)."""
    refs = {"Ref": rid}
    for body in c.stack.resources("AWS::EC2::FlowLog").values():
        if body["Properties"].get("LogGroupName") == refs:
            return "flow"
    for body in c.stack.resources("AWS::WAFv2::LoggingConfiguration").values():
        if {"Fn::GetAtt": [rid, "Arn"]} in body["Properties"].get("LogDestinationConfigs", []):
            return "waf"
    return "app"


def _log_group(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    source = _log_source(c, rid)
    days = _num(body["Properties"].get("RetentionInDays", 3653), f"{rid} RetentionInDays")
    if source == "flow":
        per_day, key, what, why = (
            c.a.flow_log_gb_per_day,
            "logs_vended_gb",
            "VPC flow logs",
            "VPC flow logs of all traffic (hardening)",
        )
    elif source == "waf":
        per_day = c.a.requests_million * c.a.waf_log_kb_per_request / DAYS_PER_MONTH
        key, what, why = "logs_vended_gb", "WAF logs", "WAF request logs (WafEnabled)"
    else:
        per_day, key, what = c.a.app_log_gb_per_day, "logs_ingest_gb", f"Container logs {rid.removesuffix('LogGroup')}"
        why = "container logs: the guide's tasks log too, its table leaves them out"
    return [
        c.item(f"{what}: ingestion", rid, per_day * DAYS_PER_MONTH, key, why=why),
        c.item(f"{what}: storage ({days:g} days kept)", rid, per_day * days, "logs_storage_gb_month", why=why),
    ]


def _cluster(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    settings = {s.get("Name"): s.get("Value") for s in body["Properties"].get("ClusterSettings", [])}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        return []
    services = len(c.all_resources("AWS::ECS::Service"))
    metrics = CI_METRICS_PER_CLUSTER + CI_METRICS_PER_SERVICE * services
    why = "Container Insights on the cluster (not in the guide): metrics and performance logs"
    return [
        c.item(f"Container Insights metrics (~{metrics})", rid, metrics, "cw_metric_month", why=why),
        c.item(
            "Container Insights performance logs",
            rid,
            c.a.container_insights_gb_per_day * DAYS_PER_MONTH,
            "logs_ingest_gb",
            why=why,
        ),
    ]


def _ecr(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    why = "image storage: the guide's repositories too, its table leaves them out"
    return [
        c.item(f"ECR storage {rid.removesuffix('Repository')}", rid, c.a.ecr_gb_per_repository, "ecr_gb_month", why=why)
    ]


def _bucket(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    logs_here = any(
        {"Key": "access_logs.s3.bucket", "Value": {"Ref": rid}} in lb["Properties"].get("LoadBalancerAttributes", [])
        for lb in c.stack.resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    )
    if not logs_here:
        raise CostError(
            f"{c.stack.path}/{rid}: a bucket the estimate has no usage assumption for: add one to cost._bucket"
        )
    rules = body["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    days = min(
        (_num(r["ExpirationInDays"], "ExpirationInDays") for r in rules if "ExpirationInDays" in r),
        default=DAYS_PER_MONTH,
    )
    per_day = c.a.requests_million * 1e6 * c.a.alb_log_bytes_per_request / GB / DAYS_PER_MONTH
    why = "ALB access logs (hardening)"
    return [
        c.item(f"ALB access logs in S3 ({days:g} days kept)", rid, per_day * days, "s3_gb_month", why=why),
        c.item(
            "ALB access-log deliveries (PUT)",
            rid,
            c.a.alb_nodes * ALB_LOG_PUTS_PER_NODE_HOUR * HOURS_PER_MONTH / 1000,
            "s3_1k_put",
            why=why,
        ),
    ]


def _zone(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    return [c.item("Route 53 hosted zone", rid, 1, "route53_zone_month", guide="Route 53")]


def _scaling_policy(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    if body["Properties"].get("PolicyType") != "TargetTrackingScaling":
        return []
    why = "the alarms target tracking creates (the guide's scaling has them too, its table leaves them out)"
    return [c.item("Target-tracking scaling alarms", rid, TARGET_TRACKING_ALARMS, "cw_alarm_month", why=why)]


def _alarm(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    return [c.item("CloudWatch alarm", rid, 1, "cw_alarm_month", why="monitoring")]


def _dashboard(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    return [c.item("CloudWatch dashboard", rid, 1, "cw_dashboard_month", why="monitoring")]


def _vpc_endpoint(c: _Ctx, rid: str, body: dict[str, Any]) -> list[LineItem]:
    if body["Properties"].get("VpcEndpointType", "Gateway") == "Gateway":
        return []  # gateway endpoints (S3, DynamoDB) are free
    raise CostError(
        f"{c.stack.path}/{rid}: interface VPC endpoints are billed hourly per AZ: add a rule to cost._vpc_endpoint"
    )


RULES: dict[str, Rule] = {
    "AWS::ECS::Service": _ecs_service,
    "AWS::ECS::Cluster": _cluster,
    "AWS::ElastiCache::ReplicationGroup": _redis,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::KMS::Key": _kms_key,
    "AWS::EC2::NatGateway": _nat,
    "AWS::EC2::EIP": _eip,
    "AWS::EC2::VPCEndpoint": _vpc_endpoint,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _alb,
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::ECR::Repository": _ecr,
    "AWS::S3::Bucket": _bucket,
    "AWS::Route53::HostedZone": _zone,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
}

FREE: dict[str, str] = {
    "AWS::CloudFormation::Stack": "nested stacks cost nothing",
    "AWS::EC2::VPC": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::Route": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::InternetGateway": "no charge (data out is priced at the ALB)",
    "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge",
    "AWS::EC2::FlowLog": "delivery priced at its log group",
    "AWS::IAM::Role": "no charge",
    "AWS::ElastiCache::SubnetGroup": "no charge",
    "AWS::ECS::TaskDefinition": "priced through the service that runs it",
    "AWS::ECS::ClusterCapacityProviderAssociations": "no charge",
    "AWS::ApplicationAutoScaling::ScalableTarget": "no charge (its policies' alarms are priced)",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "included in the ALB",
    "AWS::ElasticLoadBalancingV2::Listener": "included in the ALB",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "included in the ALB's LCUs",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::WAFv2::WebACLAssociation": "no charge",
    "AWS::WAFv2::LoggingConfiguration": "delivery priced at its log group",
    "AWS::CertificateManager::Certificate": "public ACM certificates are free",
    "AWS::Route53::RecordSet": "records are free; alias queries to an ALB are free",
    "AWS::SNS::Topic": "alarm notifications stay within SNS's always-free tier (1 million publishes a month)",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SNS::Subscription": "e-mail notifications: the first 1,000 a month are free; alarms send far fewer",
}


def _items(stacks: Mapping[str, ResolvedStack], book: PriceBook, a: Assumptions) -> tuple[list[LineItem], set[str]]:
    items: list[LineItem] = []
    free: set[str] = set()
    for stack in stacks.values():
        c = _Ctx(stacks, stack, book, a)
        for rid, body in stack.resources().items():
            type_ = body["Type"]
            rule = RULES.get(type_)
            if rule is not None:
                items += rule(c, rid, body)
            elif type_ in FREE:
                free.add(f"{type_}: {FREE[type_]}")
            else:
                raise CostError(
                    f"{stack.path}/{rid}: no pricing rule for {type_}: add one to RULES or FREE in "
                    "cylink_deploy/cost.py"
                )
    return items, free


def estimate(
    env: str, stacks: Mapping[str, ResolvedStack], book: PriceBook, a: Assumptions, priced_as: tuple[str, ...] = ()
) -> Estimate:
    """The monthly estimate of the resolved ``stacks`` (``resolve.resolve`` output, any keys)."""
    items, free = _items(stacks, book, a)
    used = {k for i in items for k in i.price_key.split("+")}
    return Estimate(
        env=env,
        region=book.region,
        items=tuple(items),
        free=tuple(sorted(free)),
        prices_updated=book.updated,
        unconfirmed_prices=tuple(k for k in book.unconfirmed if k in used),
        priced_as=priced_as,
    )


def _capacity(stack: ResolvedStack, service_id: str, bound: str) -> int | None:
    """The service's scalable target's MinCapacity or MaxCapacity (None without auto scaling)."""
    for body in stack.resources("AWS::ApplicationAutoScaling::ScalableTarget").values():
        if "${" + service_id + ".Name}" in json.dumps(body["Properties"].get("ResourceId")):
            return int(_num(body["Properties"][bound], f"{service_id} {bound}"))
    return None


def _max_capacity(stack: ResolvedStack, service_id: str) -> int | None:
    return _capacity(stack, service_id, "MaxCapacity")


def _running(stack: ResolvedStack, service_id: str, body: dict[str, Any]) -> int:
    """Tasks a service runs at rest: its DesiredCount, else (no DesiredCount: auto scaling owns the count,
    finding 12 of issue 21) its scalable target's minimum, else ECS's default of 1."""
    if "DesiredCount" in body["Properties"]:
        return int(_num(body["Properties"]["DesiredCount"], f"{service_id} DesiredCount"))
    return _capacity(stack, service_id, "MinCapacity") or 1


def event_estimate(
    env: str,
    stacks: Mapping[str, ResolvedStack],
    book: PriceBook,
    a: Assumptions,
    hours: float = 3.0,
    tasks: Mapping[str, int] | None = None,
) -> EventEstimate:
    """An event of ``hours``: each service scaled from its minimum to ``tasks[title]`` (default: the
    backend to its maximum, the others unchanged, as in the guide's claim), plus the event's traffic."""
    if hours <= 0:
        raise BadInput(f"--event-hours {hours:g}: must be more than 0")
    items: list[LineItem] = []
    changes: dict[str, tuple[int, int]] = {}
    waf = False
    for stack in stacks.values():
        c = _Ctx(stacks, stack, book, a)
        waf = waf or bool(stack.resources("AWS::WAFv2::WebACL"))
        for rid, body in stack.resources("AWS::ECS::Service").items():
            title = rid.removesuffix("Service")
            low = _running(stack, rid, body)
            high_max = _max_capacity(stack, rid)
            default = high_max if title == "Backend" and high_max is not None else low
            high = (tasks or {}).get(title, default)
            if high < low or (high_max is not None and high > high_max):
                raise BadInput(
                    f"event tasks for {title}: {high} is outside its scaling range {low}-{high_max} (set "
                    f"{title}MaxCapacity)"
                )
            changes[title] = (low, high)
            before = {i.item.split(" x")[0]: i for i in _task_lines(c, rid, body, low, hours, event=True)}
            for line in _task_lines(c, rid, body, high, hours, event=True):
                prev = before.get(line.item.split(" x")[0])
                extra = line.quantity - (prev.quantity if prev else 0)
                if extra > 0:
                    items.append(
                        replace(line, item=f"{line.item.split(' x')[0]}: +{extra / hours:g} tasks", quantity=extra)
                    )
    albs = [(s, rid) for s in stacks.values() for rid in s.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")]
    if albs:
        stack, rid = albs[0]
        c = _Ctx(stacks, stack, book, a)
        gb_per_hour = a.event_users * a.event_mb_per_user_hour / 1000
        new_per_second = a.event_users * a.event_requests_per_user_hour / 3600
        lcu = max(a.event_users / 3000, gb_per_hour, new_per_second / 25)  # ALB LCU dimensions
        if lcu > a.alb_lcu:
            items.append(
                c.item(
                    f"ALB capacity units during the event ({lcu:g} LCU)",
                    rid,
                    (lcu - a.alb_lcu) * hours,
                    "alb_lcu_hour",
                    why="event traffic",
                )
            )
        items.append(c.item("Event data transfer out", rid, gb_per_hour * hours, "data_out_gb", why="event traffic"))
        if waf:
            requests = a.event_users * a.event_requests_per_user_hour * hours / 1e6
            items.append(
                c.item("WAF requests during the event", rid, requests, "waf_million_requests", why="event traffic")
            )
    return EventEstimate(env, hours, changes, tuple(items))


# -- from an environment's parameter file to its estimate --------------------------------------------


def env_stacks(
    env: str,
    params_dir: Path,
    region: str,
    overrides: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[dict[str, ResolvedStack], tuple[str, ...]]:
    """Resolve the built templates with an environment's parameters, priced "as deployed for an event":
    an empty ImageTag gets a placeholder (the services run), and outside dev an empty DomainName gets a
    placeholder with a new hosted zone. Returns the stacks and what was filled in."""
    files = dict(files) if files is not None else render.render()
    root = json.loads(files[render.ROOT_FILE])
    deployment = params.resolve(
        env, params.env_file(params_dir, env), root["Parameters"], dict(overrides or {}), deploying=False
    )
    values = dict(deployment.parameters)
    effective = {k: str(v.get("Default", "")) for k, v in root["Parameters"].items()} | values
    filled = []
    if not effective["ImageTag"]:
        values["ImageTag"] = PLACEHOLDER_IMAGE_TAG
        filled.append("ImageTag empty: priced with the services running")
    if env != "dev" and not effective["DomainName"]:
        values["DomainName"] = PLACEHOLDER_DOMAIN
        filled.append("DomainName empty: priced with a domain and a new hosted zone")
    stacks = resolve(files, values, region=region)
    return stacks, tuple(filled)


def assumptions_with(overrides: Mapping[str, float | None]) -> Assumptions:
    """Defaults with the given (non-None) values, each checked to be zero or more."""
    names = {f.name: f.type for f in fields(Assumptions)}
    clean: dict[str, Any] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in names:
            raise BadInput(f"unknown assumption {name}; known: {', '.join(sorted(names))}")
        if value < 0:
            raise BadInput(f"--{name.replace('_', '-')} {value:g}: must be zero or more")
        clean[name] = int(value) if names[name] == "int" else float(value)
    return replace(Assumptions(), **clean)


@dataclass(frozen=True)
class Report:
    """What ``deploy.py cost`` prints: estimates per environment and the event estimate."""

    estimates: tuple[Estimate, ...]
    events: tuple[EventEstimate, ...]
    assumptions: Assumptions
    notes: tuple[str, ...] = field(default_factory=tuple)
