"""The dated price files (``pricing/<region>.json``) and their refresh from the AWS Price List API.

Every price carries its unit, source, date and whether it was confirmed, so an estimate can say how
old and how sure its figures are. ``CATALOG`` says what each price is and how to ask the Price List API
for it (``GetProducts`` with ``TERM_MATCH`` filters); ``refresh`` takes the ``pricing`` client as an
argument and never prints. The estimate itself only ever reads the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import botocore.exceptions as bex

from cylink_deploy.aws import DEFAULT_REGION, REGION
from cylink_deploy.errors import BadInput, DeployError

if TYPE_CHECKING:
    from mypy_boto3_pricing import PricingClient
    from mypy_boto3_pricing.type_defs import FilterTypeDef

PRICING_DIR = Path(__file__).resolve().parents[2] / "pricing"
# The Price List API only answers in these two regions; ap-south-1 would do as well.
PRICE_LIST_REGION = "us-east-1"
# Usage types carry a region prefix; a region missing here cannot be refreshed (add its prefix).
USAGE_PREFIX = {"ap-northeast-1": "APN1", "ap-northeast-3": "APN3"}


class PricingError(DeployError):
    """A price file is missing, malformed, or lacks a price the estimate needs."""


@dataclass(frozen=True)
class Spec:
    """What a price is and how the Price List API names it (``usagetype`` without region prefix)."""

    unit: str
    service: str | None  # None: not in the Price List API (e.g. the floating Fargate Spot price)
    usagetype: str = ""
    per: int = 1  # the file's price is per this many API units (e.g. per 1,000,000 requests)
    regional: bool = True  # usage type carries the region prefix
    filters: tuple[tuple[str, str], ...] = ()


CATALOG: dict[str, Spec] = {
    "fargate_vcpu_hour": Spec("vCPU-hour", "AmazonECS", "Fargate-vCPU-Hours:perCPU"),
    "fargate_gb_hour": Spec("GB-hour", "AmazonECS", "Fargate-GB-Hours"),
    "fargate_spot_vcpu_hour": Spec("vCPU-hour", None),
    "fargate_spot_gb_hour": Spec("GB-hour", None),
    **{
        f"elasticache_node_hour:{t}": Spec(
            "node-hour", "AmazonElastiCache", f"NodeUsage:{t}", filters=(("cacheEngine", "Redis"),)
        )
        for t in ("cache.t3.micro", "cache.t3.small", "cache.t3.medium")
    },
    "elasticache_backup_gb_month": Spec("GB-month", "AmazonElastiCache", "BackupUsage"),
    "alb_hour": Spec(
        "ALB-hour", "AWSELB", "LoadBalancerUsage", filters=(("productFamily", "Load Balancer-Application"),)
    ),
    "alb_lcu_hour": Spec("LCU-hour", "AWSELB", "LCUUsage", filters=(("productFamily", "Load Balancer-Application"),)),
    "nat_hour": Spec("NAT gateway-hour", "AmazonEC2", "NatGateway-Hours"),
    "nat_gb": Spec("GB processed", "AmazonEC2", "NatGateway-Bytes"),
    "public_ipv4_hour": Spec("address-hour", "AmazonVPC", "PublicIPv4:InUseAddress"),
    "waf_acl_month": Spec("web ACL-month", "awswaf", "WebACLV2"),
    "waf_rule_month": Spec("rule-month", "awswaf", "RuleV2"),
    "waf_million_requests": Spec("million requests", "awswaf", "RequestV2-Tier1", per=1_000_000),
    "route53_zone_month": Spec("hosted zone-month", "AmazonRoute53", "HostedZone", regional=False),
    "route53_million_queries": Spec("million queries", "AmazonRoute53", "DNS-Queries", per=1_000_000, regional=False),
    "kms_key_month": Spec("key-month", "awskms", "KMS-Keys"),
    "kms_10k_requests": Spec("10,000 requests", "awskms", "KMS-Requests", per=10_000),
    "secret_month": Spec("secret-month", "AWSSecretsManager", "AWSSecretsManager-Secrets"),
    "secret_10k_calls": Spec("10,000 API calls", "AWSSecretsManager", "AWSSecretsManager-APIRequest", per=10_000),
    "logs_ingest_gb": Spec("GB ingested", "AmazonCloudWatch", "DataProcessing-Bytes"),
    "logs_vended_gb": Spec("GB ingested (vended)", "AmazonCloudWatch", "VendedLog-Bytes"),
    "logs_storage_gb_month": Spec("GB-month", "AmazonCloudWatch", "TimedStorage-ByteHrs"),
    "cw_alarm_month": Spec("alarm-month", "AmazonCloudWatch", "CW:AlarmMonitorUsage"),
    "cw_metric_month": Spec("metric-month", "AmazonCloudWatch", "CW:MetricMonitorUsage"),
    "cw_dashboard_month": Spec("dashboard-month", "AmazonCloudWatch", "DashboardsUsageHour", regional=False),
    "ecr_gb_month": Spec("GB-month", "AmazonECR", "TimedStorage-ByteHrs"),
    "s3_gb_month": Spec("GB-month", "AmazonS3", "TimedStorage-ByteHrs"),
    "s3_1k_put": Spec("1,000 PUT requests", "AmazonS3", "Requests-Tier1", per=1_000),
    "data_out_gb": Spec("GB out to the internet", "AWSDataTransfer", "DataTransfer-Out-Bytes"),
}


@dataclass(frozen=True)
class Price:
    """One dated price: ``usd`` per ``unit``, where it came from and whether it was confirmed."""

    usd: float
    unit: str
    source: str
    as_of: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True)
class PriceBook:
    """A region's price file."""

    region: str
    updated: str
    prices: dict[str, Price]
    notes: tuple[str, ...] = ()
    cross_check: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PricingError(
                f"pricing/{self.region}.json has no price {key!r}: add it (see CATALOG in cylink_deploy/pricing.py)"
            ) from None

    @property
    def oldest(self) -> str:
        return min(p.as_of for p in self.prices.values())

    @property
    def unconfirmed(self) -> list[str]:
        return sorted(k for k, p in self.prices.items() if not p.confirmed)


