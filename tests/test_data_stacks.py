"""Redis (guide §5), ECR (§6), cluster and log groups (§7)."""

from __future__ import annotations

import json


def test_redis_is_an_encrypted_replication_group_with_auth_from_secrets_manager(built):
    assert not built.resources("cache", "AWS::ElastiCache::CacheCluster")
    rg = built.resource("cache", "RedisReplicationGroup")
    p = rg["Properties"]
    assert (rg["DeletionPolicy"], rg["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    assert p["AtRestEncryptionEnabled"] is True and p["TransitEncryptionEnabled"] is True
    assert p["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${RedisAuthSecret}:SecretString}}"}
    assert p["NumCacheClusters"] == {"Ref": "RedisNodeCount"}
    assert p["SnapshotRetentionLimit"] == {"Ref": "RedisSnapshotRetentionDays"}
    assert p["CacheSubnetGroupName"] == {"Ref": "RedisSubnetGroup"}
    assert built.props("cache", "RedisSubnetGroup")["SubnetIds"] == {"Fn::Split": [",", {"Ref": "PrivateSubnetIds"}]}
    assert built["root"]["Parameters"]["RedisNodeType"]["Default"] == "cache.t3.medium"


def test_redis_fails_over_across_azs_exactly_when_it_has_two_or_more_nodes_unless_switched_off(built):
    """RedisFailover off is the first step of adding or removing the replica (issue 21 finding 2)."""
    p = built.props("cache", "RedisReplicationGroup")
    assert p["AutomaticFailoverEnabled"] == p["MultiAZEnabled"] == {"Fn::If": ["Failover", True, False]}
    conditions = built["cache"]["Conditions"]
    assert conditions["MultiNode"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RedisNodeCount"}, "1"]}]}
    assert conditions["Failover"] == {
        "Fn::And": [{"Condition": "MultiNode"}, {"Fn::Equals": [{"Ref": "RedisFailover"}, "auto"]}]
    }
    assert built["root"]["Parameters"]["RedisFailover"]["Default"] == "auto"


def test_ecr_repositories_are_scanned_immutable_bounded_and_retained(built):
    repos = built.resources("registry", "AWS::ECR::Repository")
    assert sorted(r["Properties"]["RepositoryName"]["Fn::Sub"] for r in repos.values()) == [
        "${NamePrefix}/backend",
        "${NamePrefix}/frontend",
    ]
    for repo in repos.values():
        p = repo["Properties"]
        assert (repo["DeletionPolicy"], repo["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
        assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert p["ImageTagMutability"] == "IMMUTABLE"
        rules = json.loads(p["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"].replace("${EcrKeepImages}", "30"))[
            "rules"
        ]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
        assert rules[1]["selection"]["countNumber"] == 30


def test_cluster_uses_fargate_and_spot_with_the_guide_strategy_and_insights(built):
    cluster = built.props("cluster", "Cluster")
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    assoc = built.props("cluster", "ClusterCapacityProviders")
    assert assoc["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert assoc["DefaultCapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": {"Ref": "FargateSpotWeight"}},
    ]
    assert built["root"]["Parameters"]["FargateSpotWeight"]["Default"] == "4"


def test_backend_execution_role_reads_exactly_the_redis_secret(built):
    role = built.props("cluster", "BackendExecutionRole")
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}
    ]
    (policy,) = role["Policies"]
    secret, key = policy["PolicyDocument"]["Statement"]
    assert secret == {
        "Action": ["secretsmanager:GetSecretValue"],
        "Effect": "Allow",
        "Resource": [{"Ref": "RedisAuthSecretArn"}],
    }
    # the secret is encrypted with the data key: decrypt it only through Secrets Manager
    assert key["Action"] == ["kms:Decrypt"] and key["Resource"] == [{"Ref": "DataKeyArn"}]
    assert key["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }


def test_each_service_starts_with_its_own_execution_role_reading_only_its_own_secrets(built):
    """The frontend receives no secret, so its execution role can read none (it used to share the backend's)."""
    services = built["services"]["Resources"]
    assert "TaskExecutionRole" not in built["cluster"]["Resources"]
    for svc in ("Backend", "Frontend"):
        task = services[f"{svc}TaskDefinition"]["Properties"]
        assert task["ExecutionRoleArn"] == {"Ref": f"{svc}ExecutionRoleArn"}
        role = built.props("cluster", f"{svc}ExecutionRole")
        readable = [
            r
            for p in role.get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]
            if "secretsmanager:GetSecretValue" in s["Action"]
            for r in s["Resource"]
        ]
        received = [s["ValueFrom"] for c in task["ContainerDefinitions"] for s in c.get("Secrets", [])]
        assert readable == received
    assert built.props("cluster", "FrontendExecutionRole").get("Policies", []) == []
    # the root wires each role to its own service
    params = built.props("root", "ServicesStack")["Parameters"]
    assert params["FrontendExecutionRoleArn"] == {"Fn::GetAtt": ["ClusterStack", "Outputs.FrontendExecutionRoleArn"]}


def test_each_service_has_its_own_task_role_trusting_only_this_account(built):
    for svc in ("Backend", "Frontend"):
        trust = built.props("cluster", f"{svc}TaskRole")["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_log_groups_have_the_guide_names_retention_and_are_retained(built):
    groups = built.resources("cluster", "AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values()) == [
        "/ecs/${NamePrefix}-backend",
        "/ecs/${NamePrefix}-frontend",
    ]
    for group in groups.values():
        assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
