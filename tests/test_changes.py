"""What a reviewer (and CI, through --json) is shown of a change set: parameters added, removed and
changed, changes driven by attributes, the keys CI reads, removed nested stacks, and the refusal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from cylink_deploy.cfn import changes
from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.errors import UnsafeChange

from .stubbed import described
from .test_deploy_stubbed import ROOT_CS, change

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import DescribeChangeSetOutputTypeDef

NESTED = "AWS::CloudFormation::Stack"


def params(**values: str) -> DescribeChangeSetOutputTypeDef:
    return described(Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])


def test_a_parameter_the_template_adds_is_shown_as_new_and_one_it_drops_as_removed():
    node = ChangeSetNode(
        "",
        params(EgressMode="single-nat", AlarmEmail="ops@example.com"),
        [],
        {"EgressMode": "single-nat", "OldKnob": "3"},
    )
    assert changes.parameter_changes(node) == [
        ("AlarmEmail", "(unset)", "ops@example.com"),
        ("OldKnob", "3", "(removed)"),
    ]


def test_unchanged_parameters_are_not_shown_and_a_new_stack_shows_no_parameter_diff():
    node = ChangeSetNode(
        "", params(EgressMode="single-nat", ImageTag="1.0.0"), [], {"EgressMode": "single-nat", "ImageTag": "1.0.0"}
    )
    assert changes.parameter_changes(node) == []
    assert changes.parameter_changes(ChangeSetNode("", params(EgressMode="single-nat"), [], None)) == []


def test_a_masked_parameter_never_shows_its_value_even_when_added_or_removed():
    added = ChangeSetNode("", params(Token="****"), [], {})
    removed = ChangeSetNode("", described(), [], {"Token": "****"})
    assert changes.parameter_changes(added) == [("Token", "****", "****")]
    assert changes.parameter_changes(removed) == [("Token", "****", "****")]
    unchanged = ChangeSetNode("", params(Token="****"), [], {"Token": "****"})
    assert changes.parameter_changes(unchanged) == []


def test_a_change_driven_only_by_tags_names_the_tags_as_its_cause():
    tagged = change(
        "Modify",
        "AlbLogBucket",
        "AWS::S3::Bucket",
        "False",
        details=[{"Target": {"Attribute": "Tags", "RequiresRecreation": "Never"}}],
    )
    both = change(
        "Modify",
        "Alb",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "False",
        details=[
            {"Target": {"Attribute": "Properties", "Name": "Subnets"}},
            {"Target": {"Attribute": "Tags"}},
            {"Target": {"Attribute": "Properties", "Name": "Subnets"}},  # the same property twice: said once
            {"Target": {}},
        ],
    )
    node = ChangeSetNode("LoadBalancerStack", described(), [tagged, both])
    assert [(r.logical_id, r.details) for r in changes.rows(node)] == [
        ("AlbLogBucket", "Tags"),
        ("Alb", "Subnets, Tags"),
    ]


def test_only_a_modification_carries_a_replacement_and_a_row_without_an_action_keeps_the_change_type():
    node = ChangeSetNode("", described(), [change("Add", "Bucket", "AWS::S3::Bucket", "True"), {"Type": "Resource"}])
    added, bare = changes.rows(node)
    assert (added.stack, added.action, added.replacement, added.destructive) == ("(root)", "Add", "", False)
    assert (bare.action, bare.logical_id, bare.resource_type, bare.details) == ("Resource", "", "", "")


def test_the_json_summary_carries_the_keys_ci_reads():
    root = ChangeSetNode(
        "",
        described(ChangeSetId=ROOT_CS, **params(RedisNodeType="cache.r7g.large")),
        [change("Modify", "CacheStack", NESTED, "False", "arn:nested")],
        {"RedisNodeType": "cache.t3.medium"},
    )
    nested = ChangeSetNode(
        "CacheStack",
        described(ChangeSetId="arn:nested"),
        [
            change("Modify", "RedisReplicationGroup", "AWS::ElastiCache::ReplicationGroup", "True"),
            change("Modify", "RedisSubnetGroup", "AWS::ElastiCache::SubnetGroup", "Conditional"),
        ],
    )
    doc = json.loads(json.dumps(changes.summary([root, nested])))
    first, second = doc["changeSets"]
    assert (first["stackPath"], first["changeSetId"], second["stackPath"], second["changeSetId"]) == (
        "(root)",
        ROOT_CS,
        "CacheStack",
        "arn:nested",
    )
    assert first["parameters"] == [{"key": "RedisNodeType", "old": "cache.t3.medium", "new": "cache.r7g.large"}]
    assert first["changes"] == [
        {
            "stackPath": "(root)",
            "action": "Modify",
            "logicalId": "CacheStack",
            "resourceType": NESTED,
            "replacement": "False",
            "details": "",
            "destructive": False,
            "losesData": False,
        }
    ]
    assert [(c["logicalId"], c["destructive"], c["losesData"]) for c in second["changes"]] == [
        ("RedisReplicationGroup", True, True),
        ("RedisSubnetGroup", True, False),
    ]


def test_a_removed_nested_stack_is_found_at_any_depth_but_only_the_roots_services_stack_means_removing_the_services():
    root = ChangeSetNode(
        "",
        described(),
        [
            change("Remove", "RecordsStack", NESTED),
            change("Remove", "Alarm", "AWS::CloudWatch::Alarm"),
            change("Modify", "ServicesStack", NESTED, "False"),
        ],
    )
    deep = ChangeSetNode("AppStack", described(), [change("Remove", "ServicesStack", NESTED)])
    assert [(node.path, row.logical_id) for node, row in changes.removed_nested_stacks([root, deep])] == [
        ("", "RecordsStack"),
        ("AppStack", "ServicesStack"),
    ]
    assert not changes.removes_services([root, deep])
    gone = ChangeSetNode("", described(), [change("Remove", "ServicesStack", NESTED)])
    assert changes.removes_services([gone])
    a_resource_named_like_it = ChangeSetNode("", described(), [change("Remove", "ServicesStack", "AWS::ECS::Service")])
    assert not changes.removes_services([a_resource_named_like_it])


def test_a_stateful_resource_inside_a_removed_nested_stack_is_refused_unless_allowed():
    node = ChangeSetNode("", described(), [change("Remove", "CacheStack", NESTED)])
    inside = [
        changes.Row(
            "CacheStack",
            "Remove",
            "RedisReplicationGroup",
            "AWS::ElastiCache::ReplicationGroup",
            "",
            "removed with nested stack CacheStack",
        )
    ]
    assert [r.path for r in changes.unsafe([node], inside=inside)] == ["CacheStack/RedisReplicationGroup"]
    assert changes.unsafe([node], {"CacheStack/RedisReplicationGroup"}, inside) == []
    assert (
        changes.unused_allowances([node], {"CacheStack/RedisReplicationGroup", "RedisReplicationGroup"}, inside) == []
    )


def test_an_allowance_that_matches_nothing_is_reported_as_unused():
    node = ChangeSetNode(
        "CacheStack",
        described(),
        [
            change("Modify", "RedisReplicationGroup", "AWS::ElastiCache::ReplicationGroup", "True"),
            change("Modify", "RedisSubnetGroup", "AWS::ElastiCache::SubnetGroup", "True"),
        ],
    )
    allowed = {"RedisReplicationGroup", "CacheStack/RedisReplicationGroup", "RedisSubnetGroup", "RedisReplicatonGroup"}
    assert changes.unused_allowances([node], allowed) == [
        "RedisReplicatonGroup",
        "RedisSubnetGroup",
    ]  # a typo; a group holding no data


@pytest.mark.parametrize("replacement, loses", [("True", True), ("Conditional", True), ("False", False), ("", False)])
def test_a_stateful_modification_loses_data_only_when_it_may_replace(replacement, loses):
    row = changes.Row("CacheStack", "Modify", "Redis", "AWS::ElastiCache::ReplicationGroup", replacement, "")
    assert row.loses_data is loses and row.path == "CacheStack/Redis"


def test_the_refusal_is_one_line_naming_every_resource_and_the_flags_that_allow_it():
    refused = [
        changes.Row("(root)", "Remove", "DataKey", "AWS::KMS::Key", "", ""),
        changes.Row("CacheStack", "Modify", "Redis", "AWS::ElastiCache::ReplicationGroup", "True", ""),
    ]
    err = changes.refusal(refused)
    assert isinstance(err, UnsafeChange)
    text = str(err)
    assert "\n" not in text and "DataKey, CacheStack/Redis" in text
    assert text.endswith("--allow-replacement DataKey --allow-replacement CacheStack/Redis")


def test_a_change_set_without_changes_or_a_known_stack_shows_nothing():
    node = ChangeSetNode("", params(EgressMode="single-nat"))  # as built before the pages and the stack are read
    assert changes.rows(node) == [] and changes.parameter_changes(node) == []


def test_a_parameter_without_a_value_is_empty_not_invented():
    node = ChangeSetNode(
        "",
        described(Parameters=[{"ParameterKey": "AlarmEmail"}, {"ParameterKey": "DomainName"}]),
        [],
        {"AlarmEmail": "", "DomainName": "x.jp"},
    )
    assert changes.parameter_changes(node) == [("DomainName", "x.jp", "")]


def test_a_modification_aws_gives_no_replacement_for_is_not_a_replacement():
    node = ChangeSetNode("", described(), [change("Modify", "Repo", "AWS::ECR::Repository"), {}])
    modified, empty = changes.rows(node)
    assert (modified.replacement, modified.loses_data) == ("", False)
    assert (empty.action, empty.logical_id) == ("", "")


def test_a_row_once_shown_cannot_change_and_equal_rows_are_one():
    row = changes.Row("CacheStack", "Modify", "Redis", "AWS::ElastiCache::ReplicationGroup", "True", "")
    with pytest.raises(AttributeError):
        row.replacement = "False"  # type: ignore[misc]
    assert len({row, changes.Row(*row.__dict__.values())}) == 1