def price_file(region: str, pricing_dir: Path = PRICING_DIR) -> Path:
    """``pricing_dir/<region>.json``; a ``region`` that is not a region name (``../../tmp/x``) is refused:
    it is the one way a region becomes a path, read by the estimate and written by the refresh."""
    if not is_region(region):
        raise BadInput(f"--region {region!r} is not an AWS region: use a name such as {DEFAULT_REGION}")
    return pricing_dir / f"{region}.json"


def is_region(name: str) -> bool:
    """An AWS region name (``aws.REGION``, matched whole: ``$`` alone would take a trailing newline)."""
    return REGION.fullmatch(name) is not None


def parse(text: str, where: str) -> PriceBook:
    """A price file's JSON as a PriceBook; every entry must name its unit, source and date."""
    try:
        doc = json.loads(text)
        prices = {}
        for key, p in doc["prices"].items():
            missing = [k for k in ("usd", "unit", "source", "as_of") if k not in p]
            if missing:
                raise PricingError(f"{where}: price {key} lacks {', '.join(missing)}")
            prices[key] = Price(
                float(p["usd"]), p["unit"], p["source"], p["as_of"], bool(p.get("confirmed", True)), p.get("note", "")
            )
        return PriceBook(doc["region"], doc["updated"], prices, tuple(doc.get("notes", ())), doc.get("cross_check", {}))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PricingError(
            f"{where}: not a price file ({exc!r}); restore it from git or run cost --refresh-prices"
        ) from None


def load(region: str, pricing_dir: Path = PRICING_DIR) -> PriceBook:
    """The price file of ``region``; a region without one lists the regions that have one."""
    path = price_file(region, pricing_dir)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in pricing_dir.glob("*.json"))) or "none"
        raise BadInput(f"no price file for region {region} ({path}); regions with prices: {known}")
    return parse(path.read_text(), str(path))


