"""Formatters for the cost estimate: a human table (beside the guide's own table) and JSON.

Pure functions from ``cost.Report`` to text; the CLI decides where the text goes.
"""

from __future__ import annotations

import io
from dataclasses import fields
from typing import Any

from rich.table import Table
from rich.text import Text

from cylink_deploy import documents
from cylink_deploy.output.human import console
from cylink_deploy.cost.model import (
    ASSUMPTION_HELP,
    GUIDE_EVENT_USD,
    GUIDE_TABLE,
    GUIDE_TOTAL,
    Estimate,
    EventEstimate,
    LineItem,
    Report,
    grouped,
)

# Why this estimate's figure for a guide line differs from the guide's.
GUIDE_LINE_WHY = {
    "Backend": (
        "Tokyo Fargate prices (the guide's figures are US East's); base 1 task on FARGATE, the rest weighted to "
        "FARGATE_SPOT"
    ),
    "Frontend": "as Backend",
    "Redis": (
        "one cache.t3.medium at Tokyo's price (derived; the guide's ~$60 matches no region); replicas are listed below"
    ),
    "ALB": "ALB hours plus the stated LCUs (its public IPv4 addresses are listed below)",
    "Route 53": "one hosted zone; alias queries to the ALB are free",
    "Data transfer": "the stated GB out at the guide's own $0.114/GB",
}


def _money(usd: float) -> str:
    return f"{usd:,.2f}"


def _qty(q: float) -> str:
    return f"{q:,.0f}" if q >= 100 else f"{q:,.3g}"


def _ordered(items: tuple[LineItem, ...]) -> list[LineItem]:
    """The guide's lines first in the guide's order, then the rest by cost."""
    order = {name: i for i, (name, _) in enumerate(GUIDE_TABLE)}
    return sorted(items, key=lambda i: (order.get(i.guide or "", len(order)), -i.usd, i.item))


def guide_comparison(e: Estimate) -> list[dict[str, Any]]:
    """One row per guide line, then what the guide left out, then the totals."""
    ours = e.by_guide_line()
    rows: list[dict[str, Any]] = []
    for name, guide_usd in GUIDE_TABLE:
        usd = ours.get(name, 0.0)
        rows.append(
            {
                "line": name,
                "guideUsd": guide_usd,
                "estimateUsd": usd,
                "differenceUsd": None if guide_usd is None else usd - guide_usd,
                "why": GUIDE_LINE_WHY[name],
            }
        )
    rows.append(
        {
            "line": "Not in the guide",
            "guideUsd": 0.0,
            "estimateUsd": ours.get(None, 0.0),
            "differenceUsd": ours.get(None, 0.0),
            "why": "the line items marked 'no' (by reason below)",
        }
    )
    return rows


def not_in_guide(e: Estimate) -> list[tuple[str, float]]:
    """The cost of each reason the templates differ from the guide, largest first."""
    out: dict[str, float] = {}
    for i in e.items:
        if i.guide is None:
            out[i.why] = out.get(i.why, 0.0) + i.usd
    return sorted(out.items(), key=lambda kv: -kv[1])


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    """``rows`` (the first is the header) as aligned lines, indented two spaces, two between columns, the
    ``right`` ones right-aligned: measured by rich as a terminal shows them (a Japanese cell is two columns a
    character), never cut, no trailing spaces."""
    grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 0, 0, 2))
    for c in range(len(rows[0])):
        grid.add_column(justify="right" if c in right else "left", no_wrap=True)  # (overflow="ignore" drops justify)
    for r in rows:
        grid.add_row(*(Text(cell) for cell in r))
    buffer = io.StringIO()
    console(buffer, color=False).print(grid)
    return ["  " + line.rstrip() for line in buffer.getvalue().splitlines()]


def estimate_text(e: Estimate) -> list[str]:
    lines = [
        f"== {e.env} ({e.region}): monthly estimate, USD (prices: pricing/{e.region}.json, updated {e.prices_updated})"
    ]
    rows = [["Line item", "Quantity", "Unit", "Unit price", "USD/month", "In the guide?"]]
    for i in _ordered(grouped(e.items)):
        rows.append(
            [
                i.item,
                _qty(i.quantity),
                i.unit,
                f"{i.unit_price:.6g}",
                _money(i.usd),
                f"yes ({i.guide})" if i.guide else "no",
            ]
        )
    rows.append(["Total", "", "", "", _money(e.total), ""])
    lines += _table(rows, {1, 3, 4})
    lines.append("")
    lines.append("  Beside the guide's table (its figures; 'variable' it did not price):")
    crow = [["Guide line", "Guide", "Estimate", "Difference", "Why"]]
    for r in guide_comparison(e):
        g = "variable" if r["guideUsd"] is None else _money(r["guideUsd"])
        d = "" if r["differenceUsd"] is None else f"{r['differenceUsd']:+,.2f}"
        crow.append([r["line"], g, _money(r["estimateUsd"]), d, r["why"]])
    crow.append(["Total", f"{GUIDE_TOTAL[0]:.0f}-{GUIDE_TOTAL[1]:.0f}", _money(e.total), "", ""])
    lines += _table(crow, {1, 2, 3})
    lines.append("")
    lines.append("  What the guide's estimate left out, by reason:")
    lines += _table([[_money(usd), why] for why, usd in not_in_guide(e)], {0})
    for note in e.priced_as:
        lines.append(f"  Priced as: {note}")
    if e.unconfirmed_prices:
        lines.append(
            f"  Unconfirmed prices used (see their notes in the price file): {', '.join(e.unconfirmed_prices)}"
        )
    return lines


