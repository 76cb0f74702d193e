"""``cost``: the offline monthly and event cost estimate per environment, and (only when asked) the
price refresh. Thin: flags in, ``cost/`` computes, ``output/cost.py`` prints; errors are raised for the
CLI to map to exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from cylink_deploy import aws
from cylink_deploy.commands.base import Command, Context
from cylink_deploy.cost import model as cost
from cylink_deploy.cost import pricing
from cylink_deploy.errors import EXIT_OK, BadInput
from cylink_deploy.output import cost as costreport
from cylink_deploy.preflight.params import parse_overrides

if TYPE_CHECKING:
    from mypy_boto3_pricing import PricingClient

DEFAULT_ENVS = ("dev", "staging", "prod")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--env", action="append", help="environment(s) to estimate (repeatable; default: dev, staging and prod)"
    )
    p.add_argument(
        "--region",
        type=_region,
        default=aws.DEFAULT_REGION,
        help=f"region whose price file is used (default {aws.DEFAULT_REGION})",
    )
    p.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter of the file (repeatable), e.g. WafEnabled=false",
    )
    p.add_argument(
        "--event-hours", type=_positive_hours, default=3.0, help="length of the event (default 3, as in the guide)"
    )
    p.add_argument("--event-tasks", type=int, help="backend tasks during the event (default: BackendMaxCapacity)")
    p.add_argument("--event-frontend-tasks", type=int, help="frontend tasks during the event (default: unchanged)")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.add_argument(
        "--refresh-prices",
        action="store_true",
        help="rewrite pricing/REGION.json from the AWS Price List API (needs credentials)",
    )
    p.add_argument("--profile", help="AWS named profile for --refresh-prices")
    p.add_argument(
        "--local",
        action="store_true",
        help="as the other commands take it: the estimate is offline anyway; --refresh-prices is refused (the "
        "emulator has no Price List API)",
    )
    group = p.add_argument_group("assumptions (usage the templates cannot tell)")
    for f in fields(cost.Assumptions):
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"assume_{f.name}",
            type=_count if f.type in (int, "int") else _amount,
            metavar="N",
            help=cost.ASSUMPTION_HELP[f.name],
        )


def build_report(args: argparse.Namespace, params_dir: Path, pricing_dir: Path = pricing.PRICING_DIR) -> cost.Report:
    """The estimates for the flags: offline, from the templates, the parameter files and the price file."""
    a = cost.assumptions_with({f.name: getattr(args, f"assume_{f.name}") for f in fields(cost.Assumptions)})
    book = pricing.load(args.region, pricing_dir)
    overrides = parse_overrides(args.parameter)
    tasks = {k: v for k, v in (("Backend", args.event_tasks), ("Frontend", args.event_frontend_tasks)) if v is not None}
    estimates, events = [], []
    for env in dict.fromkeys(args.env or DEFAULT_ENVS):  # --env dev --env dev: dev once, in the order given
        stacks, filled = cost.env_stacks(env, params_dir, args.region, overrides)
        estimates.append(cost.estimate(env, stacks, book, a, filled))
        events.append(cost.event_estimate(env, stacks, book, a, args.event_hours, tasks))
    notes = (
        f"Prices: pricing/{args.region}.json (updated {book.updated}; oldest price {book.oldest}); "
        f"{len(book.unconfirmed)} unconfirmed, marked in the file.",
        "Free tiers are per account and not applied. Not priced: cross-AZ traffic between tasks and Redis (about "
        "$0.01/GB each way).",
        f"Container Insights metrics: about {cost.CI_METRICS_PER_CLUSTER} per cluster and "
        f"{cost.CI_METRICS_PER_SERVICE} per service (approximate).",
    )
    return cost.Report(tuple(estimates), tuple(events), a, notes)


def refresh(
    args: argparse.Namespace, client: PricingClient, today: str, pricing_dir: Path = pricing.PRICING_DIR
) -> str:
    """Refresh the region's price file with ``client`` (a ``pricing`` client); returns the summary."""
    book = pricing.load(args.region, pricing_dir)
    try:
        result = pricing.refresh(client, book, today)
    except pricing.NotAPriceList as exc:
        raise pricing.PricingError(f"--refresh-prices: {exc}; pricing/{args.region}.json is unchanged") from None
    pricing.price_file(args.region, pricing_dir).write_text(pricing.dump(result.book))
    kept = "".join(f"\n  kept {key}: {why}" for key, why in result.kept)
    return (
        f"pricing/{args.region}.json: {len(result.updated)} prices refreshed from the Price List API on {today}{kept}\n"
    )


