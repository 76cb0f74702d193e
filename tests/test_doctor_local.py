"""``deploy.py doctor`` on the emulator, as a user runs it: an empty account (moto reset), then the
service-linked roles in place, a hosted zone with its delegation and CAA answered by a DNS server on loopback,
and a name an earlier stack left. Service Quotas in moto 5.2.5 answers only the ``vpc`` service code: the
other quotas must come out "not checked", never ok."""

from __future__ import annotations

import io
import re
import json
import sys
from typing import Any

import boto3
import pytest

from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.ops import doctor
from templates_src.common import HOSTED_ZONE_PATTERN

from .conftest import credentials
from .dnsserver import LoopbackDns
from .contract import parsed

pytestmark = pytest.mark.slow
REGION = "ap-northeast-1"


def client(emulator, service):
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS))


def run(project: Any, *argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        code = main(["doctor", "--json", *argv], stdin=io.StringIO(""), project=project, out=out)
    finally:
        sys.stderr = old
    return code, parsed("doctor", out.getvalue()) or {}, err.getvalue()


def by_subject(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["subject"]: c for c in document["checks"]}


def aws_like_zone(r53: Any, name: str) -> tuple[str, list[str]]:
    """A zone whose ID starts with Z as AWS's do (the parameter's pattern): moto draws random IDs, so zones
    that do not are deleted and drawn again."""
    for attempt in range(500):
        created = r53.create_hosted_zone(Name=name, CallerReference=f"doctor-{attempt}")
        zone_id = created["HostedZone"]["Id"].rsplit("/", 1)[-1]
        if re.fullmatch(HOSTED_ZONE_PATTERN, zone_id):
            return zone_id, created["DelegationSet"]["NameServers"]
        r53.delete_hosted_zone(Id=zone_id)
    raise AssertionError("moto gave no zone ID starting with Z in 500 draws")


@pytest.fixture(scope="module")
def account(fresh_emulator):
    return fresh_emulator


def test_an_empty_account_lacks_the_service_linked_roles_and_says_which_quotas_it_could_not_read(
    account, aws_env, project
):
    code, doc, err = run(project, "--env", "dev")
    assert code == 1 and doc["ready"] is False
    checks = by_subject(doc)
    for role, _ in doctor.SERVICE_LINKED_ROLES:
        assert checks[role]["result"] == "problem"
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: cylink-dev in ap-northeast-1 is not ready: 4 problem(s), first service-linked role")
    # moto answers the vpc quotas; the others it lacks are "not checked", never a pass
    assert checks["VPCs per Region (vpc/L-F678F1CE)"]["result"] == "ok"
    assert checks["VPCs per Region (vpc/L-F678F1CE)"]["detail"] == "needs 1 + 1 in use, quota 5"  # the default VPC
    for subject in ("EC2-VPC Elastic IPs (ec2/L-0263D0A3)", "Fargate Spot vCPU resource count (fargate/L-36FBB829)"):
        assert checks[subject]["result"] == "not checked"


def test_with_the_service_linked_roles_the_dev_account_is_ready(account, aws_env, project):
    iam = client(account, "iam")
    trust = {"Version": "2012-10-17", "Statement": []}
    for role, service in doctor.SERVICE_LINKED_ROLES:
        iam.create_role(RoleName=role, Path=f"/aws-service-role/{service}/", AssumeRolePolicyDocument=json.dumps(trust))
    code, doc, err = run(project, "--env", "dev")
    assert (code, doc["ready"]) == (0, True), err
    assert doc["notChecked"] >= 4  # the quotas moto lacks, said as such


def test_a_zone_delegated_elsewhere_with_a_record_in_the_way_and_caa_without_amazon(account, aws_env, project):
    r53 = client(account, "route53")
    zone_id, servers = aws_like_zone(r53, "doctor.example")
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "www.doctor.example",
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "old-site.example"}],
                    },
                }
            ]
        },
    )
    public = {
        ("doctor.example", "NS"): [f"{s}." for s in servers],
        ("doctor.example", "CAA"): ['0 issue "letsencrypt.org"'],
    }
    with LoopbackDns(public) as dns_server:
        code, doc, err = run(
            project,
            "--env",
            "dev",
            "--parameter",
            "DomainName=doctor.example",
            "--parameter",
            f"HostedZoneId={zone_id}",
            "--dns-server",
            dns_server.server,
        )
    assert code == 1, err
    checks = by_subject(doc)
    assert checks[zone_id]["result"] == "ok"
    delegation = next(c for c in doc["checks"] if c["area"] == "delegation")
    assert delegation["result"] == "ok"  # public DNS names exactly the zone's name servers
    assert checks["www.doctor.example"]["result"] == "problem"  # the CNAME is in the way of the A record
    caa = next(c for c in doc["checks"] if c["area"] == "CAA")
    assert caa["result"] == "problem" and "letsencrypt.org" in caa["detail"]
    assert ("doctor.example", "NS") in dns_server.asked


def test_a_log_group_an_earlier_stack_left_is_in_the_way(account, aws_env, project):
    client(account, "logs").create_log_group(logGroupName="/ecs/cylink-backend")
    code, doc, _ = run(project, "--env", "dev")
    assert code == 1
    check = by_subject(doc)["/ecs/cylink-backend"]
    assert check["result"] == "problem" and check["detail"] == "left by an earlier stack (retained)"
    assert "aws logs delete-log-group --log-group-name /ecs/cylink-backend" in check["todo"]
