"""The root wires children only through root parameters and sibling outputs, completely."""

from __future__ import annotations

import pytest

from templates_src import render
from templates_src.root import CHILDREN


def _children(built):
    return {c.logical_id: (c, built[c.name]) for c in CHILDREN}


def test_every_child_parameter_is_supplied_and_nothing_extra(built):
    for logical_id, (child, tpl) in _children(built).items():
        supplied = built.props("root", logical_id)["Parameters"]
        assert sorted(supplied) == sorted(tpl["Parameters"]), child.name


def test_every_output_the_root_reads_exists_in_that_child(built):
    children = _children(built)
    reads = []

    def walk(node):
        if isinstance(node, dict):
            if "Fn::GetAtt" in node:
                target, attr = node["Fn::GetAtt"]
                reads.append((target, attr))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(built["root"])
    assert reads
    for target, attr in reads:
        assert attr.startswith("Outputs."), (target, attr)
        assert attr.removeprefix("Outputs.") in children[target][1]["Outputs"], (target, attr)


def test_no_root_parameter_is_unused(built):
    text = str(built["root"]["Resources"]) + str(built["root"]["Conditions"]) + str(built["root"].get("Rules", {}))
    for name in built["root"]["Parameters"]:
        assert f"'Ref': '{name}'" in text or "${" + name + "}" in text, name


def test_no_exports_or_imports_between_siblings(built):
    for stem, tpl in built.by_stem.items():
        assert "Fn::ImportValue" not in str(tpl), stem
        assert all("Export" not in o for o in tpl.get("Outputs", {}).values()), stem


def test_template_urls_come_from_bucket_and_prefix_parameters_and_content_hashes(built):
    for child in CHILDREN:
        url = built.props("root", child.logical_id)["TemplateURL"]["Fn::Sub"]
        assert url.startswith("https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}")
        file_name = url.rsplit("}", 1)[1]
        assert file_name in built.files and file_name.startswith(child.name + "-")


def test_an_unchanged_child_keeps_its_file_name_when_a_sibling_changes(monkeypatch):
    before = render.render()
    from templates_src import services

    monkeypatch.setattr(services, "HEALTH_CHECK_GRACE_SECONDS", 61)
    after = render.render()
    changed = sorted(set(before) ^ set(after))
    assert [n.split("-")[0] for n in changed] == ["services", "services"]
    assert before["root.json"] != after["root.json"]


def test_every_parameter_of_every_template_is_described_typed_and_constrained(built):
    for stem, tpl in built.by_stem.items():
        for name, spec in tpl["Parameters"].items():
            where = f"{stem}.{name}"
            assert spec.get("Description") and spec.get("Type"), where
            if spec["Type"] == "String":
                assert "AllowedPattern" in spec or "AllowedValues" in spec, where
            elif spec["Type"] == "Number":
                assert ("MinValue" in spec and "MaxValue" in spec) or "AllowedValues" in spec, where


