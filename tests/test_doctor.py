"""``doctor``'s checks, each against botocore's Stubber (answers shaped like the AWS API reference) or a DNS
server on loopback: nothing here reaches a network beyond 127.0.0.1. The whole command on the emulator is
tests/test_doctor_local.py."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy.commands import doctor as doctor_command
from cylink_deploy.errors import BadInput
from cylink_deploy.ops import doctor, zone
from cylink_deploy.ops.checks import NOT_CHECKED, OK, PROBLEM, Check
from cylink_deploy.output.human import HumanReporter
from cylink_deploy.preflight.resolve import ResolveError
from cylink_deploy.project import Project

from .dnsserver import LoopbackDns
from .stubbed import SESSION

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
ZONE_NS = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"]


def stubbed(service):
    client = SESSION.client(service)
    stub = Stubber(client)
    stub.activate()
    return client, stub


def role(name: str, max_seconds: int = 3600) -> dict[str, Any]:
    return {
        "Role": {
            "Path": "/",
            "RoleName": name,
            "RoleId": "AROAEXAMPLE1234567890",
            "Arn": f"arn:aws:iam::123456789012:role/{name}",
            "CreateDate": NOW,
            "MaxSessionDuration": max_seconds,
        }
    }


@pytest.fixture(scope="module")
def prod_plan() -> doctor.Plan:
    return doctor.plan(Project.find(), doctor.DoctorRequest("prod"), "ap-northeast-1", "123456789012")


# --- service-linked roles ------------------------------------------------------------------------------


def test_a_missing_service_linked_role_is_a_problem_that_names_bootstrap_and_the_cli_command():
    iam, stub = stubbed("iam")
    stub.add_client_error(
        "get_role", "NoSuchEntity", http_status_code=404, expected_params={"RoleName": "AWSServiceRoleForECS"}
    )
    for name, _ in doctor.SERVICE_LINKED_ROLES[1:]:
        stub.add_response("get_role", role(name), {"RoleName": name})
    checks = doctor.service_linked_roles(iam)
    stub.assert_no_pending_responses()
    assert [c.result for c in checks] == [PROBLEM, OK, OK, OK]
    assert "python deploy.py bootstrap" in checks[0].todo
    assert "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com" in checks[0].todo


def test_a_service_linked_role_the_caller_may_not_read_is_not_checked_never_ok():
    iam, stub = stubbed("iam")
    for _ in doctor.SERVICE_LINKED_ROLES:
        stub.add_client_error("get_role", "AccessDenied", http_status_code=403)
    checks = doctor.service_linked_roles(iam)
    assert {c.result for c in checks} == {NOT_CHECKED}
    assert checks[0].detail.startswith("AccessDenied on GetRole")


# --- Service Quotas ------------------------------------------------------------------------------------


def test_prod_needs_its_fargate_vcpu_at_max_capacity_doubled_during_a_release_split_by_capacity_strategy(prod_plan):
    # backend 0.5 vCPU x 10 tasks, frontend 0.25 vCPU x 6, each x2 (MaximumPercent 200) while a release runs;
    # one task of each on FARGATE (base 1), the rest 1:4 FARGATE:FARGATE_SPOT (FargateSpotWeight 4):
    # backend 20 -> 5 on-demand + 15 Spot, frontend 12 -> 3 + 9.
    assert prod_plan.fargate_vcpu() == (5 * 0.5 + 3 * 0.25, 15 * 0.5 + 9 * 0.25)


def test_the_counted_needs_follow_the_parameters(prod_plan):
    needs = {q.code: q.need for q in doctor.quotas(prod_plan, {})}
    assert needs["L-F678F1CE"] == 1  # one VPC
    assert needs["L-0263D0A3"] == 2  # prod: a NAT gateway (and its Elastic IP) per AZ
    assert needs["L-FE5A380F"] == 1  # one NAT gateway in each zone
    assert needs["L-53DA6B97"] == 1
    dev = doctor.plan(Project.find(), doctor.DoctorRequest("dev"), "ap-northeast-1", "123456789012")
    dev_needs = {q.code: q.need for q in doctor.quotas(dev, {})}
    assert dev_needs["L-0263D0A3"] == 0 and dev_needs["L-FE5A380F"] == 0  # EgressMode none: no NAT


def test_a_quota_below_need_plus_usage_is_a_problem_with_the_increase_command():
    sq, stub = stubbed("service-quotas")
    stub.add_response(
        "get_service_quota",
        {"Quota": {"QuotaCode": "L-0263D0A3", "Value": 5.0}},
        {"ServiceCode": "ec2", "QuotaCode": "L-0263D0A3"},
    )
    check = doctor.quota_check(sq, doctor.Quota("EC2-VPC Elastic IPs", "ec2", "L-0263D0A3", 2, 4))
    assert check.result == PROBLEM and check.detail == "needs 2 + 4 in use, quota 5"
    assert "--service-code ec2 --quota-code L-0263D0A3 --desired-value 6" in check.todo


def test_a_quota_whose_account_usage_could_not_be_read_is_not_checked_unless_the_stack_alone_exceeds_it():
    sq, stub = stubbed("service-quotas")
    for _ in range(2):
        stub.add_response("get_service_quota", {"Quota": {"Value": 5.0}})
    unread = doctor.Quota("VPCs per Region", "vpc", "L-F678F1CE", 1, None, usage_unread="UnauthorizedOperation")
    check = doctor.quota_check(sq, unread)
    assert check.result == NOT_CHECKED and check.detail == "needs 1, quota 5; usage not read: UnauthorizedOperation"
    too_many = doctor.Quota("EC2-VPC Elastic IPs", "ec2", "L-0263D0A3", 6, None, usage_unread="UnauthorizedOperation")
    assert doctor.quota_check(sq, too_many).result == PROBLEM


def test_unreadable_usage_reaches_every_counted_quota(prod_plan):
    by_code = {q.code: q.usage_unread for q in doctor.quotas(prod_plan, "UnauthorizedOperation on DescribeVpcs")}
    assert {c for c, why in by_code.items() if why} == {"L-F678F1CE", "L-0263D0A3", "L-FE5A380F", "L-53DA6B97"}


def test_a_quota_never_changed_is_read_from_the_aws_default():
    sq, stub = stubbed("service-quotas")
    stub.add_client_error("get_service_quota", "NoSuchResourceException", http_status_code=400)
    stub.add_response(
        "get_aws_default_service_quota",
        {"Quota": {"Value": 6.0}},
        {"ServiceCode": "fargate", "QuotaCode": "L-3032A538"},
    )
    check = doctor.quota_check(sq, doctor.Quota("Fargate On-Demand vCPU", "fargate", "L-3032A538", 3.25))
    assert (check.result, check.detail) == (OK, "needs 3.25, quota 6")


def test_a_quota_that_cannot_be_read_is_not_checked():
    sq, stub = stubbed("service-quotas")
    stub.add_client_error("get_service_quota", "NoSuchResourceException", http_status_code=400)
    stub.add_client_error("get_aws_default_service_quota", "InternalFailure", http_status_code=500)
    check = doctor.quota_check(sq, doctor.Quota("Fargate Spot vCPU", "fargate", "L-36FBB829", 9.75))
    assert check.result == NOT_CHECKED and "InternalFailure on GetAWSDefaultServiceQuota" in check.detail


def test_usage_counts_the_accounts_other_resources_not_the_stacks_own():
    ec2, stub = stubbed("ec2")
    elbv2, lb_stub = stubbed("elbv2")
    stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-default"}, {"VpcId": "vpc-mine"}]})
    stub.add_response(
        "describe_addresses",
        {
            "Addresses": [
                {"AllocationId": "eipalloc-1", "PublicIp": "192.0.2.1"},
                {"AllocationId": "eipalloc-2", "PublicIp": "192.0.2.2"},
            ]
        },
    )
    nats = [
        {"NatGatewayId": "nat-a1", "SubnetId": "subnet-a"},
        {"NatGatewayId": "nat-a2", "SubnetId": "subnet-a"},
        {"NatGatewayId": "nat-mine", "SubnetId": "subnet-b"},
    ]
    stub.add_response("describe_nat_gateways", {"NatGateways": nats})
    stub.add_response(
        "describe_subnets",
        {"Subnets": [{"SubnetId": "subnet-a", "AvailabilityZone": "ap-northeast-1a"}]},
        {"SubnetIds": ["subnet-a"]},
    )
    arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/"
    lb_stub.add_response(
        "describe_load_balancers",
        {
            "LoadBalancers": [
                {"LoadBalancerArn": arn + "mine/1", "Type": "application"},
                {"LoadBalancerArn": arn + "n/2", "Type": "network"},
            ]
        },
    )
    own = {"vpc-mine", "192.0.2.2", "nat-mine", arn + "mine/1"}
    assert doctor.usage(ec2, elbv2, own) == {"vpc": 1, "eip": 1, "nat": 2, "alb": 0}


# --- region ---------------------------------------------------------------------------------------------


def test_a_region_outside_a_mapping_cannot_be_resolved_and_the_region_check_says_so():
    with pytest.raises(ResolveError, match="ElbLogAccount, eu-north-1"):
        doctor.plan(Project.find(), doctor.DoctorRequest("dev"), "eu-north-1", "123456789012")
    ec2, stub = stubbed("ec2")
    stub.add_response("describe_availability_zones", {"AvailabilityZones": [{"ZoneName": "eu-north-1a"}]})
    checks = doctor.region_support("eu-north-1", ec2, "Fn::FindInMap [ElbLogAccount, eu-north-1, Account] has no entry")
    assert [(c.subject, c.result) for c in checks] == [
        ("eu-north-1 services", OK),
        ("eu-north-1 mappings", PROBLEM),
        ("eu-north-1 zones", PROBLEM),  # the network stack spreads over two zones
    ]


# --- images, session, names -----------------------------------------------------------------------------


def test_images_the_tag_in_both_repositories_or_a_line_per_gap():
    ecr, stub = stubbed("ecr")
    stub.add_response("describe_images", {"imageDetails": [{"imageDigest": "sha256:" + "a" * 64}]})
    stub.add_client_error("describe_images", "ImageNotFoundException", http_status_code=400)
    checks = doctor.images(ecr, ["cylink/backend", "cylink/frontend"], "v1.0.0", "prod")
    assert [(c.subject, c.result) for c in checks] == [
        ("cylink/backend:v1.0.0", OK),
        ("cylink/frontend:v1.0.0", PROBLEM),
    ]
    ecr, stub = stubbed("ecr")
    stub.add_client_error("describe_images", "RepositoryNotFoundException", http_status_code=400)
    (check,) = doctor.images(ecr, ["cylink/backend"], "v1.0.0", "prod")
    assert check.result == PROBLEM and "first deploy without services" in check.todo
    assert doctor.images(ecr, ["cylink/backend"], "", "prod")[0].result == OK  # no tag: nothing to pull yet


def test_a_first_prod_deploy_needs_two_hours_and_dev_one():
    assert doctor.first_deploy_seconds({"RedisNodeCount": "2", "DomainName": "example.org"}) == 7200
    assert doctor.first_deploy_seconds({"RedisNodeCount": "1", "DomainName": ""}) == 3600


def test_a_deploy_role_whose_sessions_end_before_a_first_deploy_is_a_problem():
    iam, stub = stubbed("iam")
    stub.add_response("get_role", role("deployer", 3600), {"RoleName": "deployer"})
    stub.add_response(
        "get_role",
        role("github-actions-cylink-deployer-prod", 7200),
        {"RoleName": "github-actions-cylink-deployer-prod"},
    )
    caller = "arn:aws:sts::123456789012:assumed-role/deployer/me"
    checks = doctor.session_length(iam, caller, "prod", 7200)
    assert [(c.subject, c.result) for c in checks] == [
        ("deployer", PROBLEM),
        ("github-actions-cylink-deployer-prod", OK),
    ]
    assert "--max-session-duration 7200" in checks[0].todo


def test_an_iam_user_has_no_session_to_outlast_and_a_missing_github_role_is_skipped():
    iam, stub = stubbed("iam")
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    checks = doctor.session_length(iam, "arn:aws:iam::123456789012:user/admin", "dev", 3600)
    assert [(c.subject, c.result) for c in checks] == [("user/admin", OK)]


# --- the hosted zone and public DNS (a DNS server on loopback) -------------------------------------------


def test_caa_allows_amazon_only_when_an_issue_property_names_it_or_there_is_none():
    assert zone.caa_allows_amazon([])
    assert zone.caa_allows_amazon([("iodef", "mailto:sec@example.org")])
    assert zone.caa_allows_amazon([("issue", "letsencrypt.org"), ("issue", "amazon.com")])
    assert zone.caa_allows_amazon([("issue", "amazontrust.com; account=1")])
    assert not zone.caa_allows_amazon([("issue", "letsencrypt.org")])
    assert not zone.caa_allows_amazon([("issue", ";")])  # nobody may issue


def test_delegation_compares_the_zones_name_servers_with_what_public_dns_answers():
    records = {("example.org", "NS"): [f"{n}." for n in ZONE_NS]}
    with LoopbackDns(records) as dns_server:
        res = zone.resolver(dns_server.server)
        assert zone.delegation(res, "example.org", ZONE_NS).result == OK
        other = zone.delegation(res, "example.org", ["ns-9.awsdns-09.com"])
        assert other.result == PROBLEM and "not to the zone's name servers" in other.detail
        missing = zone.delegation(res, "example.net", ZONE_NS)
        assert missing.result == PROBLEM and "NXDOMAIN" in missing.detail
        assert ("example.org", "NS") in dns_server.asked


def test_caa_climbs_to_the_closest_parent_and_refuses_one_that_excludes_amazon():
    records = {("example.org", "CAA"): ['0 issue "letsencrypt.org"'], ("www.example.org", "A"): ["192.0.2.1"]}
    with LoopbackDns(records) as dns_server:
        check = zone.caa(zone.resolver(dns_server.server), "example.org")
    assert check.result == PROBLEM
    assert "www.example.org (CAA at example.org: letsencrypt.org)" in check.detail
    assert 'issue "amazon.com"' in check.todo


def test_caa_with_amazon_or_none_at_all_passes():
    records = {("example.org", "CAA"): ['0 issue "letsencrypt.org"', '0 issue "amazon.com"']}
    with LoopbackDns(records) as dns_server:
        assert zone.caa(zone.resolver(dns_server.server), "example.org").result == OK
    with LoopbackDns({}) as dns_server:
        assert zone.caa(zone.resolver(dns_server.server), "example.org").result == OK


def test_a_dns_server_that_does_not_answer_is_not_checked():
    with LoopbackDns({}) as dns_server:
        port = dns_server.server
    res = zone.resolver(port)  # closed: nothing answers
    res.lifetime = 0.5
    assert zone.delegation(res, "example.org", ZONE_NS).result == NOT_CHECKED


def hosted_zone(name: str = "example.org.", private: bool = False) -> dict[str, Any]:
    return {
        "HostedZone": {
            "Id": "/hostedzone/Z1EXAMPLE",
            "Name": name,
            "CallerReference": "x",
            "Config": {"PrivateZone": private},
        },
        "DelegationSet": {"NameServers": ZONE_NS},
    }


def test_an_existing_zone_must_be_the_domains_public_zone():
    r53, stub = stubbed("route53")
    stub.add_response("get_hosted_zone", hosted_zone(), {"Id": "Z1EXAMPLE"})
    check, servers = zone.existing_zone(r53, "Z1EXAMPLE", "example.org")
    assert check.result == OK and servers == ZONE_NS
    stub.add_response("get_hosted_zone", hosted_zone("example.com."), {"Id": "Z1EXAMPLE"})
    assert zone.existing_zone(r53, "Z1EXAMPLE", "example.org")[0].result == PROBLEM
    stub.add_response("get_hosted_zone", hosted_zone(private=True), {"Id": "Z1EXAMPLE"})
    assert "private zone" in zone.existing_zone(r53, "Z1EXAMPLE", "example.org")[0].detail
    stub.add_client_error("get_hosted_zone", "NoSuchHostedZone", http_status_code=404)
    assert zone.existing_zone(r53, "Z1EXAMPLE", "example.org")[0].result == PROBLEM


def record_page(*records: tuple[str, str]) -> dict[str, Any]:
    return {
        "ResourceRecordSets": [
            {"Name": name, "Type": kind, "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.1"}]}
            for name, kind in records
        ],
        "IsTruncated": False,
        "MaxItems": "10",
    }


def test_records_in_the_way_of_the_records_stack_are_problems_unless_the_stack_owns_them():
    r53, stub = stubbed("route53")
    stub.add_response("list_resource_record_sets", record_page(("example.org.", "A"), ("example.org.", "MX")))
    stub.add_response("list_resource_record_sets", record_page(("www.example.org.", "CNAME")))
    stub.add_response("list_resource_record_sets", record_page(("api.example.org.", "A")))
    checks = zone.collisions(r53, "Z1EXAMPLE", "example.org", own_records=["api.example.org"])
    assert [(c.subject, c.result) for c in checks] == [("example.org", PROBLEM), ("www.example.org", PROBLEM)]
    assert checks[1].detail.startswith("CNAME record exists")


def test_without_a_zone_id_an_existing_public_zone_of_the_domain_is_a_problem():
    r53, stub = stubbed("route53")
    zones = {
        "HostedZones": [
            {
                "Id": "/hostedzone/Z9OTHER",
                "Name": "example.org.",
                "CallerReference": "y",
                "Config": {"PrivateZone": False},
            }
        ],
        "IsTruncated": False,
        "MaxItems": "10",
    }
    stub.add_response("list_hosted_zones_by_name", zones, {"DNSName": "example.org", "MaxItems": "10"})
    check = zone.zone_to_create(r53, "example.org", own_zones=[])
    assert check.result == PROBLEM and check.todo == "set HostedZoneId=Z9OTHER in the parameter file (or --parameter)"
    stub.add_response("list_hosted_zones_by_name", zones, {"DNSName": "example.org", "MaxItems": "10"})
    assert zone.zone_to_create(r53, "example.org", own_zones=["Z9OTHER"]).result == OK  # the stack's own zone


def test_no_domain_asks_nobody():
    r53, _ = stubbed("route53")  # any call would fail the test (no responses)
    (check,) = zone.zone_checks(r53, None, "", "")
    assert check.result == OK


# --- the command and what people see ------------------------------------------------------------------


def test_dns_server_must_be_an_ip_address():
    assert doctor_command.dns_server("127.0.0.1:5353") == "127.0.0.1:5353"
    assert doctor_command.dns_server("1.1.1.1") == "1.1.1.1"
    for bad in ("dns.example.org", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(BadInput, match="--dns-server"):
            doctor_command.dns_server(bad)


def test_the_emulator_never_sends_the_domain_to_public_dns(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert doctor_command.on_loopback()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://vpce-1.cloudformation.ap-northeast-1.vpce.amazonaws.com")
    assert not doctor_command.on_loopback()


def test_the_table_shows_every_check_and_the_verdict():
    view = doctor.DoctorView("prod", "cylink-prod", "ap-northeast-1", "123456789012")
    view.checks = [
        Check("service-linked role", "AWSServiceRoleForECS", PROBLEM, "missing", "python deploy.py bootstrap"),
        Check("quota", "Fargate Spot vCPU", NOT_CHECKED, "InternalFailure"),
    ]
    out = io.StringIO()
    HumanReporter(out=out).show(view)
    text = out.getvalue()
    assert "AWSServiceRoleForECS" in text and "python deploy.py bootstrap" in text
    assert text.rstrip().endswith("NOT READY: 1 problem(s) (1 not checked: see the table)")
    assert view.document()["ready"] is False and view.document()["notChecked"] == 1
    assert doctor.summary(view).startswith("cylink-prod in ap-northeast-1 is not ready: 1 problem(s)")


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--dns-server", "resolver.example"], "--dns-server 'resolver.example': give an IP address"),
        (["--image-tag", "bad tag"], "--image-tag 'bad tag' is not a valid tag"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2_before_any_aws_call(flags, said, capsys, project):
    from cylink_deploy.cli import main

    code = main(["doctor", "--env", "dev", *flags], stdin=io.StringIO(""), project=project)  # no client exists
    assert code == 2
    assert capsys.readouterr().err.startswith(f"error: {said}")
