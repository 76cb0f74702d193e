"""Environments side by side on one emulator (issue 20), as a team would run them in one account: dev, staging,
prod and a second dev stack from the shipped parameter files, then changes, a release, a wrong --env, a NamePrefix
take-over, an alarm in another environment, and deletes. After every step the other environments' alarms (with
their thresholds and actions), topics, clusters and repositories are what they were.

One walk in one test: each step builds on the stacks the earlier ones made (a stack create is the slow part)."""

from __future__ import annotations

import io
import sys
from collections import defaultdict
from typing import Any

import boto3
import pytest

from cylink_deploy.cfn import stacks as st
from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.project import Project

from .conftest import REPO, credentials, image_manifest
from .contract import command_of, parsed

pytestmark = pytest.mark.slow  # the emulator
REGION = "ap-northeast-1"
# stack -> (--env, extra flags of its first deploy). prod needs a domain to deploy (docs/parameters.md).
STACKS = {
    "cylink-dev": ("dev", []),
    "cylink-staging": ("staging", []),
    "cylink-prod": ("prod", ["--parameter", "DomainName=example.com"]),
    "cylink-dev2": ("dev", ["--parameter", "NamePrefix=cylink-dev2"]),
}
WATCHED = ("AWS::CloudWatch::Alarm", "AWS::SNS::Topic", "AWS::ECS::Cluster", "AWS::ECR::Repository")


class Account:
    """deploy.py in-process against the emulator, and what each stack owns (from its own resources)."""

    def __init__(self, endpoint: str, project: Project) -> None:
        self.project = project
        self.endpoint = endpoint
        self.owned: dict[str, dict[str, list[str]]] = {}
        self.seen: dict[str, dict[str, Any]] = {}

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=REGION, endpoint_url=self.endpoint, **credentials(FAKE_CREDENTIALS)
        )

    def run(self, *argv: str, expect: int = 0) -> tuple[dict[str, Any], str]:
        out, err = io.StringIO(), io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            code = main(
                [argv[0], "--json", *argv[1:]],
                stdin=io.StringIO(""),
                sleep=lambda s: None,
                project=self.project,
                out=out,
            )
        finally:
            sys.stderr = old
        assert code == expect, f"{argv}: exit {code}: {err.getvalue()[-3000:]}"
        assert "Traceback" not in err.getvalue()
        return parsed(command_of(argv), out.getvalue()) or {}, err.getvalue()

    def on(self, stack: str, command: str, *extra: str, expect: int = 0) -> tuple[dict[str, Any], str]:
        """A command on one of the STACKS, with its --env and --stack-name."""
        return self.run(command, "--env", STACKS[stack][0], "--stack-name", stack, *extra, expect=expect)

    def record(self, stack: str) -> None:
        """What ``stack`` owns, read from its resources (root and nested), and their state now."""
        cfn = self.client("cloudformation")
        owned: dict[str, list[str]] = defaultdict(list)
        for s in [stack, *(n.physical_id for n in st.nested_stacks(cfn, stack))]:
            for r in st.resource_summaries(cfn, s):
                if r["ResourceType"] in WATCHED:
                    owned[r["ResourceType"]].append(r["PhysicalResourceId"])
        self.owned[stack] = owned
        self.seen[stack] = self.state(stack)

    def state(self, stack: str) -> dict[str, Any]:
        """The watched resources of ``stack`` as AWS has them: alarms with thresholds and actions, topics, cluster
        status, repositories (missing ones say so)."""
        owned = self.owned[stack]
        cw, sns, ecs, ecr = (self.client(s) for s in ("cloudwatch", "sns", "ecs", "ecr"))
        names = sorted(owned["AWS::CloudWatch::Alarm"])
        alarms = {
            a["AlarmName"]: (a.get("Threshold"), a.get("ComparisonOperator"), tuple(a.get("AlarmActions", [])))
            for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
        }
        topics = {arn: arn in {t["TopicArn"] for t in sns.list_topics()["Topics"]} for arn in owned["AWS::SNS::Topic"]}
        clusters = {
            c["clusterName"]: c["status"]
            for c in ecs.describe_clusters(clusters=owned["AWS::ECS::Cluster"])["clusters"]
        }
        repositories = sorted(
            r["repositoryName"]
            for r in ecr.describe_repositories()["repositories"]
            if r["repositoryName"] in owned["AWS::ECR::Repository"]
        )
        return {"alarms": alarms, "topics": topics, "clusters": clusters, "repositories": repositories}

    def others_untouched(self, acted_on: str | None, step: str) -> None:
        """Every stack but ``acted_on`` is as it was; ``acted_on``'s new state becomes its baseline."""
        for stack in self.seen:
            now = self.state(stack)
            if stack == acted_on:
                self.seen[stack] = now
            else:
                assert now == self.seen[stack], f"{step}: {stack} changed"