# A real value each wired parameter must accept, and a plausible wiring mistake it must refuse: the
# constraint at the boundary is what turns a wrong output into a failed change set instead of a broken stack.
WIRED_EXAMPLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AlbCanonicalHostedZoneId": (("Z14GRHDCWA56QT",), ("z14grhdcwa56qt", "")),
    "AlbDnsName": (
        ("cylink-alb-1234567890.ap-northeast-1.elb.amazonaws.com",),
        ("https://cylink-alb.elb.amazonaws.com", "-alb.example.com"),
    ),
    "AlbFullName": (
        ("app/cylink-alb/50dc6c495c0c9188",),
        ("arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/cylink-alb/50dc6c495c0c9188",),
    ),
    "ApiUrl": (
        ("https://api.cylink.example.jp", "http://cylink-alb-1.ap-northeast-1.elb.amazonaws.com"),
        ("api.cylink.example.jp", "https://api.cylink.example.jp/"),
    ),
    "DeploymentAlarmNames": (
        ("cylink-backend-5xx,cylink-backend-latency", "cylink-backend-5xx"),
        (",cylink-backend-5xx", "a,,b", ""),
    ),
    "RoleArn": (
        ("arn:aws:iam::123456789012:role/cylink-backend-execution", "arn:aws-cn:iam::123456789012:role/x"),
        ("cylink-backend-execution",),
    ),
    "LogGroupName": (("/ecs/cylink-backend",), ("/ecs/cylink backend", "")),
    "RepositoryUri": (
        ("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/cylink/backend",),
        ("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/cylink/backend:1.0.0", "cylink/backend"),
    ),
    "TargetGroupArn": (
        ("arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/cylink-backend/73e2d6bc24d8a067",),
        ("targetgroup/cylink-backend/73e2d6bc24d8a067",),
    ),
    "TargetGroupFullName": (
        ("targetgroup/cylink-backend/73e2d6bc24d8a067",),
        ("arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/cylink-backend/73e2d6bc24d8a067",),
    ),
    "CertificateArn": (
        ("arn:aws:acm:ap-northeast-1:123456789012:certificate/12345678-1234-1234-1234-123456789012", ""),
        ("arn:aws:iam::123456789012:server-certificate/cylink",),
    ),
    "ClusterName": (("cylink-cluster",), ("arn:aws:ecs:ap-northeast-1:123456789012:cluster/cylink-cluster", "")),
    "DataKeyArn": (
        (
            "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/x",
        ),
        ("alias/cylink-data", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms"),
    ),
    "NatGateway1Id": (("nat-0a1b2c3d4e5f67890", "none"), ("igw-0a1b2c3d", "")),
    "NatGateway2Id": (("nat-0a1b2c3d4e5f67890", "none"), ("nat-", "None")),
    "SubnetIds": (
        ("subnet-0a1b2c3d,subnet-4e5f6a7b", "subnet-0a1b2c3d"),
        ("subnet-0a1b2c3d, subnet-4e5f6a7b", "subnet-0a1b2c3d,", "sg-0a1b2c3d"),
    ),
    "RedisAuthSecretArn": (
        ("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:cylink/redis-auth-AbCdEf",),
        ("cylink/redis-auth",),
    ),
    "RedisEndpointAddress": (
        ("master.cylink-redis.abcdef.apne1.cache.amazonaws.com",),
        ("master.cylink-redis.abcdef.apne1.cache.amazonaws.com:6379", ".x"),
    ),
    "RedisEndpointPort": (("6379",), ("6379/tcp", "", "123456")),
    "RedisReplicationGroupId": (("cylink-redis",), ("Cylink_Redis", "1redis")),
    "SiteOrigins": (
        (
            "https://cylink.example.jp,https://www.cylink.example.jp",
            "http://cylink-alb-1.ap-northeast-1.elb.amazonaws.com",
        ),
        ("https://cylink.example.jp, https://www.cylink.example.jp", "cylink.example.jp"),
    ),
}