def dump(book: PriceBook) -> str:
    """Deterministic JSON of a price file."""
    doc = {
        "region": book.region,
        "updated": book.updated,
        "notes": list(book.notes),
        "cross_check": book.cross_check,
        "prices": {
            k: {
                "usd": p.usd,
                "unit": p.unit,
                "source": p.source,
                "as_of": p.as_of,
                "confirmed": p.confirmed,
                **({"note": p.note} if p.note else {}),
            }
            for k, p in sorted(book.prices.items())
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- refresh from the Price List API -----------------------------------------------------------------


def filters_for(spec: Spec, region: str) -> list[FilterTypeDef]:
    """GetProducts filters for one price in ``region``."""
    if spec.regional and region not in USAGE_PREFIX:
        raise BadInput(
            f"cannot refresh prices for {region}: add its usage-type prefix to USAGE_PREFIX in cylink_deploy/pricing.py"
        )
    usagetype = f"{USAGE_PREFIX[region]}-{spec.usagetype}" if spec.regional else spec.usagetype
    pairs = [("usagetype", usagetype), *spec.filters]
    if spec.regional:
        pairs.append(("regionCode", region))
    return [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in pairs]


class NotAPriceList(PricingError):
    """The endpoint answered, but not as the Price List API does (an HTML error page, an HTTP error without an AWS
    error, entries that are not JSON). The price file is left as it was."""


def on_demand_usd(price_list_item: str) -> float | None:
    """The first non-zero on-demand tier of one ``PriceList`` entry (a JSON string), per API unit."""
    try:
        doc = json.loads(price_list_item)
    except (TypeError, ValueError):
        raise NotAPriceList(f"a PriceList entry is not JSON ({str(price_list_item)[:40]!r}...)") from None
    dims = [
        d
        for term in doc.get("terms", {}).get("OnDemand", {}).values()
        for d in term.get("priceDimensions", {}).values()
    ]
    dims.sort(key=lambda d: float(d.get("beginRange", "0")))
    for d in dims:
        usd = float(d.get("pricePerUnit", {}).get("USD", "0"))
        if usd > 0:
            return usd
    return None


def _products(client: PricingClient, service: str, filters: list[FilterTypeDef]) -> Iterable[str]:
    """The ``PriceList`` entries of one query. An HTTP error without an AWS error in its body (botocore then names
    the HTTP status as the error code, and the page as the message) is not the Price List API answering: one line,
    never the page. AWS's own errors (AccessDenied, throttling) go on to ``aws.translate``."""
    try:
        for page in client.get_paginator("get_products").paginate(
            ServiceCode=service, Filters=filters, FormatVersion="aws_v1"
        ):
            yield from page.get("PriceList", [])
    except bex.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if not code.isdigit():
            raise
        raise NotAPriceList(f"{client.meta.endpoint_url} answered HTTP {code} with no AWS error") from None


@dataclass(frozen=True)
class RefreshResult:
    book: PriceBook
    updated: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]  # (price key, why it was not refreshed)


def refresh(client: PricingClient, book: PriceBook, today: str) -> RefreshResult:
    """Ask the Price List API for every price ``CATALOG`` can query; keep the others and say why.

    ``client`` is a boto3 ``pricing`` client (us-east-1). An answer with several different prices for
    one usage type is ambiguous and kept out rather than guessed.
    """
    prices = dict(book.prices)
    updated: list[str] = []
    kept: list[tuple[str, str]] = []
    for key in sorted(set(book.prices) | set(CATALOG)):
        spec = CATALOG.get(key)
        if spec is None or spec.service is None:
            kept.append((key, "not in the Price List API"))
            continue
        filters = filters_for(spec, book.region)
        found = {u for u in (on_demand_usd(item) for item in _products(client, spec.service, filters)) if u is not None}
        if len(found) != 1:
            kept.append((key, "no product matched" if not found else f"ambiguous: {len(found)} prices matched"))
            continue
        usagetype = next(f["Value"] for f in filters if f["Field"] == "usagetype")
        prices[key] = Price(
            round(found.pop() * spec.per, 10),
            spec.unit,
            f"AWS Price List API GetProducts {spec.service} {usagetype}",
            today,
            True,
        )
        updated.append(key)
    if not updated:  # every query came back empty: nothing to date as refreshed
        raise NotAPriceList(f"no price matched any of {len(kept)} queries")
    new = replace(book, prices=prices, updated=today)
    return RefreshResult(new, tuple(updated), tuple(kept))
