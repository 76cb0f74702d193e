"""The cost estimate: hand-computed figures, the environments' order, what each toggle adds, every
resource type priced or declared free, prices read from the dated file, and the Price List refresh
(botocore Stubber, responses shaped like the GetProducts reference)."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy import cli
from cylink_deploy.commands import cost as costcmd
from cylink_deploy.cost import model as cost
from cylink_deploy.cost import pricing
from cylink_deploy.errors import EXIT_AWS_ACCESS, EXIT_BAD_INPUT, BadInput
from cylink_deploy.output import cost as costreport
from cylink_deploy.preflight.resolve import ResolvedStack, pseudo_parameters, resolve_template
from templates_src import render

from . import stubbed
from .docspages import page

REPO = Path(__file__).resolve().parent.parent
PARAMS = REPO / "params"
TOKYO = pricing.load("ap-northeast-1")
A = cost.Assumptions()


def stacks_for(env: str, **overrides: str) -> dict[str, ResolvedStack]:
    return cost.env_stacks(env, PARAMS, "ap-northeast-1", overrides)[0]


def estimate(env: str, book: pricing.PriceBook = TOKYO, **overrides: str) -> cost.Estimate:
    return cost.estimate(env, stacks_for(env, **overrides), book, A)


def bag(e: cost.Estimate) -> Counter[tuple[str, str, float, str]]:
    return Counter((i.item, i.resource, round(i.quantity, 9), i.price_key) for i in e.items)


# -- a small template, computed by hand ----------------------------------------------------------------

SMALL = {
    "Resources": {
        "Td": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Cpu": "512", "Memory": "1024"}},
        "BackendService": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "DesiredCount": 2,
                "TaskDefinition": {"Ref": "Td"},
                "CapacityProviderStrategy": [
                    {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                    {"CapacityProvider": "FARGATE_SPOT", "Weight": "4"},
                ],
            },
        },
        "Redis": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {"NumCacheClusters": "1", "CacheNodeType": "cache.t3.micro", "SnapshotRetentionLimit": 1},
        },
        "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
        "Nat": {
            "Type": "AWS::EC2::NatGateway",
            "Properties": {"AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]}},
        },
    }
}


def small_stacks(template: dict[str, Any] = SMALL) -> dict[str, ResolvedStack]:
    resolved, conditions, values = resolve_template(template, {}, pseudo_parameters("ap-northeast-1"))
    return {"small": ResolvedStack("Small", "small", "small.json", values, conditions, resolved)}


def test_two_tasks_one_node_one_nat_match_the_hand_computation_to_the_cent() -> None:
    e = cost.estimate("small", small_stacks(), TOKYO, A)
    # Tasks: base 1 on FARGATE; the second goes by weight 1:4 -> FARGATE_SPOT.
    on_demand = 730 * (0.5 * 0.05056 + 1 * 0.00553)  # 22.4913
    spot = 730 * (0.5 * 0.01563522 + 1 * 0.0017101)  # 6.9552283
    redis = 730 * 0.026  # 18.98, one node: no replica; one snapshot kept: free
    nat = 730 * 0.062 + 10 * 0.062  # 45.26 hours + 0.62 for the assumed 10 GB
    eip = 730 * 0.005  # 3.65
    assert round(e.total, 2) == round(on_demand + spot + redis + nat + eip, 2) == 97.96
    assert {i.price_key: round(i.usd, 2) for i in e.items} == {
        "fargate_vcpu_hour+fargate_gb_hour": 22.49,
        "fargate_spot_vcpu_hour+fargate_spot_gb_hour": 6.96,
        "elasticache_node_hour:cache.t3.micro": 18.98,
        "nat_hour": 45.26,
        "nat_gb": 0.62,
        "public_ipv4_hour": 3.65,
    }
    assert [i.guide for i in e.items if i.price_key.startswith("fargate")] == ["Backend", "Backend"]


@pytest.mark.parametrize(
    ("count", "strategy", "expected"),
    [
        (
            1,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
            ],
            (1, 0),
        ),
        (
            2,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
            ],
            (1, 1),
        ),
        (
            3,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
            ],
            (1, 2),
        ),
        (
            10,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
            ],
            (3, 7),
        ),
        (
            2,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
            ],
            (2, 0),
        ),
        (
            10,
            [
                {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 0},
            ],
            (10, 0),
        ),
        (3, [{"CapacityProvider": "FARGATE", "Weight": 1}], (3, 0)),
    ],
)
def test_tasks_split_by_base_then_weight(count: int, strategy: list[dict[str, Any]], expected: tuple[int, int]) -> None:
    assert cost.split_tasks(count, strategy) == expected


# -- the environments ------------------------------------------------------------------------------------


def test_dev_staging_prod_cost_in_that_order_and_prod_exceeds_the_guides_range() -> None:
    totals = [estimate(env).total for env in ("dev", "staging", "prod")]
    assert totals == sorted(totals) and len(set(totals)) == 3
    assert totals[2] > cost.GUIDE_TOTAL[1]


def changed(before: cost.Estimate, after: cost.Estimate) -> tuple[set[str], set[str]]:
    """Price keys of the items only in ``before`` / only in ``after``."""
    b, a = bag(before), bag(after)
    return {k[3] for k in b - a}, {k[3] for k in a - b}


def test_waf_toggle_changes_exactly_the_waf_lines() -> None:
    on, off = estimate("prod"), estimate("prod", WafEnabled="false")
    removed, added = changed(on, off)
    assert added == set()
    assert removed == {
        "waf_acl_month",
        "waf_rule_month",
        "waf_million_requests",
        "logs_vended_gb",
        "logs_storage_gb_month",
        "cw_alarm_month",
    }
    gone = bag(on) - bag(off)
    assert all("WAF" in item or resource == "MonitoringStack/WafBlockedRequestsAlarm" for item, resource, *_ in gone), (
        gone
    )
    waf_logs = sum(i.usd for i in on.items if i.item.startswith("WAF logs: storage"))
    assert round(on.total - off.total, 2) == round(
        5 + 4 + 3 * 0.60 + 4.5 * 0.76 + waf_logs + 0.10, 2
    )  # + the blocked-requests alarm


def test_egress_mode_toggle_changes_exactly_the_nat_lines() -> None:
    per_az, single = estimate("prod"), estimate("prod", EgressMode="single-nat")
    removed, added = changed(per_az, single)
    assert removed == {"nat_hour", "nat_gb", "public_ipv4_hour", "cw_alarm_month"} and added == {"nat_gb"}
    assert {k[1] for k in bag(per_az) - bag(single)} == {
        "NetworkStack/NatGateway1",
        "NetworkStack/NatGateway2",
        "NetworkStack/NatEip2",
        "MonitoringStack/NatGateway2PortAllocationAlarm",
        "MonitoringStack/NatGateway2PacketsDroppedAlarm",
    }
    nat_ids = lambda e: sorted(i.resource for i in e.items if i.price_key == "nat_hour")  # noqa: E731
    assert nat_ids(per_az) == ["NetworkStack/NatGateway1", "NetworkStack/NatGateway2"]
    assert nat_ids(single) == ["NetworkStack/NatGateway1"]
    assert round(per_az.total - single.total, 2) == round(
        730 * 0.062 + 730 * 0.005 + 2 * 0.10, 2
    )  # + the second NAT's two alarms; NAT data is the same


def test_no_nat_in_dev_swaps_nat_for_task_public_ips() -> None:
    none, nat = estimate("dev"), estimate("dev", EgressMode="single-nat")
    removed, added = changed(none, nat)
    assert removed == {"public_ipv4_hour"} and added == {
        "nat_hour",
        "nat_gb",
        "public_ipv4_hour",
        "cw_alarm_month",
    }  # + the NAT alarms
    assert {i.item for i in none.items if "task public IPv4" in i.item} == {
        "Backend task public IPv4 x1",
        "Frontend task public IPv4 x1",
    }
    assert not [i for i in nat.items if "task public IPv4" in i.item]


def test_redis_node_count_toggle_changes_exactly_the_replica_line() -> None:
    two, one = estimate("staging"), estimate("staging", RedisNodeCount="1")
    assert bag(two) - bag(one) == Counter(
        {
            (
                "Redis replica (cache.t3.medium) x1",
                "CacheStack/RedisReplicationGroup",
                730.0,
                "elasticache_node_hour:cache.t3.medium",
            ): 1
        }
    )
    assert not bag(one) - bag(two)


# -- coverage: every resource type has a rule or a reason ----------------------------------------------


def test_every_resource_type_in_the_built_templates_is_priced_or_free() -> None:
    types = {r["Type"] for text in render.render().values() for r in json.loads(text)["Resources"].values()}
    assert not types - set(cost.RULES) - set(cost.FREE), "add a pricing rule or a FREE reason"
    assert not set(cost.RULES) & set(cost.FREE)


def test_a_resource_type_without_a_rule_fails_the_estimate() -> None:
    template = json.loads(json.dumps(SMALL))
    template["Resources"]["Db"] = {"Type": "AWS::RDS::DBInstance", "Properties": {}}
    with pytest.raises(cost.CostError, match="no pricing rule for AWS::RDS::DBInstance"):
        cost.estimate("small", small_stacks(template), TOKYO, A)


# -- prices come from the dated file ---------------------------------------------------------------------


@pytest.mark.parametrize("region", ["ap-northeast-1", "ap-northeast-3"])
def test_price_files_hold_every_catalog_price_with_source_and_date(region: str) -> None:
    book = pricing.load(region)
    assert set(book.prices) == set(pricing.CATALOG)
    for key, p in book.prices.items():
        assert p.source and p.as_of[:2] == "20" and p.usd > 0, key
        assert p.confirmed or p.note, f"{key}: an unconfirmed price says why"
    assert f"- {region}" in (REPO / ".taskcat.yml").read_text()


def test_the_estimate_reads_its_prices_from_the_file(tmp_path: Path) -> None:
    shutil.copy(pricing.price_file("ap-northeast-1"), tmp_path / "ap-northeast-1.json")
    doc = json.loads((tmp_path / "ap-northeast-1.json").read_text())
    doc["prices"]["alb_hour"]["usd"] = 1.0
    (tmp_path / "ap-northeast-1.json").write_text(json.dumps(doc))
    e = estimate("prod", pricing.load("ap-northeast-1", tmp_path))
    assert [round(i.usd, 2) for i in e.items if i.price_key == "alb_hour"] == [730.0]
    with pytest.raises(BadInput, match="no price file for region eu-west-1.*ap-northeast-1"):
        pricing.load("eu-west-1", tmp_path)


def test_the_guides_fargate_lines_are_us_east_prices() -> None:
    us = TOKYO.cross_check["us-east-1"]
    backend = 2 * 730 * (0.5 * us["fargate_vcpu_hour"] + 1 * us["fargate_gb_hour"])
    frontend = 2 * 730 * (0.25 * us["fargate_vcpu_hour"] + 0.5 * us["fargate_gb_hour"])
    assert (round(backend), round(frontend)) == (36, 18)  # the guide: ~$35 and ~$18


# -- the event -------------------------------------------------------------------------------------------


def test_the_guides_event_recomputed_backend_2_to_10_for_3_hours() -> None:
    ev = cost.event_estimate("prod", stacks_for("prod"), TOKYO, A, hours=3)
    assert ev.tasks == {"Backend": (2, 10), "Frontend": (2, 2)}
    # 10 tasks: 3 on FARGATE, 7 on Spot; 2 tasks: 1 and 1 -> +2 on-demand, +6 Spot for 3 hours.
    expected = 3 * (2 * (0.5 * 0.05056 + 0.00553) + 6 * (0.5 * 0.01563522 + 0.0017101))
    assert round(ev.fargate, 2) == round(expected, 2) == 0.36
    assert ev.total > ev.fargate  # traffic on top: LCUs, data out, WAF requests


def test_event_tasks_outside_the_scaling_range_are_refused() -> None:
    with pytest.raises(BadInput, match="outside its scaling range 2-10"):
        cost.event_estimate("prod", stacks_for("prod"), TOKYO, A, tasks={"Backend": 11})


# -- output and CLI --------------------------------------------------------------------------------------


def test_the_table_sets_the_guides_lines_beside_the_estimate() -> None:
    e = estimate("prod")
    rows = {r["line"]: r for r in costreport.guide_comparison(e)}
    assert rows["Backend"]["guideUsd"] == 35.0 and rows["Data transfer"]["guideUsd"] is None
    assert round(sum(r["estimateUsd"] for r in rows.values()), 6) == round(e.total, 6)
    text = costreport.estimate_text(e)
    assert any("NAT egress" in line for line in text) and any(line.strip().startswith("Total") for line in text)


def test_identical_line_items_are_one_line_with_their_quantity_and_json_keeps_one_per_resource() -> None:
    """18 alarms once printed as 18 'CloudWatch alarm' lines: the table groups what is the same thing at the same
    price; the JSON keeps the per-resource items (what a program totals by resource)."""
    e = estimate("prod")
    alarms = [i for i in e.items if i.item == "CloudWatch alarm"]
    assert len(alarms) > 1 and len({i.resource for i in alarms}) == len(alarms)
    text = costreport.estimate_text(e)
    (line,) = [row for row in text if row.strip().startswith("CloudWatch alarm ")]
    assert line.split()[2:4] == [str(len(alarms)), "alarm-month"]
    (policies,) = [row for row in text if row.strip().startswith("Target-tracking scaling alarms ")]
    scaling = sum(i.quantity for i in e.items if i.item == "Target-tracking scaling alarms")
    assert policies.split()[3] == f"{scaling:g}" and scaling > cost.TARGET_TRACKING_ALARMS
    assert sum(i.usd for i in cost.grouped(e.items)) == pytest.approx(e.total)
    doc = json.loads(costreport.to_json(cost.Report((e,), (), A)))
    assert sum(i["item"] == "CloudWatch alarm" for i in doc["estimates"][0]["items"]) == len(alarms)


def _pick(doc: dict[str, Any], name: str) -> Any:
    """A key of a --json document whatever its spelling (``total_usd`` or ``totalUsd``)."""
    return next(v for k, v in doc.items() if k.replace("_", "").lower() == name.replace("_", "").lower())


def test_the_json_rounds_money_to_its_stated_places_and_the_items_still_add_up() -> None:
    """Once a unit price of 0.009527709999999998 and a usd of 6.955228299999999 (float noise): unit prices keep the
    price files' 10 places, a line's USD 4, totals 2; each rounded from the unrounded figure."""
    estimates = tuple(estimate(env) for env in ("dev", "staging", "prod"))
    events = tuple(cost.event_estimate(env, stacks_for(env), TOKYO, A) for env in ("dev", "prod"))
    text = costreport.to_json(cost.Report(estimates, events, A))
    assert not re.search(r"\.\d*(0{6}|9{6})\d", text), "float noise in the JSON"
    doc = json.loads(text)
    spot = [_pick(i, "unit_price") for e in doc["estimates"] for i in e["items"] if "FARGATE_SPOT" in i["item"]]
    assert 0.00952771 in spot  # 0.5 vCPU x 0.01563522 + 1 GB x 0.0017101
    for e, shown in zip(estimates + events, doc["estimates"] + doc["events"], strict=True):
        total, items = _pick(shown, "total_usd"), shown["items"]
        assert total == round(e.total, 2)
        assert abs(sum(_pick(i, "usd") for i in items) - total) <= 0.005 + len(items) * 0.00005
        assert all(round(_pick(i, "usd"), 4) == _pick(i, "usd") for i in items)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``deploy.py cost ARGS`` through the real CLI: (exit code, stdout, stderr)."""
    monkeypatch.setattr(costcmd, "_pricing_client", lambda args: pytest.fail("the estimate must not call AWS"))

    def run(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        code = cli.main(["cost", *argv], out=out)
        return code, out.getvalue(), capsys.readouterr().err

    return run


def test_cost_prints_every_environment_and_the_event_offline(run_cli: Any) -> None:
    code, out, _ = run_cli("--json", "--alb-lcu", "2")
    doc = json.loads(out)
    assert code == 0 and [e["environment"] for e in doc["estimates"]] == ["dev", "staging", "prod"]
    assert [e["environment"] for e in doc["events"]] == ["dev", "staging", "prod"]
    assert doc["assumptions"]["albLcu"] == 2.0
    prod = doc["estimates"][2]
    assert round(prod["totalUsd"], 2) == round(
        cost.estimate("prod", stacks_for("prod"), TOKYO, cost.assumptions_with({"alb_lcu": 2})).total, 2
    )


def test_an_environment_given_twice_is_estimated_once_in_the_order_first_given(run_cli: Any) -> None:
    code, out, _ = run_cli("--json", "--env", "prod", "--env", "dev", "--env", "prod")
    doc = json.loads(out)
    assert code == 0
    for part in ("estimates", "events"):
        assert [e.get("env", e.get("environment")) for e in doc[part]] == ["prod", "dev"]
    code, out, _ = run_cli("--env", "dev", "--env", "dev")
    assert code == 0 and out.count("== dev (") == 1 and out.count("== dev: event") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--env", "nope"), "no parameter file"),
        (("--alb-lcu", "-1"), "must be zero or more"),
        (("--region", "eu-west-1"), "no price file"),
        (("--event-hours", "nan"), "must be a number of hours more than 0"),
    ],
)
def test_bad_flags_are_one_line_errors(run_cli: Any, argv: tuple[str, ...], message: str) -> None:
    code, out, err = run_cli(*argv)
    assert code == EXIT_BAD_INPUT and message in err and err.count("\n") == 1 and not out