# A refresh is a rare manual step: the SDKs' standard retry mode and its 3 attempts
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), not the 10 adaptive attempts of
# the deploy clients, which retried an endpoint's HTTP 500 for about 30 s before saying so; and a read timeout
# (botocore's default is 60 s: https://docs.aws.amazon.com/botocore/latest/reference/config.html).
PRICE_LIST_ATTEMPTS = 3  # in all, the first included (botocore: total_max_attempts)
PRICE_LIST_READ_TIMEOUT = 20


def _pricing_client(args: argparse.Namespace) -> PricingClient:
    from botocore.config import Config

    session = aws.make_session(pricing.PRICE_LIST_REGION, args.profile)
    bounded = Config(
        retries={"mode": "standard", "total_max_attempts": PRICE_LIST_ATTEMPTS}, read_timeout=PRICE_LIST_READ_TIMEOUT
    )
    return aws.FailFast().attach(session.client("pricing", config=aws.client_config().merge(bounded)))


def no_price_list(region: str, where: str) -> str:
    """The one line refusing a refresh from the emulator (``where``: how it was named)."""
    return (
        f"--refresh-prices: the local emulator ({where}) has no Price List API; the estimate uses the dated price "
        f"file pricing/{region}.json, unchanged (refresh it against AWS: no --local, no AWS_ENDPOINT_URL)"
    )


def _region(value: str) -> str:
    """A region name: it names the price file read (and written by --refresh-prices), so never a path."""
    if not pricing.is_region(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region: use a name such as {aws.DEFAULT_REGION}")
    return value


def _amount(value: str) -> float:
    """A usage figure: a finite number, 0 or more (nan or inf would print a total of nan, and invalid JSON)."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"{value}: must be zero or more (a finite number)")
    return number


def _count(value: str) -> int:
    """A count (ALB nodes, users): a whole number, never silently truncated (1.5 is not 1)."""
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{value}: must be zero or more (a whole number)")
    return int(value)


def _positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        hours = float("nan")
    if not hours > 0 or hours == float("inf"):
        raise argparse.ArgumentTypeError(f"{value}: must be a number of hours more than 0")
    return hours


def report(
    args: argparse.Namespace,
    params_dir: Path,
    out: IO[str],
    err: IO[str],
    make_client: Callable[[argparse.Namespace], PricingClient] = _pricing_client,
    today: Callable[[], str] = lambda: dt.date.today().isoformat(),
) -> int:
    """Run ``cost`` for parsed ``args``: print the report (or refresh the prices). Errors are raised
    (named errors, botocore errors) for the CLI to turn into one line and an exit code."""
    if args.refresh_prices:
        if getattr(args, "local", False):
            raise BadInput(no_price_list(args.region, "--local"))
        client = make_client(args)  # no request yet: where it would go is known (AWS_ENDPOINT_URL included)
        if aws.on_loopback(client.meta.endpoint_url):
            raise BadInput(no_price_list(args.region, client.meta.endpoint_url))
        err.write(refresh(args, client, today()))
        return EXIT_OK
    report = build_report(args, params_dir)
    out.write(costreport.to_json(report) if args.json else costreport.text(report))
    return EXIT_OK


def run(ctx: Context) -> int:
    return report(ctx.args, ctx.project.params_dir, ctx.out or sys.stdout, sys.stderr, _pricing_client)


COMMAND = Command("cost", "local", "offline monthly and event cost estimate per environment", run, (), arguments)
