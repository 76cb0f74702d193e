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
from cylink_deploy.errors import EXIT_OK
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
    result = pricing.refresh(client, book, today)
    pricing.price_file(args.region, pricing_dir).write_text(pricing.dump(result.book))
    kept = "".join(f"\n  kept {key}: {why}" for key, why in result.kept)
    return (
        f"pricing/{args.region}.json: {len(result.updated)} prices refreshed from the Price List API on {today}{kept}\n"
    )


def _pricing_client(args: argparse.Namespace) -> PricingClient:
    session = aws.make_session(pricing.PRICE_LIST_REGION, args.profile)
    return aws.FailFast().attach(session.client("pricing", config=aws.client_config()))  # as make_clients does


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
        err.write(refresh(args, make_client(args), today()))
        return EXIT_OK
    report = build_report(args, params_dir)
    out.write(costreport.to_json(report) if args.json else costreport.text(report))
    return EXIT_OK


def run(ctx: Context) -> int:
    return report(ctx.args, ctx.project.params_dir, ctx.out or sys.stdout, sys.stderr, _pricing_client)


COMMAND = Command("cost", "local", "offline monthly and event cost estimate per environment", run, (), arguments)
