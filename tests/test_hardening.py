"""Hardening controls (AWS Security Hub foundational best practices) in the built templates."""

from __future__ import annotations

import pytest

from cylink_deploy.cfn.changes import STATEFUL_TYPES


def test_the_data_key_rotates_is_retained_and_serves_exactly_logs_secrets_redis_ecr_and_alarm_topics(built):
    key = built.resource("keys", "DataKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    admin = statements["AccountAdministersTheKey"]
    assert not any(a in admin["Action"] for a in ("kms:*", "kms:Decrypt", "kms:Encrypt"))
    via = statements["DataServicesOfThisAccount"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert sorted(v["Fn::Sub"].split(".")[0] for v in via) == ["ecr", "elasticache", "secretsmanager", "sns"]
    alarms = statements["CloudWatchAlarmsOfThisAccountPublishToTheEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statements["CloudWatchLogsEncryptsThisAccountsLogGroups"]["Principal"] == {
        "Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
    }


def test_every_log_group_secret_repository_and_cache_uses_the_data_key(built):
    for stem in built.by_stem:
        for logical_id, res in built[stem]["Resources"].items():
            props = res.get("Properties", {})
            if res["Type"] in (
                "AWS::Logs::LogGroup",
                "AWS::SecretsManager::Secret",
                "AWS::ElastiCache::ReplicationGroup",
            ):
                assert props.get("KmsKeyId") == {"Ref": "DataKeyArn"}, f"{stem}.{logical_id}"
            if res["Type"] == "AWS::SNS::Topic":
                assert props.get("KmsMasterKeyId") == {"Ref": "DataKeyArn"}, f"{stem}.{logical_id}"
            if res["Type"] == "AWS::ECR::Repository":
                assert props["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {"Ref": "DataKeyArn"}}


def test_vpc_flow_logs_record_all_traffic_to_a_retained_log_group(built):
    flow = built.props("network", "VpcFlowLog")
    assert (flow["ResourceType"], flow["TrafficType"], flow["LogDestinationType"]) == ("VPC", "ALL", "cloud-watch-logs")
    trust = built.props("network", "FlowLogRole")["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert built.props("network", "FlowLogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_alb_logs_to_a_private_tls_only_bucket_and_has_deletion_protection_by_parameter(built):
    attrs = {a["Key"]: a["Value"] for a in built.props("loadbalancer", "LoadBalancer")["LoadBalancerAttributes"]}
    assert attrs["access_logs.s3.enabled"] == "true" and attrs["access_logs.s3.bucket"] == {"Ref": "AlbLogBucket"}
    assert attrs["deletion_protection.enabled"] == {"Ref": "AlbDeletionProtection"}
    assert attrs["routing.http.desync_mitigation_mode"] in ("defensive", "strictest")
    bucket = built.props("loadbalancer", "AlbLogBucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statements = {s["Sid"]: s for s in built.props("loadbalancer", "AlbLogBucketPolicy")["PolicyDocument"]["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["ElbAccountDeliversAccessLogs"]["Action"] == ["s3:PutObject"]
    assert built["loadbalancer"]["Mappings"]["ElbLogAccount"]["ap-northeast-1"] == {"Account": "582318560864"}
    params = built["root"]["Parameters"]
    assert params["AlbDeletionProtection"]["Default"] == "true"


def test_waf_has_managed_rules_a_rate_limit_metrics_and_logging_and_is_on_in_prod(built):
    acl = built.props("loadbalancer", "WebAcl")
    assert acl["Scope"] == "REGIONAL"
    names = [r["Name"] for r in acl["Rules"]]
    assert names == [
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "per-ip-rate-limit",
    ]
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in acl["Rules"])
    assert acl["Rules"][-1]["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": {"Ref": "WafRateLimit"},
    }
    assert built.props("loadbalancer", "WafLogging")["LogDestinationConfigs"] == [
        {"Fn::GetAtt": ["WafLogGroup", "Arn"]}
    ]
    assert built.props("loadbalancer", "WafLogGroup")["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")
    assert built.props("loadbalancer", "WebAclAssociation")["ResourceArn"] == {"Ref": "LoadBalancer"}
    assert {
        built.resource("loadbalancer", r)["Condition"]
        for r in ("WebAcl", "WebAclAssociation", "WafLogGroup", "WafLogging")
    } == {"HasWaf"}
    assert built["root"]["Parameters"]["WafEnabled"]["Default"] == "true"


@pytest.mark.parametrize("svc, writable", [("Backend", ["/tmp"]), ("Frontend", ["/tmp", "/app/.next/cache"])])
def test_containers_run_non_root_read_only_without_capabilities_with_init(built, svc, writable):
    td = built.props("services", f"{svc}TaskDefinition")
    (c,) = td["ContainerDefinitions"]
    assert c["User"] not in ("root", "0", "0:0") and c["User"]
    assert c["ReadonlyRootFilesystem"] is True
    assert c["LinuxParameters"] == {"Capabilities": {"Drop": ["ALL"]}, "InitProcessEnabled": True}
    assert not c.get("Privileged")
    assert [m["ContainerPath"] for m in c["MountPoints"]] == writable
    assert {m["SourceVolume"] for m in c["MountPoints"]} == {v["Name"] for v in td["Volumes"]}


def test_stateful_types_cover_everything_that_holds_data(built):
    types = {res["Type"] for tpl in built.by_stem.values() for res in tpl["Resources"].values()}
    assert types & STATEFUL_TYPES == STATEFUL_TYPES  # every stateful type the guard knows is in use
