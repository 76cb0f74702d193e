"""End to end against the embedded emulator over real HTTP: the same code path as real AWS, with only
AWS_ENDPOINT_URL (and fake credentials) differing. Each test deploys its own stack and name prefix."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest

from cylink_deploy.cli import main
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.project import Project

from .conftest import REPO, credentials, image_manifest, project_copy
from .contract import command_of, parsed

REGION = "ap-northeast-1"


def client(emulator, service):
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint, **credentials(FAKE_CREDENTIALS))


PROJECT: Project | None = None  # this test run's project (the fixture below sets it)


@pytest.fixture(autouse=True)
def _project(project):
    global PROJECT
    PROJECT = project


def run(*argv, answer: str = ""):
    """Run deploy.py's main with --json (after the subcommand, if any); returns (exit code, JSON document or None)."""
    at = 1 if argv and not argv[0].startswith("-") else 0
    out = io.StringIO()
    code = main(
        [*argv[:at], "--json", *argv[at:]], stdin=io.StringIO(answer), sleep=lambda s: None, project=PROJECT, out=out
    )
    return code, parsed(command_of(argv), out.getvalue())


def unique():
    tag = uuid.uuid4().hex[:6]
    return f"cyl{tag}", f"cylink-t{tag}"


def deploy(prefix, stack, *extra):
    if "--image-tag" in extra:
        push(prefix, extra[extra.index("--image-tag") + 1])
    return run("--env", "dev", "--stack-name", stack, "--yes", "--parameter", f"NamePrefix={prefix}", *extra)


