"""Deploy logic against responses shaped like the AWS API reference (botocore Stubber), for what the
emulator cannot show: nested change sets with Replacement, nested failures, stuck states, throttling,
expired credentials."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.stub import ANY, Stubber

from cylink_deploy import aws, cli, errors, polling
from cylink_deploy.cfn import changes, changesets
from cylink_deploy.cfn import events as stack_events
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import Aborted, StackStateError
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.views import ChangeSets
from cylink_deploy.output.human import HumanReporter

from . import stubbed
from .recording import RecordingReporter

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

REGION = "ap-northeast-1"
ROOT_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/aaaa"
NESTED_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod-CacheStack-1X/bbbb"
ROOT_CS = "arn:aws:cloudformation:ap-northeast-1:123456789012:changeSet/cs-root/1111"
NESTED_CS = "arn:aws:cloudformation:ap-northeast-1:123456789012:changeSet/cs-nested/2222"
T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc)


def cfn_client():
    return boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def change(action, logical_id, type_, replacement=None, change_set_id=None, details=()):
    rc = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": type_, "Details": list(details)}
    if replacement is not None:
        rc["Replacement"] = replacement
    if change_set_id:
        rc["ChangeSetId"] = change_set_id
    return {"Type": "Resource", "ResourceChange": rc}


def stack_desc(stack_id, status, params=None, **extra):
    return {
        "Stacks": [
            {
                "StackName": stack_id.split("/")[1],
                "StackId": stack_id,
                "StackStatus": status,
                "CreationTime": T0,
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()],
                **extra,
            }
        ]
    }


def stub_tree(stub: Stubber) -> None:
    """Root change set (two pages) whose CacheStack has a nested change set replacing Redis."""
    root_page1 = {
        "ChangeSetId": ROOT_CS,
        "ChangeSetName": "cs-root",
        "StackId": ROOT_ID,
        "StackName": "cylink-prod",
        "Status": "CREATE_COMPLETE",
        "Parameters": [
            {"ParameterKey": "RedisNodeType", "ParameterValue": "cache.r7g.large"},
            {"ParameterKey": "DbPassword", "ParameterValue": "****"},
        ],
        "Changes": [change("Modify", "CacheStack", "AWS::CloudFormation::Stack", "False", NESTED_CS)],
        "NextToken": "page2",
    }
    root_page2 = {
        "ChangeSetId": ROOT_CS,
        "StackId": ROOT_ID,
        "Status": "CREATE_COMPLETE",
        "Changes": [change("Remove", "RecordsStack", "AWS::CloudFormation::Stack")],
    }
    nested = {
        "ChangeSetId": NESTED_CS,
        "ChangeSetName": "cs-nested",
        "StackId": NESTED_ID,
        "Status": "CREATE_COMPLETE",
        "Parameters": [{"ParameterKey": "RedisNodeType", "ParameterValue": "cache.r7g.large"}],
        "Changes": [
            change(
                "Modify",
                "RedisReplicationGroup",
                "AWS::ElastiCache::ReplicationGroup",
                "True",
                details=[
                    {"Target": {"Attribute": "Properties", "Name": "CacheNodeType", "RequiresRecreation": "Always"}}
                ],
            ),
            change("Modify", "RedisSubnetGroup", "AWS::ElastiCache::SubnetGroup", "Conditional"),
            change("Modify", "RedisAuthSecret", "AWS::SecretsManager::Secret", "False"),
        ],
    }
    stub.add_response("describe_change_set", root_page1, {"ChangeSetName": ROOT_CS})
    stub.add_response("describe_change_set", root_page2, {"ChangeSetName": ROOT_CS, "NextToken": "page2"})
    stub.add_response(
        "describe_stacks",
        stack_desc(ROOT_ID, "UPDATE_COMPLETE", {"RedisNodeType": "cache.t3.medium", "DbPassword": "****"}),
        {"StackName": ROOT_ID},
    )
    stub.add_response("describe_change_set", nested, {"ChangeSetName": NESTED_CS})
    stub.add_response(
        "describe_stacks",
        stack_desc(NESTED_ID, "UPDATE_COMPLETE", {"RedisNodeType": "cache.t3.medium"}),
        {"StackName": NESTED_ID},
    )


def test_nested_change_sets_are_shown_per_stack_with_replacements_standing_out():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_tree(stub)
        nodes = changesets.describe_tree(cfn, ROOT_CS)
        stub.assert_no_pending_responses()
    assert [n.path for n in nodes] == ["", "CacheStack"]
    rows = changes.all_rows(nodes)
    assert [(r.stack, r.logical_id, r.replacement, r.destructive) for r in rows] == [
        ("(root)", "CacheStack", "False", False),
        ("(root)", "RecordsStack", "", True),  # a removal (from page 2)
        ("CacheStack", "RedisReplicationGroup", "True", True),
        ("CacheStack", "RedisSubnetGroup", "Conditional", True),
        ("CacheStack", "RedisAuthSecret", "False", False),
    ]
    assert rows[2].details == "CacheNodeType"
    assert changes.parameter_changes(nodes[0]) == [
        ("RedisNodeType", "cache.t3.medium", "cache.r7g.large")
    ]  # NoEcho unchanged: hidden
    out = io.StringIO()
    HumanReporter(out=out).show(ChangeSets(nodes))
    text = out.getvalue()
    assert "CacheStack: 3 change(s)" in text and "RedisNodeType: cache.t3.medium -> cache.r7g.large" in text
    assert (
        "3 replacement(s)/removal(s): (root)/RecordsStack, CacheStack/RedisReplicationGroup, "
        "CacheStack/RedisSubnetGroup" in text
    )
    assert "****" not in text


def test_noecho_parameter_changes_are_masked():
    node = changes.ChangeSetNode(
        "",
        stubbed.described(Parameters=[{"ParameterKey": "Token", "ParameterValue": "****"}]),
        [],
        {"Token": "old-secret"},
    )
    assert changes.parameter_changes(node) == [("Token", "****", "****")]


def event(
    stack_id, logical_id, status, seconds, reason=None, type_="AWS::ElastiCache::ReplicationGroup", physical=None
):
    e = {
        "StackId": stack_id,
        "StackName": stack_id.split("/")[1],
        "EventId": f"{logical_id}-{status}-{seconds}",
        "LogicalResourceId": logical_id,
        "ResourceType": type_,
        "ResourceStatus": status,
        "Timestamp": T0 + timedelta(seconds=seconds),
    }
    if reason:
        e["ResourceStatusReason"] = reason
    if physical:
        e["PhysicalResourceId"] = physical
    return e


def test_a_failure_deep_in_a_nested_stack_is_reported_first_as_the_root_cause(capsys):
    cfn = cfn_client()
    root_events = [
        event(
            ROOT_ID,
            "cylink-prod",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            40,
            "The following resource(s) failed to update: [CacheStack].",
            "AWS::CloudFormation::Stack",
            ROOT_ID,
        ),
        event(
            ROOT_ID,
            "CacheStack",
            "UPDATE_FAILED",
            39,
            "Embedded stack arn:...CacheStack was not successfully updated.",
            "AWS::CloudFormation::Stack",
            NESTED_ID,
        ),
        event(ROOT_ID, "CacheStack", "UPDATE_IN_PROGRESS", 1, None, "AWS::CloudFormation::Stack", NESTED_ID),
    ]
    nested_events = [
        event(NESTED_ID, "RedisSubnetGroup", "UPDATE_FAILED", 38, "Resource update cancelled"),
        event(
            NESTED_ID,
            "RedisReplicationGroup",
            "UPDATE_FAILED",
            30,
            "Cache node type cache.x9.huge is not supported in ap-northeast-1",
        ),
        event(NESTED_ID, "RedisReplicationGroup", "UPDATE_IN_PROGRESS", 2),
    ]
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    event(ROOT_ID, "cylink-prod", "UPDATE_COMPLETE", -60, None, "AWS::CloudFormation::Stack", ROOT_ID)
                ]
            },
            {"StackName": ROOT_ID},
        )
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": ROOT_CS})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": root_events}, {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": nested_events}, {"StackName": NESTED_ID})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT_ID})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    event(
                        ROOT_ID,
                        "cylink-prod",
                        "UPDATE_ROLLBACK_COMPLETE",
                        90,
                        None,
                        "AWS::CloudFormation::Stack",
                        ROOT_ID,
                    ),
                    *root_events,
                ]
            },
            {"StackName": ROOT_ID},
        )
        stub.add_response("describe_stack_events", {"StackEvents": nested_events}, {"StackName": NESTED_ID})
        out = io.StringIO()
        with pytest.raises(
            errors.DeploymentFailed, match=r"ended UPDATE_ROLLBACK_COMPLETE \(root cause: RedisReplicationGroup\)"
        ):
            deploy_job.execute_and_follow(
                cfn, "cylink-prod", ROOT_CS, ROOT_ID, 3, HumanReporter(out=out), lambda s: None, clock=lambda: T0
            )
        stub.assert_no_pending_responses()
    text = out.getvalue()
    cause = text.index("Root cause:")
    assert "Root cause: root/CacheStack/RedisReplicationGroup (" in text[cause:]  # its logical path (issue 23)
    assert "[ 0/3 |   0 resources] 0:01 root/CacheStack UPDATE_IN_PROGRESS" in text  # the plain log's too
    assert "cache.x9.huge is not supported" in text[cause:]
    assert text.count("RedisReplicationGroup UPDATE_FAILED") == 1  # deduplicated across polls


def test_root_cause_skips_cancellations_and_embedded_stack_messages():
    events = [
        event(ROOT_ID, "CacheStack", "CREATE_FAILED", 5, "Embedded stack x was not successfully created"),
        event(NESTED_ID, "Other", "CREATE_FAILED", 4, "Resource creation cancelled"),
        event(NESTED_ID, "Real", "CREATE_FAILED", 6, "Invalid parameter"),
    ]
    cause = stack_events.root_cause(events)
    assert cause is not None and cause["LogicalResourceId"] == "Real"
    assert stack_events.root_cause([]) is None


def test_a_rollback_complete_first_create_is_explained_and_cleaned_up_after_confirmation():
    cfn = cfn_client()
    dev_id = ROOT_ID.replace("cylink-prod", "cylink-dev")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(dev_id, "ROLLBACK_COMPLETE"), {"StackName": "cylink-dev"})
        stub.add_response("describe_stacks", stack_desc(dev_id, "ROLLBACK_COMPLETE"), {"StackName": "cylink-dev"})
        stub.add_response("delete_stack", {}, {"StackName": dev_id})
        stub.add_response("describe_stacks", stack_desc(dev_id, "DELETE_IN_PROGRESS"), {"StackName": dev_id})
        stub.add_response("describe_stacks", stack_desc(dev_id, "DELETE_COMPLETE"), {"StackName": dev_id})
        reporter = RecordingReporter(answers=[True])
        plan = deploy_job.settle(cfn, "cylink-dev", reporter, lambda s: None)
        stub.assert_no_pending_responses()
    assert plan.change_set_type == "CREATE" and plan.clean_up_first
    assert "its first create failed and rolled back" in reporter.text()
    assert reporter.of("confirm") == ["Delete the empty stack cylink-dev?"]


def test_declining_the_cleanup_changes_nothing():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "REVIEW_IN_PROGRESS"), {"StackName": "cylink-dev"})
        stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": "cylink-dev"})
        with pytest.raises(Aborted):
            deploy_job.settle(cfn, "cylink-dev", RecordingReporter(answers=[False]), lambda s: None)
        stub.assert_no_pending_responses()  # no delete_stack was called


def test_a_stack_with_a_change_set_under_review_is_never_deleted_by_another_deploy():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "REVIEW_IN_PROGRESS"), {"StackName": "cylink-dev"})
        stub.add_response(
            "list_change_sets",
            {
                "Summaries": [
                    {
                        "ChangeSetName": "cylink-dev-20261128-101500-3f9a1c",
                        "ExecutionStatus": "AVAILABLE",
                        "Status": "CREATE_COMPLETE",
                    }
                ]
            },
            {"StackName": "cylink-dev"},
        )
        with pytest.raises(
            StackStateError, match="has change set cylink-dev-20261128-101500-3f9a1c under review: execute it"
        ):
            deploy_job.settle(cfn, "cylink-dev", RecordingReporter(), lambda s: None)
        stub.assert_no_pending_responses()  # no delete_stack, nobody asked


def test_an_in_progress_stack_is_waited_for_with_backoff_never_a_second_operation():
    cfn = cfn_client()
    sleeps: list[float] = []
    with Stubber(cfn) as stub:
        for status in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"):
            stub.add_response("describe_stacks", stack_desc(ROOT_ID, status), {"StackName": "cylink-prod"})
        assert st.wait_settled(cfn, "cylink-prod", sleeps.append) == "UPDATE_COMPLETE"
        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 1.5]


@pytest.mark.parametrize(
    "status, step",
    [
        ("UPDATE_ROLLBACK_FAILED", "aws cloudformation continue-update-rollback --stack-name cylink-prod"),
        ("DELETE_FAILED", "aws cloudformation delete-stack --stack-name cylink-prod"),
        ("UPDATE_FAILED", "aws cloudformation rollback-stack --stack-name cylink-prod"),
    ],
)
def test_stuck_states_stop_with_the_exact_recovery_step(status, step):
    with pytest.raises(StackStateError) as err:
        st.plan(status, "cylink-prod")
    assert step in str(err.value) and "\n" not in str(err.value)


def test_change_set_polling_backs_off_from_one_second():
    delays = polling.backoff()
    assert [round(next(delays), 2) for _ in range(6)] == [1.0, 1.5, 2.25, 3.38, 5.0, 5.0]


def test_throttling_is_retried_by_botocore_adaptive_retries():
    """Real retry machinery: the first two HTTP attempts get AWS's Throttling error, the third succeeds."""
    client = aws.make_clients(
        aws.make_session(REGION, None, {"aws_access_key_id": "x", "aws_secret_access_key": "x"})
    ).cloudformation
    attempts = []

    def respond(request, **kwargs):
        attempts.append(request.url)
        if len(attempts) <= 2:
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
            )
            return AWSResponse(request.url, 400, HTTPHeaders(), _Raw(body))
        body = (
            b"<DescribeStacksResponse><DescribeStacksResult><Stacks></Stacks></DescribeStacksResult>"
            b"</DescribeStacksResponse>"
        )
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw(body))

    client.meta.events.register("before-send.cloudformation.DescribeStacks", respond)
    client.meta.events.register("before-sleep", lambda **kw: None)
    assert client.describe_stacks()["Stacks"] == []
    assert len(attempts) == 3


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body

    def read(self, *args):
        return self.body