@pytest.fixture
def account(fresh_emulator, aws_env, tmp_path) -> Account:
    """An empty account (moto reset for this module), this process's environment pointed at it, and the
    repository's own parameter files."""
    return Account(fresh_emulator.endpoint, Project(REPO, build_override=tmp_path / "build"))


def test_dev_staging_prod_and_a_second_dev_stack_never_touch_each_other(account: Account, monkeypatch) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # a release's services report their tasks running
    for stack, (_, extra) in STACKS.items():
        doc, _ = account.on(stack, "deploy", "--yes", *extra)
        assert doc["status"] == "DEPLOYED", stack
        account.record(stack)
        account.others_untouched(stack, f"create {stack}")
    clusters = {stack: owned["AWS::ECS::Cluster"] for stack, owned in account.owned.items()}
    assert len({c for names in clusters.values() for c in names}) == 4  # one cluster each, none shared
    assert account.seen["cylink-dev"]["alarms"]["cylink-alb-5xx"][0] == 50.0  # dev's threshold (params/dev.yaml)
    assert account.seen["cylink-staging"]["alarms"]["cylink-staging-alb-5xx"][0] == 20.0

    # changes: one environment's threshold moves, nobody else's
    account.on("cylink-dev", "deploy", "--yes", "--parameter", "Elb5xxPer5Minutes=60")
    account.others_untouched("cylink-dev", "dev's threshold")
    assert account.seen["cylink-dev"]["alarms"]["cylink-alb-5xx"][0] == 60.0
    account.on("cylink-staging", "deploy", "--yes", "--parameter", "Elb5xxPer5Minutes=25")
    account.others_untouched("cylink-staging", "staging's threshold")

    # a release on the second dev stack: its own repositories, its own services
    ecr = account.client("ecr")
    for service, layer in (("backend", "1"), ("frontend", "2")):
        ecr.put_image(repositoryName=f"cylink-dev2/{service}", imageManifest=image_manifest(layer), imageTag="1.1.0")
    doc, _ = account.on("cylink-dev2", "release", "--yes", "--image-tag", "1.1.0")
    assert doc["status"] == "DEPLOYED"
    account.others_untouched("cylink-dev2", "release on cylink-dev2")

    # a wrong --env: refused before anything, no change set made
    cfn = account.client("cloudformation")
    before = cfn.list_change_sets(StackName="cylink-dev")["Summaries"]
    for command in ("deploy", "status", "delete"):
        _, err = account.run(command, "--env", "staging", "--stack-name", "cylink-dev", "--yes", expect=4)
        assert "stack cylink-dev is environment dev (its EnvironmentName), not --env staging" in err
    assert cfn.list_change_sets(StackName="cylink-dev")["Summaries"] == before
    account.others_untouched(None, "wrong --env")

    # the take-over of issue 20: the second dev stack onto dev's names. Its prefix sticks; a new one is refused,
    # and with the flag it still may not take names dev owns.
    _, err = account.on("cylink-dev2", "deploy", "--yes")
    assert "NamePrefix cylink-dev2 kept: cylink-dev2 was created with it" in err
    _, err = account.on("cylink-dev2", "deploy", "--yes", "--parameter", "NamePrefix=cylink", expect=4)
    assert "cylink-dev2 has NamePrefix cylink-dev2" in err and "cylink-dev2-cluster -> cylink-cluster" in err
    _, err = account.on(
        "cylink-dev2", "deploy", "--yes", "--parameter", "NamePrefix=cylink", "--allow-name-prefix-change", expect=4
    )
    assert "would take over names that live stack cylink-dev (environment dev, NamePrefix cylink)" in err
    account.others_untouched("cylink-dev2", "NamePrefix take-over")

    # an alarm in another environment (staging's name extends dev's prefix) is not dev's
    cw = account.client("cloudwatch")
    for name in ("cylink-staging-alb-5xx", "cylink-redis-memory"):
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    dev, _ = account.on("cylink-dev", "status", expect=1)
    staging, _ = account.on("cylink-staging", "status", expect=1)
    assert [a["name"] for a in dev["alarms"]] == ["cylink-redis-memory"]
    assert [a["name"] for a in staging["alarms"]] == ["cylink-staging-alb-5xx"]
    for name in ("cylink-staging-alb-5xx", "cylink-redis-memory"):
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")

    # deletes: the second dev stack, then staging; dev and prod keep everything
    for stack in ("cylink-dev2", "cylink-staging"):
        doc, _ = account.on(stack, "delete", "--yes")
        assert doc["status"] == "DELETED"
        del account.seen[stack]
        account.others_untouched(None, f"delete {stack}")
    assert set(account.seen) == {"cylink-dev", "cylink-prod"}