def push(prefix, tag):
    """What CI does before deploying a tag: push it to both repositories, once they exist (on an update
    ``deploy --image-tag`` checks the tag in ECR, as release does)."""
    ecr = boto3.client(
        "ecr", region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"], **credentials(FAKE_CREDENTIALS)
    )
    existing = {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    for repository in (f"{prefix}/backend", f"{prefix}/frontend"):
        if repository not in existing:
            continue  # a create makes them: the tag cannot be there yet (deploy.py warns)
        try:
            ecr.put_image(repositoryName=repository, imageManifest=image_manifest(repository[-1]), imageTag=tag)
        except ecr.exceptions.ImageAlreadyExistsException:
            pass  # pushed already


def test_create_from_nothing_builds_everything_the_templates_declare(aws_env):
    prefix, stack = unique()
    code, doc = deploy(prefix, stack, "--image-tag", "1.0.0")
    assert code == 0 and doc["status"] == "DEPLOYED"
    outputs = doc["outputs"]

    elb = client(aws_env, "elbv2")
    (alb,) = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == f"{prefix}-alb"]
    assert outputs["AlbDnsName"] == alb["DNSName"] and outputs["SiteUrl"] == f"http://{alb['DNSName']}"
    assert alb["Scheme"] == "internet-facing"
    tgs = {
        tg["Port"]: tg for tg in elb.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
    } or {tg["Port"]: tg for tg in elb.describe_target_groups()["TargetGroups"] if tg["VpcId"] == alb["VpcId"]}
    assert tgs[3001]["HealthCheckPath"] == "/health" and tgs[3000]["HealthCheckPath"] == "/"
    (listener,) = elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    assert listener["Port"] == 80 and listener["DefaultActions"][0]["TargetGroupArn"] == tgs[3000]["TargetGroupArn"]
    rules = [r for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert rules[0]["Actions"][0]["TargetGroupArn"] == tgs[3001]["TargetGroupArn"]

    ec2 = client(aws_env, "ec2")
    vpc = ec2.describe_vpcs(VpcIds=[alb["VpcId"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.0.1.0/24", "10.0.11.0/24", "10.0.12.0/24", "10.0.2.0/24"]
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    }
    alb_sg = groups[alb["SecurityGroups"][0]]
    assert sorted((p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in alb_sg["IpPermissions"]) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    task_sg = next(
        g
        for g in groups.values()
        if any(pair["GroupId"] == alb_sg["GroupId"] for p in g["IpPermissions"] for pair in p["UserIdGroupPairs"])
    )
    assert sorted(p["FromPort"] for p in task_sg["IpPermissions"]) == [3000, 3001]
    redis_sg = next(
        g
        for g in groups.values()
        if any(pair["GroupId"] == task_sg["GroupId"] for p in g["IpPermissions"] for pair in p["UserIdGroupPairs"])
    )
    assert [p["FromPort"] for p in redis_sg["IpPermissions"]] == [6379]

    ecs = client(aws_env, "ecs")
    (cluster,) = ecs.describe_clusters(clusters=[outputs["ClusterName"]])["clusters"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    services = ecs.describe_services(
        cluster=cluster["clusterName"], services=[outputs["BackendServiceName"], outputs["FrontendServiceName"]]
    )["services"]
    assert {s["serviceName"] for s in services} == {f"{prefix}-backend-service", f"{prefix}-frontend-service"}
    backend_td = ecs.describe_task_definition(taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
    assert backend_td["containerDefinitions"][0]["image"].endswith(":1.0.0")

    flow_logs = client(aws_env, "ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])[
        "FlowLogs"
    ]
    assert [f["TrafficType"] for f in flow_logs] == ["ALL"]
    kms = client(aws_env, "kms")
    (key_alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{prefix}-data"]
    assert kms.get_key_rotation_status(KeyId=key_alias["TargetKeyId"])["KeyRotationEnabled"] is True
    assert "kms:ViaService" in kms.get_key_policy(KeyId=key_alias["TargetKeyId"], PolicyName="default")["Policy"]
    (rg,) = [
        g
        for g in client(aws_env, "elasticache").describe_replication_groups()["ReplicationGroups"]
        if g["NodeGroups"][0]["PrimaryEndpoint"]["Address"] == outputs["RedisEndpointAddress"]
    ]
    assert rg["TransitEncryptionEnabled"] is True and rg["AtRestEncryptionEnabled"] is True
    repos = client(aws_env, "ecr").describe_repositories(repositoryNames=[f"{prefix}/backend", f"{prefix}/frontend"])[
        "repositories"
    ]
    assert {r["repositoryUri"] for r in repos} == {outputs["BackendRepositoryUri"], outputs["FrontendRepositoryUri"]}
    s3 = client(aws_env, "s3")
    bucket = "cylink-cfn-artifacts-123456789012-ap-northeast-1"
    assert (
        s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert '"aws:SecureTransport": "false"' in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 90
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="templates/")["Contents"]]
    assert any(k.startswith("templates/root-") for k in keys) and any(k.startswith("templates/network-") for k in keys)
    targets = client(aws_env, "application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")[
        "ScalableTargets"
    ]
    assert f"service/{cluster['clusterName']}/{prefix}-backend-service" in {t["ResourceId"] for t in targets}


def test_a_second_deploy_reports_no_changes_and_uploads_nothing(aws_env):
    prefix, stack = unique()
    assert deploy(prefix, stack, "--image-tag", "1.0.0")[0] == 0
    code, doc = deploy(prefix, stack, "--image-tag", "1.0.0")
    assert code == 0 and doc["status"] == "NO_CHANGES" and doc["uploaded"] == []
    cfn = client(aws_env, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError):  # the empty change set was deleted
        cfn.describe_change_set(ChangeSetName=doc["changeSetId"])
    # Omitting --image-tag keeps the running release instead of removing the services.
    code, doc = deploy(prefix, stack)
    assert code == 0 and doc["status"] == "NO_CHANGES"


def test_a_new_image_tag_updates_and_rolls_the_services(aws_env):
    prefix, stack = unique()
    assert deploy(prefix, stack, "--image-tag", "1.0.0")[0] == 0
    code, doc = deploy(prefix, stack, "--image-tag", "1.1.0")
    assert code == 0 and doc["status"] == "DEPLOYED"
    (root,) = [c for c in doc["changeSets"] if c["stackPath"] == "(root)"]
    assert [(c["action"], c["logicalId"]) for c in root["changes"]] == [("Modify", "ServicesStack")]
    assert {"key": "ImageTag", "old": "1.0.0", "new": "1.1.0"} in root["parameters"]
    ecs = client(aws_env, "ecs")
    service = ecs.describe_services(cluster=f"{prefix}-cluster", services=[f"{prefix}-backend-service"])["services"][0]
    image = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"][
        "containerDefinitions"
    ][0]["image"]
    assert image.endswith(f"{prefix}/backend:1.1.0")


def test_the_monitoring_stack_pages_through_the_encrypted_topic_and_the_services_roll_back_on_its_alarms(aws_env):
    prefix, stack = unique()
    code, doc = deploy(prefix, stack, "--image-tag", "1.0.0", "--parameter", "AlarmEmail=oncall@example.com")
    assert code == 0
    outputs = doc["outputs"]
    assert outputs["DashboardUrl"].endswith(f"#dashboards:name={prefix}-dev-{REGION}")
    topic = outputs["AlarmTopicArn"]
    sns = client(aws_env, "sns")
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(attributes["Policy"])["Statement"][0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert attributes["KmsMasterKeyId"].startswith("arn:aws:kms:")
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        "oncall@example.com"
    ]

    alarms = {
        a["AlarmName"].removeprefix(f"{prefix}-"): a
        for a in client(aws_env, "cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]
    }
    assert {
        "backend-target-5xx-rate",
        "frontend-unhealthy-hosts",
        "backend-tasks-below-minimum",
        "redis-evictions",
        "alb-5xx",
    } <= set(alarms)
    assert not [n for n in alarms if n.startswith(("nat-", "waf-"))]  # dev: no NAT gateway, no WAF
    assert all(
        a["AlarmActions"] == [topic] and a["OKActions"] == [topic] and a["AlarmDescription"] for a in alarms.values()
    )
    (alb,) = [
        lb
        for lb in client(aws_env, "elbv2").describe_load_balancers()["LoadBalancers"]
        if lb["LoadBalancerName"] == f"{prefix}-alb"
    ]
    full_name = alb["LoadBalancerArn"].split(":loadbalancer/")[1]
    dims = {
        d["Name"]: d["Value"]
        for d in alarms["backend-target-5xx-rate"]["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
    }
    assert dims["LoadBalancer"] == full_name and dims["TargetGroup"].startswith("targetgroup/")
    body = json.loads(
        client(aws_env, "cloudwatch").get_dashboard(DashboardName=f"{prefix}-dev-{REGION}")["DashboardBody"]
    )
    assert full_name in json.dumps(body) and "${" not in json.dumps(body)

    cfn = client(aws_env, "cloudformation")
    services = next(
        r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if r["LogicalResourceId"] == "ServicesStack"
    )
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=services)["Stacks"][0]["Parameters"]
    }
    assert params["BackendDeploymentAlarmNames"].split(",") == [
        f"{prefix}-backend-target-5xx-rate",
        f"{prefix}-backend-unhealthy-hosts",
    ]


def test_no_execute_then_execute_change_set(aws_env):
    prefix, stack = unique()
    code, doc = run("--env", "dev", "--stack-name", stack, "--parameter", f"NamePrefix={prefix}", "--no-execute")
    assert code == 0 and doc["status"] == "REVIEW"
    cfn = client(aws_env, "cloudformation")
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    code, _ = run("execute", "--env", "staging", "--stack-name", stack, doc["changeSetName"], "--yes")
    assert code == 2  # made for dev: executing it as staging would apply staging's protection profile
    code, _ = run("execute", "--env", "dev", "--stack-name", stack, doc["changeSetName"], answer="n\n")
    assert code == 5  # declined: nothing happens
    code, doc2 = run("execute", "--env", "dev", "--stack-name", stack, doc["changeSetName"], "--yes")
    assert code == 0 and doc2["status"] == "DEPLOYED"
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    code, _ = run("execute", "--env", "dev", "--stack-name", stack, doc["changeSetName"], "--yes")
    assert code == 4  # executed change sets are not AVAILABLE any more


def test_a_domain_adds_certificate_https_and_alias_records(aws_env):
    prefix, stack = unique()
    code, doc = deploy(prefix, stack, "--parameter", f"DomainName={prefix}.example.com")
    assert code == 0
    assert (
        doc["outputs"]["SiteUrl"] == f"https://{prefix}.example.com"
        and doc["outputs"]["ApiUrl"] == f"https://api.{prefix}.example.com"
    )
    route53 = client(aws_env, "route53")
    (zone,) = [
        z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"].rstrip(".") == f"{prefix}.example.com"
    ]
    records = [
        r for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"] if r["Type"] == "A"
    ]
    assert {r["Name"].rstrip(".") for r in records} == {
        f"{prefix}.example.com",
        f"www.{prefix}.example.com",
        f"api.{prefix}.example.com",
    }
    elb = client(aws_env, "elbv2")
    (alb,) = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == f"{prefix}-alb"]
    for record in records:
        assert record["AliasTarget"]["HostedZoneId"] == alb["CanonicalHostedZoneId"]
        assert record["AliasTarget"]["DNSName"].rstrip(".") == alb["DNSName"]
    certificates = client(aws_env, "acm").list_certificates()["CertificateSummaryList"]
    assert f"{prefix}.example.com" in {c["DomainName"] for c in certificates}
    listeners = {ls["Port"]: ls for ls in elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]}
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")


def test_bad_parameter_files_are_rejected_before_any_aws_call(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # closed port: any AWS call would fail with exit 3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    code = main(["--env", "dev", "--yes", "--parameter", "EgressMode=nat"], stdin=io.StringIO(), project=PROJECT)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "EgressMode must be one of nat-per-az, single-nat, none" in err
    assert main(["--env", "qa", "--yes"], stdin=io.StringIO(), project=PROJECT) == 2
    assert "known environments: dev, prod, staging" in capsys.readouterr().err


def test_without_a_tty_and_without_yes_it_refuses_instead_of_hanging(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert main(["--env", "dev"], stdin=io.StringIO(), project=PROJECT) == 5
    assert "pass --yes" in capsys.readouterr().err


def test_delete_shows_what_is_retained_and_keeps_it(aws_env):
    prefix, stack = unique()
    assert deploy(prefix, stack, "--image-tag", "1.0.0")[0] == 0
    code, doc = run("delete", "--env", "dev", "--stack-name", stack, "--yes")
    assert code == 0 and doc["status"] == "DELETED"
    retained = {(r["stackPath"], r["logicalId"]): r["physicalId"] for r in doc["retained"]}
    assert retained[("RegistryStack", "BackendRepository")] == f"{prefix}/backend"  # what stays, by its name
    assert ("ClusterStack", "BackendLogGroup") in retained
    cfn = client(aws_env, "cloudformation")
    assert stack not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert client(aws_env, "ecr").describe_repositories(repositoryNames=[f"{prefix}/backend"])["repositories"]
    snapshots = [s["SnapshotName"] for s in client(aws_env, "elasticache").describe_snapshots()["Snapshots"]]
    assert any(name.startswith(stack.lower()) and name.endswith("-final") for name in snapshots), (
        snapshots
    )  # DeletionPolicy: Snapshot


def test_delete_refuses_while_termination_protection_is_on(aws_env, capsys):
    prefix, stack = unique()
    assert deploy(prefix, stack)[0] == 0
    client(aws_env, "cloudformation").update_termination_protection(StackName=stack, EnableTerminationProtection=True)
    code, _ = run("delete", "--env", "dev", "--stack-name", stack, "--yes")
    assert code == 4 and "update-termination-protection --no-enable-termination-protection" in capsys.readouterr().err


@pytest.mark.slow
def test_the_readme_main_job_runs_end_to_end_with_local(tmp_path):
    where = project_copy(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy.py"),
            "--env",
            "dev",
            "--local",
            "--yes",
            "--image-tag",
            "1.0.0",
            "--project-dir",
            str(where),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for expected in (
        "Local AWS emulator on http://127.0.0.1:",
        "cfn-lint clean",
        "uploaded",
        "Change set",
        "deployed",
        "SiteUrl",
        "BackendRepositoryUri",
        "/Vpc CREATE_COMPLETE",
        "9/9 |",
    ):  # live events of nested stacks, root progress
        assert expected in proc.stdout


def test_prod_gets_termination_protection_and_the_stack_policy_on_every_stack(aws_env):
    prefix, stack = unique()
    code, doc = run(
        "--env",
        "prod",
        "--stack-name",
        stack,
        "--yes",
        "--parameter",
        f"NamePrefix={prefix}",
        "--image-tag",
        "1.0.0",
        "--parameter",
        f"DomainName={prefix}.example.jp",
    )
    assert code == 0
    cfn = client(aws_env, "cloudformation")
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["EnableTerminationProtection"] is True
    policy = (REPO / "policies" / "stateful-stack-policy.json").read_text()
    nested = [
        r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::CloudFormation::Stack"
    ]
    assert (
        len(nested) == 11
    )  # keys, network, security, cache, registry, cluster, load balancer, monitoring, services, dns, records
    for target in [stack, *nested]:
        assert json.loads(cfn.get_stack_policy(StackName=target)["StackPolicyBody"]) == json.loads(policy)
    # prod hardening: WAF on the ALB, with logging; ALB deletion protection and access logs
    elb = client(aws_env, "elbv2")
    (alb,) = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == f"{prefix}-alb"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]
    }
    assert attrs["deletion_protection.enabled"] == "true" and attrs["access_logs.s3.enabled"] == "true"
    wafv2 = client(aws_env, "wafv2")
    acl = wafv2.get_web_acl_for_resource(ResourceArn=alb["LoadBalancerArn"])["WebACL"]
    assert [r["Name"] for r in acl["Rules"]][-1] == "per-ip-rate-limit"
    assert wafv2.get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"]["LogDestinationConfigs"]
    # prod monitoring: a NAT gateway per AZ and WAF, so their alarms exist too (dev has neither)
    alarms = {
        a["AlarmName"]
        for a in client(aws_env, "cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]
    }
    assert {
        f"{prefix}-nat-1-port-allocation",
        f"{prefix}-nat-2-packets-dropped",
        f"{prefix}-waf-blocked-requests",
    } <= alarms


def test_change_sets_run_as_the_bootstrapped_cloudformation_service_role(aws_env):
    prefix, stack = unique()
    assert deploy(prefix, stack)[0] == 0
    cfn, iam = client(aws_env, "cloudformation"), client(aws_env, "iam")
    role = iam.get_role(RoleName="cylink-cloudformation")["Role"]
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["RoleARN"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    code, doc = run("bootstrap")
    assert code == 0 and doc["serviceRoleArn"] == role["Arn"]
    inline = iam.get_role_policy(RoleName="cylink-cloudformation", PolicyName="manage-cylink-stacks")["PolicyDocument"]
    inline = json.loads(inline) if isinstance(inline, str) else inline
    # --json carries what bootstrap wrote to IAM, and the policy people are shown for the deployers
    assert doc["installedPolicies"]["manage-cylink-stacks"] == inline
    assert doc["deployerPolicy"]["Statement"] and doc["permissionsBoundaryArn"].endswith("/cylink-permissions-boundary")


def _with_redis_replacement(real_describe_tree):
    """The emulator gives no Replacement field: graft an AWS-shaped nested change set replacing Redis."""

    def describe_tree(cfn, change_set_id, path=""):
        nodes = real_describe_tree(cfn, change_set_id, path)
        nested = {
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "RedisReplicationGroup",
                "ResourceType": "AWS::ElastiCache::ReplicationGroup",
                "Replacement": "Conditional",
                "Details": [],
            },
            "Type": "Resource",
        }
        return nodes + [type(nodes[0])("CacheStack", {"ChangeSetId": "nested"}, [nested], None)]

    return describe_tree


def test_a_stateful_replacement_is_refused_but_shown_in_review(aws_env, monkeypatch, capsys):
    from cylink_deploy.cfn import changesets

    prefix, stack = unique()
    assert deploy(prefix, stack, "--image-tag", "1.0.0")[0] == 0
    monkeypatch.setattr(changesets, "describe_tree", _with_redis_replacement(changesets.describe_tree))
    code, doc = deploy(prefix, stack, "--image-tag", "1.0.1", "--no-execute")
    assert code == 0 and doc["refused"] == ["CacheStack/RedisReplicationGroup"]
    assert "REFUSED  CacheStack/RedisReplicationGroup" in capsys.readouterr().err
    review = doc["changeSetName"]
    code, _ = deploy(prefix, stack, "--image-tag", "1.0.2")  # would make the reviewed 1.0.1 change set obsolete
    assert code == 4 and f"{stack} has change set(s) under review: {review};" in capsys.readouterr().err
    code, _ = deploy(prefix, stack, "--image-tag", "1.0.2", "--supersede")
    assert code == 6
    assert "--allow-replacement CacheStack/RedisReplicationGroup" in capsys.readouterr().err
    cfn = client(aws_env, "cloudformation")
    assert {
        p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    }["ImageTag"] == "1.0.0"  # untouched
    code, doc = deploy(
        prefix,
        stack,
        "--image-tag",
        "1.0.2",
        "--supersede",
        "--allow-replacement",
        "RedisReplicationGroup",
        "--allow-replacement",
        "RedisReplicatonGroup",
    )
    assert code == 2  # a name that is no resource at all: a typo, refused once the change set is known
    err = capsys.readouterr().err
    assert "--allow-replacement RedisReplicatonGroup: no such resource in this change set nor stateful resource" in err
    assert "CacheStack/RedisReplicationGroup" in err.splitlines()[-1]  # the known ones are listed
    listed = client(aws_env, "cloudformation").list_change_sets(StackName=stack)["Summaries"]
    executable = [
        c["ChangeSetName"] for c in listed if c.get("StackName") == stack and c["ExecutionStatus"] == "AVAILABLE"
    ]
    assert executable == [review]  # the refused ones were deleted; the reviewed one is someone's still
    code, doc = deploy(
        prefix,
        stack,
        "--image-tag",
        "1.0.2",
        "--supersede",
        "--allow-replacement",
        "RedisReplicationGroup",
        "--allow-replacement",
        "KeysStack/DataKey",
    )
    assert code == 0 and doc["status"] == "DEPLOYED"
    assert (
        "--allow-replacement KeysStack/DataKey: this change set replaces or removes no stateful resource"
        in capsys.readouterr().err
    )


def test_a_review_an_unknown_image_and_a_protected_alb_each_stop_before_anything_changes(aws_env, capsys):
    """Issue 20 on the emulator: release and execute never make someone's reviewed change set obsolete without
    --supersede; deploy --image-tag checks ECR as release does; delete refuses while the ALB is protected."""
    prefix, stack = unique()
    assert deploy(prefix, stack, "--image-tag", "1.0.0", "--parameter", "AlbDeletionProtection=true")[0] == 0
    protected = ["--parameter", "AlbDeletionProtection=true"]
    code, _ = run("--env", "dev", "--stack-name", stack, "--parameter", f"NamePrefix={prefix}", *protected,
                  "--image-tag", "does-not-exist", "--no-execute")  # fmt: skip
    assert code == 2 and f"image tag does-not-exist is not in repository {prefix}/backend" in capsys.readouterr().err
    code, review = deploy(prefix, stack, *protected, "--parameter", "LogRetentionDays=14", "--no-execute")
    assert code == 0 and review["status"] == "REVIEW"
    capsys.readouterr()
    push(prefix, "1.1.0")
    release = ["release", "--env", "dev", "--stack-name", stack, "--yes", "--image-tag", "1.1.0"]
    code, _ = run(*release, "--parameter", f"NamePrefix={prefix}", *protected)
    assert (
        code == 4 and f"under review: {review['changeSetName']}; executing would make them" in capsys.readouterr().err
    )
    cfn = client(aws_env, "cloudformation")
    described = cfn.describe_change_set(StackName=stack, ChangeSetName=review["changeSetName"])
    assert described["ExecutionStatus"] == "AVAILABLE"  # the reviewer's change set is untouched
    code, other = deploy(prefix, stack, *protected, "--parameter", "LogRetentionDays=30", "--no-execute")
    assert code == 0 and "already has change set(s) under review" in capsys.readouterr().err
    execute = ["execute", "--env", "dev", "--stack-name", stack, "--yes", review["changeSetName"]]
    assert run(*execute)[0] == 4 and other["changeSetName"] in capsys.readouterr().err
    code, doc = run(*execute, "--supersede")
    assert code == 0 and doc["status"] == "DEPLOYED"
    code, _ = run("delete", "--env", "dev", "--stack-name", stack, "--yes")
    err = capsys.readouterr().err
    assert code == 4 and "has deletion protection on (AlbDeletionProtection=true)" in err
    assert f"python deploy.py --env dev --stack-name {stack} --parameter AlbDeletionProtection=false" in err
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"  # nothing deleted
    assert (
        deploy(prefix, stack, "--parameter", "AlbDeletionProtection=false", "--parameter", "LogRetentionDays=14")[0]
        == 0
    )
    code, doc = run("delete", "--env", "dev", "--stack-name", stack, "--yes")
    assert code == 0 and doc["status"] == "DELETED"