@pytest.mark.parametrize(
    "code, expected",
    [
        ("ExpiredToken", "your AWS credentials have expired"),
        ("InvalidClientTokenId", "AWS rejected the credentials"),
        ("AccessDenied", "access denied on DescribeStacks"),
    ],
)
def test_credential_failures_give_one_actionable_line_and_exit_3(monkeypatch, capsys, code, expected):
    """The first call (the stack's recorded environment, checked against --env) meets the bad credentials."""
    cfn = cfn_client()
    stub = Stubber(cfn)
    stub.add_client_error("describe_stacks", service_error_code=code, service_message="...", http_status_code=403)
    stub.activate()
    monkeypatch.setattr(aws, "make_clients", lambda session, endpoint_url=None: stubbed.clients(cfn))
    assert cli.main(["--env", "dev", "--yes"]) == 3
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err


def test_missing_credentials_say_what_to_do(monkeypatch, capsys):
    import botocore.exceptions as bex

    def no_credentials(session, endpoint_url=None):
        raise bex.NoCredentialsError()

    monkeypatch.setattr(aws, "make_clients", no_credentials)
    assert cli.main(["--env", "dev", "--yes"]) == 3
    assert "no AWS credentials found: run 'aws configure'" in capsys.readouterr().err


def test_an_unknown_profile_is_bad_input(capsys):
    assert cli.main(["--env", "dev", "--yes", "--profile", "no-such-profile-xyz"]) == 2
    assert "--profile no-such-profile-xyz: no such profile" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--no-execute", "--delete"], "unrecognized arguments: --no-execute"),
        (["--delete", "--image-tag", "x"], "unrecognized arguments: --image-tag x"),
        (["--local", "--delete"], "unrecognized arguments: --local"),
        (["--delete", "--bootstrap"], "--delete and --bootstrap cannot be combined"),
        (["--port", "1"], "unrecognized arguments: --port 1"),
        (["--stack-name", "Prod Stack"], "--stack-name: 'Prod Stack': use cylink-"),
        (["--stack-name", "cylink-dev\n"], "use cylink-"),
    ],
)
def test_bad_flag_combinations_are_rejected_in_one_line(capsys, argv, message):
    assert cli.main(["--env", "dev", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("error: ")
    assert len([line for line in err if line.startswith("error")]) == 1


def test_create_change_set_keeps_the_running_image_tag_on_update():
    cfn = cfn_client()
    expected = {
        "StackName": "cylink-prod",
        "ChangeSetName": "cs",
        "ChangeSetType": "UPDATE",
        "TemplateURL": "https://b.s3.amazonaws.com/k",
        "Parameters": [
            {"ParameterKey": "EgressMode", "ParameterValue": "nat-per-az"},
            {"ParameterKey": "ImageTag", "UsePreviousValue": True},
        ],
        "Tags": [{"Key": "Project", "Value": "Cylink"}],
        "Capabilities": changesets.CAPABILITIES,
        "IncludeNestedStacks": True,
        "Description": ANY,
        "RoleARN": "arn:aws:iam::123456789012:role/cylink-cloudformation",
    }
    with Stubber(cfn) as stub:
        stub.add_response("create_change_set", {"Id": ROOT_CS, "StackId": ROOT_ID}, expected)
        changesets.create_change_set(
            cfn,
            "cylink-prod",
            "cs",
            "UPDATE",
            "https://b.s3.amazonaws.com/k",
            {"EgressMode": "nat-per-az"},
            {"Project": "Cylink"},
            "d",
            ("ImageTag",),
            "arn:aws:iam::123456789012:role/cylink-cloudformation",
        )
        stub.assert_no_pending_responses()


def test_serve_local_rejects_a_privileged_or_invalid_port(capsys):
    assert cli.main(["--serve-local", "--port", "80"]) == 2
    assert "use a free port between 1024 and 65535" in capsys.readouterr().err


def test_a_change_set_that_never_finishes_computing_is_reported_not_waited_on_forever():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        for _ in range(4):
            stub.add_response(
                "describe_change_set",
                {"ChangeSetId": ROOT_CS, "ChangeSetName": "cs-root", "Status": "CREATE_IN_PROGRESS"},
                {"ChangeSetName": ROOT_CS},
            )
        with pytest.raises(errors.DeploymentFailed, match="still CREATE_IN_PROGRESS after 5 s"):
            changesets.wait_change_set(cfn, ROOT_CS, lambda s: None, timeout=4)
        stub.assert_no_pending_responses()


def test_a_failed_change_set_reports_its_reason_and_an_empty_one_is_no_changes():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": ROOT_CS,
                "ChangeSetName": "cs-root",
                "Status": "FAILED",
                "StatusReason": (
                    "The submitted information didn't contain changes. Submit different information to create a "
                    "change set."
                ),
            },
            {"ChangeSetName": ROOT_CS},
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": ROOT_CS,
                "ChangeSetName": "cs-root",
                "Status": "FAILED",
                "StatusReason": "Template error: instance of Fn::GetAtt references undefined resource Foo",
            },
            {"ChangeSetName": ROOT_CS},
        )
        with pytest.raises(errors.NoChanges):
            changesets.wait_change_set(cfn, ROOT_CS, lambda s: None)
        with pytest.raises(errors.DeploymentFailed, match="undefined resource Foo"):
            changesets.wait_change_set(cfn, ROOT_CS, lambda s: None)


def test_following_survives_a_nested_stack_that_was_replaced_and_deleted():
    cfn = cfn_client()
    old_nested = NESTED_ID.replace("bbbb", "old")
    events = [
        event(ROOT_ID, "CacheStack", "UPDATE_COMPLETE", 5, None, "AWS::CloudFormation::Stack", NESTED_ID),
        event(ROOT_ID, "CacheStack", "DELETE_COMPLETE", 4, None, "AWS::CloudFormation::Stack", old_nested),
    ]
    seen: list[StackEventTypeDef] = []
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_COMPLETE"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": ROOT_ID})
        stub.add_client_error(
            "describe_stack_events",
            "ValidationError",
            f"Stack with id {old_nested} does not exist",
            expected_params={"StackName": old_nested},
        )
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": NESTED_ID})
        assert stack_events.follow(cfn, ROOT_ID, T0, seen.append, lambda s: None) == "UPDATE_COMPLETE"
        stub.assert_no_pending_responses()
    assert len(seen) == 2