def event_text(ev: EventEstimate) -> list[str]:
    moves = ", ".join(f"{svc} {lo} -> {hi}" for svc, (lo, hi) in ev.tasks.items())
    lines = [f"== {ev.env}: event of {ev.hours:g} h ({moves} tasks), USD on top of the month"]
    rows = [["Line item", "Quantity", "Unit", "Unit price", "USD"]]
    for i in grouped(ev.items):
        rows.append([i.item, _qty(i.quantity), i.unit, f"{i.unit_price:.6g}", f"{i.usd:,.3f}"])
    rows.append(["Total", "", "", "", f"{ev.total:,.3f}"])
    lines += _table(rows, {1, 3, 4})
    lines.append(
        f"  Extra tasks alone: ${ev.fargate:,.2f} (the guide: about ${GUIDE_EVENT_USD:.2f} for 10 backend tasks for "
        "3 hours)"
    )
    return lines


def assumptions_text(report: Report) -> list[str]:
    a = report.assumptions
    lines = ["Assumptions (override with the flags shown; the same for every environment):"]
    for f in fields(a):
        lines.append(f"  --{f.name.replace('_', '-')} {getattr(a, f.name):g}: {ASSUMPTION_HELP[f.name]}")
    lines += [f"  {n}" for n in report.notes]
    return lines


def text(report: Report) -> str:
    out: list[str] = []
    for e in report.estimates:
        out += estimate_text(e) + [""]
    for ev in report.events:
        out += event_text(ev) + [""]
    out += assumptions_text(report)
    return "\n".join(out) + "\n"


# The --json document's precision. Every figure is computed unrounded (totals are sums of unrounded lines) and
# rounded once, here, by what it is: unit prices to the price files' own precision, quantities to 6 places, a
# line's (or a group of lines') USD to 4 (an event's small lines are fractions of a cent), totals to cents. So the
# items add up to their total within rounding, and no float noise (0.009527709999999998) reaches a program.
UNIT_PRICE_PLACES = 10  # as pricing.refresh stores them
QUANTITY_PLACES = 6
AMOUNT_PLACES = 4
TOTAL_PLACES = 2
TOTALS = ("total", "fargate")  # total_usd, and the event's fargate_usd (its Fargate subtotal)


def _places(key: str) -> int | None:
    """How many decimal places the figure under ``key`` keeps (any spelling: ``unit_price``, ``unitPrice``)."""
    name = key.replace("_", "").lower()
    if name == "unitprice":
        return UNIT_PRICE_PLACES
    if name == "quantity":
        return QUANTITY_PLACES
    if name.endswith("usd"):
        return TOTAL_PLACES if name.startswith(TOTALS) else AMOUNT_PLACES
    return None


def rounded(value: Any, places: int | None = None) -> Any:
    """``value`` (a document, or part of one) with each money figure and quantity rounded as ``_places`` says;
    everything else (assumptions as given, the guide's figures) as it is."""
    if isinstance(value, dict):
        return {k: rounded(v, _places(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, places) for v in value]
    if isinstance(value, float) and places is not None:
        return round(value, places) + 0.0  # + 0.0: never -0.0
    return value


def _item(i: LineItem) -> dict[str, Any]:
    return {**documents.fields(i), "usd": i.usd}


def to_json(report: Report) -> str:
    doc = {
        "assumptions": documents.fields(report.assumptions),
        "notes": list(report.notes),
        "guide": {"table": dict(GUIDE_TABLE), "total": list(GUIDE_TOTAL), "eventUsd": GUIDE_EVENT_USD},
        "estimates": [
            {
                "environment": e.env,
                "region": e.region,
                "totalUsd": e.total,
                "items": [_item(i) for i in _ordered(e.items)],
                "guideComparison": guide_comparison(e),
                "notInGuide": [{"why": why, "usd": usd} for why, usd in not_in_guide(e)],
                "free": list(e.free),
                "pricesUpdated": e.prices_updated,
                "unconfirmedPrices": list(e.unconfirmed_prices),
                "pricedAs": list(e.priced_as),
            }
            for e in report.estimates
        ],
        "events": [
            {
                "environment": ev.env,
                "hours": ev.hours,
                "tasks": {k: {"from": v[0], "to": v[1]} for k, v in ev.tasks.items()},
                "items": [_item(i) for i in ev.items],
                "totalUsd": ev.total,
                "fargateUsd": ev.fargate,
            }
            for ev in report.events
        ],
    }
    return documents.dumps(rounded(doc))
