"""No accidental data loss: stateful resources carry retain/snapshot policies, deploy.py refuses change
sets that replace or remove them (nested and Conditional included), and prod gets termination protection
and a stack policy from policies/."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy import polling
from cylink_deploy.cfn import changes, changesets, protection
from cylink_deploy.errors import Aborted, BadInput, UnsafeChange
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model

from . import stubbed
from .conftest import REPO
from .recording import RecordingReporter
from .test_deploy_stubbed import NESTED_ID, ROOT_CS, ROOT_ID, change, stub_tree


def test_every_stateful_resource_is_retained_or_snapshotted_on_delete_and_replace(built):
    found = 0
    for stem, tpl in built.by_stem.items():
        for logical_id, res in tpl["Resources"].items():
            if res["Type"] in changes.STATEFUL_TYPES:
                found += 1
                assert res.get("DeletionPolicy") in ("Retain", "Snapshot", "RetainExceptOnCreate"), (
                    f"{stem}.{logical_id}"
                )
                assert res.get("UpdateReplacePolicy") in ("Retain", "Snapshot"), f"{stem}.{logical_id}"
    assert found >= 6


def test_resources_with_fixed_names_are_deleted_only_when_the_create_that_made_them_fails(built):
    """A failed first create must not leave named log groups or repositories that block the retry."""
    named = {
        (stem, lid): res["DeletionPolicy"]
        for stem, tpl in built.by_stem.items()
        for lid, res in tpl["Resources"].items()
        if res["Type"] in ("AWS::Logs::LogGroup", "AWS::ECR::Repository")
        and any(k in res.get("Properties", {}) for k in ("LogGroupName", "RepositoryName"))
    }
    assert len(named) >= 5 and set(named.values()) == {"RetainExceptOnCreate"}, named


def test_the_guard_refuses_stateful_replacements_deep_in_nested_stacks():
    cfn = boto3.client("cloudformation", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub_tree(stub)
        nodes = changesets.describe_tree(cfn, ROOT_CS)
    assert [r.path for r in changes.unsafe(nodes)] == ["CacheStack/RedisReplicationGroup"]
    assert changes.unsafe(nodes, {"RedisReplicationGroup"}) == []
    assert changes.unsafe(nodes, {"CacheStack/RedisReplicationGroup"}) == []
    assert [r.path for r in changes.unsafe(nodes, {"SomethingElse"})] == ["CacheStack/RedisReplicationGroup"]


@pytest.mark.parametrize(
    "action, type_, replacement, refused",
    [
        ("Modify", "AWS::Logs::LogGroup", "Conditional", True),
        ("Remove", "AWS::ECR::Repository", None, True),
        ("Remove", "AWS::KMS::Key", None, True),
        ("Modify", "AWS::SecretsManager::Secret", "False", False),
        ("Modify", "AWS::ECS::Service", "True", False),  # replaced, but holds no data
        ("Add", "AWS::S3::Bucket", None, False),
    ],
)
def test_the_guard_decides_by_type_and_replacement(action, type_, replacement, refused):
    node = changes.ChangeSetNode("ClusterStack", stubbed.described(), [change(action, "Thing", type_, replacement)])
    assert bool(changes.unsafe([node])) is refused


def test_execute_change_set_refuses_an_unsafe_change_set_and_executes_nothing(project):
    cfn = boto3.client("cloudformation", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    sts = boto3.client("sts", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    reporter = RecordingReporter()
    with Stubber(cfn) as stub, Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "x"}
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": ROOT_CS,
                "ChangeSetName": "cs-root",
                "StackId": ROOT_ID,
                "StackName": "cylink-prod",
                "ExecutionStatus": "AVAILABLE",
                "Status": "CREATE_COMPLETE",
            },
            {"StackName": "cylink-prod", "ChangeSetName": "cs-root"},
        )
        stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": "cylink-prod"})  # nobody else's review
        stub_tree(stub)
        stub.add_response(
            "list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID}
        )  # RecordsStack: already gone
        # refused: deleted, as deploy does, so nobody executes it from the console by mistake (issue 20)
        stub.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
        with pytest.raises(UnsafeChange, match="--allow-replacement CacheStack/RedisReplicationGroup .*deleted"):
            deploy_job.execute(
                model.ExecuteRequest("prod", "cs-root"),
                stubbed.clients(cfn, sts=sts),
                reporter,
                project,
                lambda s: None,
            )
        stub.assert_no_pending_responses()  # no execute_change_set was stubbed, none was called
    (refused,) = reporter.of("refused")
    assert [(r.path, r.resource_type, r.replacement) for r in refused] == [
        ("CacheStack/RedisReplicationGroup", "AWS::ElastiCache::ReplicationGroup", "True")
    ]
    assert reporter.of("confirm") == []  # refused before anybody is asked


def test_the_stack_policy_protects_every_stateful_type_and_nested_stacks():
    policy = json.loads((REPO / "policies" / "stateful-stack-policy.json").read_text())
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert sorted(deny["Action"]) == ["Update:Delete", "Update:Replace"]
    assert set(deny["Condition"]["StringEquals"]["ResourceType"]) == changes.STATEFUL_TYPES | {
        "AWS::CloudFormation::Stack"
    }


def test_protection_config_is_checked(tmp_path):
    config = REPO / "policies" / protection.CONFIG_FILE
    assert protection.for_env("prod", config).termination is True
    assert protection.for_env("dev", config) == protection.Protection()
    bad = tmp_path / "bad-protection.yaml"
    bad.write_text("prod:\n  termination: true\n")
    with pytest.raises(BadInput, match="unknown key"):
        protection.for_env("prod", bad)


def test_apply_sets_termination_protection_and_the_policy_on_root_and_nested_stacks():
    cfn = boto3.client("cloudformation", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    prot = protection.for_env("prod", REPO / "policies" / protection.CONFIG_FILE)
    with Stubber(cfn) as stub:
        stub.add_response(
            "update_termination_protection",
            {"StackId": ROOT_ID},
            {"StackName": "cylink-prod", "EnableTerminationProtection": True},
        )
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "CacheStack",
                        "PhysicalResourceId": NESTED_ID,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": polling.now(),
                        "ResourceStatus": "CREATE_COMPLETE",
                    }
                ]
            },
            {"StackName": "cylink-prod"},
        )
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": NESTED_ID})
        for target in ("cylink-prod", NESTED_ID):
            stub.add_response("set_stack_policy", {}, {"StackName": target, "StackPolicyBody": prot.stack_policy})
        assert protection.apply(cfn, "cylink-prod", prot) == ["termination protection on", "stack policy on 2 stack(s)"]
        stub.assert_no_pending_responses()


def test_a_change_set_whose_condition_removes_a_nested_stack_holding_redis_is_refused_unless_allowed(project):
    """CloudFormation deletes everything inside a removed nested stack; its one Remove row hides the data."""
    cfn = boto3.client("cloudformation", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    sts = boto3.client("sts", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    root_cs = {
        "ChangeSetId": ROOT_CS,
        "ChangeSetName": "cs-root",
        "StackId": ROOT_ID,
        "StackName": "cylink-prod",
        "ExecutionStatus": "AVAILABLE",
        "Status": "CREATE_COMPLETE",
        "Changes": [change("Remove", "CacheStack", "AWS::CloudFormation::Stack")],
    }
    listing = {
        "LogicalResourceId": "CacheStack",
        "ResourceType": "AWS::CloudFormation::Stack",
        "PhysicalResourceId": NESTED_ID,
        "ResourceStatus": "CREATE_COMPLETE",
        "LastUpdatedTimestamp": "2026-11-28T10:00:00Z",
    }
    redis = {
        **listing,
        "LogicalResourceId": "RedisReplicationGroup",
        "ResourceType": "AWS::ElastiCache::ReplicationGroup",
        "PhysicalResourceId": "cylink-redis",
    }
    template = {
        "Resources": {
            "RedisReplicationGroup": {"Type": "AWS::ElastiCache::ReplicationGroup", "DeletionPolicy": "Snapshot"}
        }
    }

    def run(allowed: frozenset[str]) -> tuple[RecordingReporter, Exception]:
        reporter = RecordingReporter([False])  # allowed: shown, then declined, so nothing is executed either way
        with Stubber(cfn) as stub, Stubber(sts) as sts_stub:
            sts_stub.add_response(
                "get_caller_identity",
                {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "x"},
            )
            stub.add_response("describe_change_set", root_cs, {"StackName": "cylink-prod", "ChangeSetName": "cs-root"})
            stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": "cylink-prod"})
            stub.add_response("describe_change_set", root_cs, {"ChangeSetName": ROOT_CS})
            stub.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "cylink-prod",
                            "StackId": ROOT_ID,
                            "StackStatus": "UPDATE_COMPLETE",
                            "CreationTime": "2026-11-28T10:00:00Z",
                        }
                    ]
                },
                {"StackName": ROOT_ID},
            )
            stub.add_response("list_stack_resources", {"StackResourceSummaries": [listing]}, {"StackName": ROOT_ID})
            stub.add_response("list_stack_resources", {"StackResourceSummaries": [redis]}, {"StackName": NESTED_ID})
            stub.add_response(
                "get_template",
                {"TemplateBody": json.dumps(template)},
                {"StackName": NESTED_ID, "TemplateStage": "Processed"},
            )
            stub.add_response("list_stack_resources", {"StackResourceSummaries": [redis]}, {"StackName": NESTED_ID})
            if not allowed:  # the refused change set is deleted
                stub.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
            with pytest.raises((UnsafeChange, Aborted)) as err:
                deploy_job.execute(
                    model.ExecuteRequest("prod", "cs-root", allow_replacement=allowed),
                    stubbed.clients(cfn, sts=sts),
                    reporter,
                    project,
                    lambda s: None,
                )
            stub.assert_no_pending_responses()
        return reporter, err.value

    reporter, error = run(frozenset())
    assert isinstance(
        error, UnsafeChange
    ) and "rerun with --allow-replacement CacheStack/RedisReplicationGroup (" in str(error)
    (refused,) = reporter.of("refused")
    assert [(r.path, r.action, r.details) for r in refused] == [
        ("CacheStack/RedisReplicationGroup", "Remove", "removed with nested stack CacheStack")
    ]
    reporter, error = run(frozenset({"CacheStack/RedisReplicationGroup"}))
    assert isinstance(error, Aborted) and reporter.of("refused") == [[]]