def _example(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    key = next((k for k in sorted(WIRED_EXAMPLES, key=len, reverse=True) if name == k or name.endswith(k)), None)
    assert key, (
        f"{name} is wired between stacks with a constraint: add a value it must accept and one it must refuse to "
        "WIRED_EXAMPLES"
    )
    return WIRED_EXAMPLES[key]


def test_every_constraint_between_stacks_accepts_a_real_value_and_refuses_a_wiring_mistake(built):
    import re

    checked = set()
    for child in CHILDREN:
        for name, value in built.props("root", child.logical_id)["Parameters"].items():
            pattern = built[child.name]["Parameters"][name].get("AllowedPattern")
            if pattern is None or (isinstance(value, dict) and "Ref" in value):
                continue  # a root parameter: checked by deploy.py (tests/test_params.py)
            good, bad = _example(name)
            for v in good:
                assert re.fullmatch(pattern, v), f"{child.name}.{name} refuses the real value {v!r} ({pattern})"
            for v in bad:
                assert not re.fullmatch(pattern, v), f"{child.name}.{name} accepts the mistake {v!r} ({pattern})"
            checked.add(name)
    assert {
        "DataKeyArn",
        "PrivateSubnetIds",
        "PublicSubnetIds",
        "TaskSubnetIds",
        "AlbDnsName",
        "RedisEndpointAddress",
        "ApiUrl",
        "SiteOrigins",
    } <= checked


def test_nested_stack_logical_ids_already_shipped_never_change(built):
    """Renaming a nested stack replaces it: everything inside, data included, would be deleted and recreated."""
    stacks = {k for k, v in built["root"]["Resources"].items() if v["Type"] == "AWS::CloudFormation::Stack"}
    assert stacks == {
        "KeysStack",
        "NetworkStack",
        "SecurityStack",
        "CacheStack",
        "RegistryStack",
        "ClusterStack",
        "DnsStack",
        "LoadBalancerStack",
        "RecordsStack",
        "MonitoringStack",
        "ServicesStack",
    }


def test_services_need_an_image_tag_and_a_zone_is_created_only_for_a_domain_without_one(built):
    root = built["root"]
    assert root["Resources"]["ServicesStack"]["Condition"] == "HasImageTag"
    assert {root["Resources"][s]["Condition"] for s in ("DnsStack", "RecordsStack")} == {"HasDomain"}
    assert all(
        "Condition" not in root["Resources"][s] for s in ("KeysStack", "CacheStack", "RegistryStack", "MonitoringStack")
    )
    assert root["Conditions"]["HasImageTag"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ImageTag"}, ""]}]}
    assert root["Conditions"]["HasDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]}
    assert root["Conditions"]["CreateZone"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "HostedZoneId"}, ""]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]},
        ]
    }
    assert root["Outputs"]["NameServers"]["Condition"] == "CreateZone"


def test_a_deploy_without_the_templates_bucket_is_refused_by_a_rule(built):
    (assertion,) = built["root"]["Rules"]["TemplatesBucketIsSet"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "TemplatesBucket"}, ""]}]}
    assert built["root"]["Parameters"]["TemplatesBucket"]["Default"] == ""


def test_the_guides_defaults(built):
    defaults = {k: v.get("Default") for k, v in built["root"]["Parameters"].items()}
    assert {
        k: defaults[k]
        for k in (
            "RedisNodeCount",
            "RedisSnapshotRetentionDays",
            "EcrKeepImages",
            "FrontendMaxCapacity",
            "BackendMaxCapacity",
            "FrontendMinCapacity",
            "BackendMinCapacity",
            "WafRateLimit",
            "FargateSpotWeight",
            "EgressMode",
            "RedisNodeType",
        )
    } == {
        "RedisNodeCount": "2",
        "RedisSnapshotRetentionDays": "7",
        "EcrKeepImages": "30",
        "FrontendMaxCapacity": "6",
        "BackendMaxCapacity": "10",
        "FrontendMinCapacity": "2",
        "BackendMinCapacity": "2",
        "WafRateLimit": "20000",
        "FargateSpotWeight": "4",
        "EgressMode": "nat-per-az",
        "RedisNodeType": "cache.t3.medium",
    }
    users = {
        c["Name"]: c.get("User")
        for td in built.resources("services", "AWS::ECS::TaskDefinition").values()
        for c in td["Properties"]["ContainerDefinitions"]
    }
    assert users and set(users.values()) == {"1000:1000"}, users  # the node user of the Node.js images, never root


def test_a_service_definition_is_a_fixed_value():
    """Logical IDs, names and parameters derive from it: nothing may change it while templates are built."""
    from templates_src.common import BACKEND

    with pytest.raises(AttributeError):
        BACKEND.port = 8080  # type: ignore[misc]
    assert len({BACKEND, BACKEND}) == 1


def test_the_list_of_nested_stacks_is_fixed():
    with pytest.raises(AttributeError):
        CHILDREN[0].logical_id = "KeyStack"  # type: ignore[misc]