# -- refresh from the Price List API (Stubber) -------------------------------------------------------------


def price_doc(usagetype: str, *tiers: tuple[str, str]) -> str:
    """A PriceList entry as GetProducts returns it (a JSON string)."""
    dims = {
        f"SKU.OT.RC{n}": {
            "rateCode": f"SKU.OT.RC{n}",
            "unit": "Hrs",
            "beginRange": begin,
            "endRange": "Inf",
            "pricePerUnit": {"USD": usd},
            "description": "",
        }
        for n, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {
                "sku": "SKU",
                "productFamily": "x",
                "attributes": {"usagetype": usagetype, "regionCode": "ap-northeast-1"},
            },
            "serviceCode": "x",
            "terms": {
                "OnDemand": {
                    "SKU.OT": {
                        "offerTermCode": "OT",
                        "sku": "SKU",
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "priceDimensions": dims,
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def test_refresh_rewrites_queried_prices_and_keeps_the_rest(tmp_path: Path) -> None:
    shutil.copy(pricing.price_file("ap-northeast-1"), tmp_path / "ap-northeast-1.json")
    client = stubbed.SESSION.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    for key in sorted(pricing.CATALOG):
        spec = pricing.CATALOG[key]
        if spec.service is None:
            continue
        filters = pricing.filters_for(spec, "ap-northeast-1")
        usagetype = filters[0]["Value"]
        if key == "alb_hour":
            items = [price_doc(usagetype, ("0", "0.0250000000"))]
        elif key == "data_out_gb":
            items = [price_doc(usagetype, ("10240", "0.0890000000"), ("0", "0.0000000000"), ("1", "0.1140000000"))]
        elif key == "waf_million_requests":
            items = [price_doc(usagetype, ("0", "0.0000006000"))]
        elif key == "ecr_gb_month":
            items = []
        elif key == "nat_gb":
            items = [price_doc(usagetype, ("0", "0.062")), price_doc(usagetype, ("0", "0.07"))]
        else:
            items = [price_doc(usagetype, ("0", str(TOKYO[key].usd / spec.per)))]
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": items},
            {"ServiceCode": spec.service, "Filters": filters, "FormatVersion": "aws_v1"},
        )
    args = argparse.Namespace(region="ap-northeast-1")
    with stub:
        summary = costcmd.refresh(args, client, "2026-12-01", tmp_path)
    stub.assert_no_pending_responses()
    book = pricing.load("ap-northeast-1", tmp_path)
    assert (book["alb_hour"].usd, book["alb_hour"].as_of, book["alb_hour"].confirmed) == (0.025, "2026-12-01", True)
    assert "Price List API" in book["alb_hour"].source and book.updated == "2026-12-01"
    assert book["data_out_gb"].usd == 0.114  # the first non-zero tier
    assert book["waf_million_requests"].usd == 0.6  # per request x 1,000,000
    assert book["ecr_gb_month"] == TOKYO["ecr_gb_month"] and book["nat_gb"] == TOKYO["nat_gb"]
    assert book["fargate_spot_vcpu_hour"] == TOKYO["fargate_spot_vcpu_hour"]
    assert "kept ecr_gb_month: no product matched" in summary and "kept nat_gb: ambiguous: 2 prices matched" in summary
    assert "kept fargate_spot_gb_hour: not in the Price List API" in summary


def test_refresh_without_credentials_is_an_access_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import botocore.exceptions as bex

    def no_credentials(args: argparse.Namespace) -> Any:
        raise bex.NoCredentialsError()

    monkeypatch.setattr(costcmd, "_pricing_client", no_credentials)
    code = cli.main(["cost", "--refresh-prices"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == EXIT_AWS_ACCESS and "no AWS credentials" in err and err.count("\n") == 1


@pytest.fixture
def real_client_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Credentials to sign with and no endpoint override: the pricing client as ``cost`` makes it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_PRICING", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    return monkeypatch


@pytest.mark.parametrize(
    ("argv", "endpoint"), [(("--local",), None), ((), "http://127.0.0.1:9"), ((), "http://localhost:9")]
)
def test_refresh_against_the_emulator_is_refused_up_front(
    real_client_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    endpoint: str | None,
) -> None:
    """The emulator has no Price List API: refused before any request (once 33 s of retries and an HTML page)."""
    if endpoint:
        real_client_env.setenv("AWS_ENDPOINT_URL", endpoint)
    before = pricing.price_file("ap-northeast-1").read_bytes()
    code = cli.main(["cost", "--refresh-prices", *argv], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1, err
    assert "has no Price List API" in err and "pricing/ap-northeast-1.json" in err and (endpoint or "--local") in err
    assert pricing.price_file("ap-northeast-1").read_bytes() == before


HTML_500 = b"<!doctype html><html><title>500 Internal Server Error</title><h1>Internal Server Error</h1></html>"


def test_an_endpoint_answering_an_html_error_is_one_line_after_three_attempts_and_the_file_is_kept(
    real_client_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint that answers HTTP 500 with a page, not an AWS error: three attempts (the deploy clients' ten
    adaptive ones took about 30 s), then one line naming the status, never the page; the price file untouched."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    attempts = []

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield HTML_500

    def answer_500(request: Any, **_: Any) -> Any:
        attempts.append(request.url)
        headers = HTTPHeaders()
        headers["Content-Type"] = "text/html"
        return AWSResponse(request.url, 500, headers, Raw())

    made = costcmd._pricing_client

    def client(args: argparse.Namespace) -> Any:
        c = made(args)
        c.meta.events.register("before-send.pricing.GetProducts", answer_500)
        return c

    real_client_env.setattr(costcmd, "_pricing_client", client)
    real_client_env.setattr("botocore.endpoint.time.sleep", lambda seconds: None)  # the backoff between attempts
    before = pricing.price_file("ap-northeast-1").read_bytes()
    code = cli.main(["cost", "--refresh-prices"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "<" not in err, err
    assert "answered HTTP 500" in err and "pricing/ap-northeast-1.json is unchanged" in err
    assert len(attempts) == costcmd.PRICE_LIST_ATTEMPTS == 3
    assert pricing.price_file("ap-northeast-1").read_bytes() == before


@pytest.mark.parametrize(
    ("items", "said"), [(["<html>not json</html>"], "is not JSON"), ([], "no price matched any of")]
)
def test_a_price_list_that_is_not_one_leaves_the_file_as_it_was(tmp_path: Path, items: list[str], said: str) -> None:
    """Entries that are not JSON, or nothing matched at all (an endpoint answering 200 with a page: botocore reads
    no PriceList): one line, and the file keeps its prices and its date."""
    shutil.copy(pricing.price_file("ap-northeast-1"), tmp_path / "ap-northeast-1.json")
    before = (tmp_path / "ap-northeast-1.json").read_bytes()
    client = stubbed.SESSION.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        for _ in [k for k in pricing.CATALOG if pricing.CATALOG[k].service]:
            stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": items})
        with pytest.raises(pricing.PricingError) as failed:
            costcmd.refresh(argparse.Namespace(region="ap-northeast-1"), client, "2026-12-01", tmp_path)
    assert said in str(failed.value) and "pricing/ap-northeast-1.json is unchanged" in str(failed.value)
    assert "\n" not in str(failed.value) and (tmp_path / "ap-northeast-1.json").read_bytes() == before


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_cost_page_shows_the_current_estimate(lang: str) -> None:
    section = page("cost", lang)
    for env in ("dev", "staging", "prod"):
        assert f"**{estimate(env).total:.2f}**" in section, env
    ev = cost.event_estimate("prod", stacks_for("prod"), TOKYO, A)
    assert f"**${ev.fargate:.2f}**" in section and f"**${ev.total:.2f}**" in section


# -- --region names a price file, never a path ---------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, str]:
    """A valid price file outside pricing/, and the --region that reached it as a relative path."""
    target = tmp_path / "x.json"
    shutil.copy(pricing.price_file("ap-northeast-1"), target)
    return target, os.path.relpath(tmp_path / "x", pricing.PRICING_DIR)


def test_a_region_that_is_a_path_is_refused_before_any_file_is_read(run_cli: Any, planted: tuple[Path, str]) -> None:
    _, region = planted
    assert region.startswith("..")
    code, out, err = run_cli("--env", "dev", "--region", region)
    assert code == EXIT_BAD_INPUT and not out and err.count("\n") == 1
    assert "--region" in err and "not an AWS region" in err


def test_refresh_never_writes_outside_pricing(
    run_cli: Any, planted: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, region = planted
    before = target.read_bytes()

    def no_client(args: argparse.Namespace) -> Any:
        raise AssertionError("no AWS call for a bad --region")

    monkeypatch.setattr(costcmd, "_pricing_client", no_client)
    code, _, err = run_cli("--refresh-prices", "--region", region)
    assert code == EXIT_BAD_INPUT and "not an AWS region" in err
    assert target.read_bytes() == before


@pytest.mark.parametrize("region", ["../x", "/tmp/x", "ap-northeast-1\n", "ap-northeast-1/../../x", ""])
def test_the_price_file_of_a_name_that_is_not_a_region_is_refused(region: str) -> None:
    """Every caller that turns a region into a path goes through price_file (the library, not only the flag)."""
    with pytest.raises(BadInput, match="not an AWS region"):
        pricing.price_file(region)


def test_cost_tables_are_measured_as_a_terminal_shows_them():
    """A Japanese cell is two columns a character: measured by len() its row would end early and the
    right-aligned figures would not line up."""
    from rich.cells import cell_len

    from cylink_deploy.output.cost import _table

    lines = _table([["Line item", "USD"], ["東京のNAT", "45.26"], ["ALB", "17.74"]], {1})
    assert len({cell_len(line) for line in lines}) == 1, lines
    assert lines[1].startswith("  東京のNAT") and lines[1].endswith("  45.26")
