"""CloudFormation steps against responses shaped like the API reference (botocore Stubber): which states a
deploy may update, how long it waits, how events and resources are paged, what a removed nested stack
takes with it, and what deleting keeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from cylink_deploy import errors, polling
from cylink_deploy.cfn import changes, changesets
from cylink_deploy.cfn import events as stack_events
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.errors import DeploymentFailed, StackStateError

from .stubbed import described
from .test_deploy_stubbed import NESTED_ID, ROOT_CS, ROOT_ID, T0, cfn_client, change, event, stack_desc

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

RECORDS_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod-CacheStack-1X-Inner-2Y/cccc"


# --- which states a deploy may update -------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"],
)
def test_a_stack_whose_last_operation_completed_or_rolled_back_can_be_updated(status):
    assert st.plan(status, "cylink-prod") == st.Plan("UPDATE", status=status)


def test_a_missing_stack_is_created_and_a_failed_first_create_is_cleaned_up_first():
    assert st.plan(None, "cylink-dev") == st.Plan("CREATE")
    review, rolled_back = st.plan("REVIEW_IN_PROGRESS", "cylink-dev"), st.plan("ROLLBACK_COMPLETE", "cylink-dev")
    assert (review.change_set_type, review.clean_up_first, rolled_back.change_set_type, rolled_back.clean_up_first) == (
        "CREATE",
        True,
        "CREATE",
        True,
    )
    assert review.why_clean_up != rolled_back.why_clean_up and "never executed" in review.why_clean_up


def test_an_unknown_state_stops_instead_of_guessing():
    with pytest.raises(StackStateError, match="cylink-prod is IMPORT_IN_PROGRESS: inspect it in the console"):
        st.plan("IMPORT_IN_PROGRESS", "cylink-prod")


# --- waiting --------------------------------------------------------------------------------------


class Clock:
    """time.monotonic that advances only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Busy:
    """A CloudFormation client whose stack stays in progress and whose change set never finishes."""

    def __init__(self, status: str = "UPDATE_IN_PROGRESS") -> None:
        self.status = status
        self.calls = 0

    def describe_stacks(self, StackName: str) -> dict:  # noqa: N803 - boto3's argument name
        self.calls += 1
        return stack_desc(ROOT_ID, self.status)

    def describe_change_set(self, ChangeSetName: str) -> dict:  # noqa: N803
        self.calls += 1
        return {"ChangeSetName": "cs-root", "Status": "CREATE_IN_PROGRESS"}

    @property
    def client(self) -> CloudFormationClient:
        """Where a client goes: it answers only the two calls the waits make."""
        return cast("CloudFormationClient", self)


def test_a_stack_busy_for_more_than_three_hours_stops_waiting_and_says_so(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(st.time, "monotonic", clock)
    seen: list[str] = []
    with pytest.raises(StackStateError, match="UPDATE_IN_PROGRESS for over 3 h"):
        st.wait_settled(Busy().client, "cylink-prod", clock.sleep, seen.append)
    assert 3 * 3600 < clock.now <= 3 * 3600 + 10  # waited the whole three hours, polling every 10 s at most
    assert max(clock.sleeps) == 10.0 and seen and set(seen) == {"UPDATE_IN_PROGRESS"}


@pytest.mark.parametrize(
    "status, expected",
    [("REVIEW_IN_PROGRESS", "REVIEW_IN_PROGRESS"), ("UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")],
)
def test_a_settled_stack_or_one_under_review_is_not_waited_on(status, expected):
    busy = Busy(status)
    assert st.wait_settled(busy.client, "cylink-prod", lambda s: pytest.fail("slept")) == expected and busy.calls == 1


def test_a_change_set_is_waited_on_for_fifteen_minutes_then_reported():
    clock, busy = Clock(), Busy()
    with pytest.raises(DeploymentFailed, match="still CREATE_IN_PROGRESS after 90[0-9] s"):
        changesets.wait_change_set(busy.client, ROOT_CS, clock.sleep)
    assert 900 <= clock.now < 905 and busy.calls == len(clock.sleeps) + 1


def test_a_stack_busy_for_half_an_hour_when_that_is_the_limit_says_half_an_hour(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(st.time, "monotonic", clock)
    with pytest.raises(StackStateError, match=r"has been UPDATE_IN_PROGRESS for over 0\.5 h: check it in the console$"):
        st.wait_settled(Busy().client, "cylink-prod", clock.sleep, timeout=1800)


def test_a_computed_change_set_is_returned_and_a_failure_without_a_reason_still_fails():
    cfn = cfn_client()
    done = {"ChangeSetId": ROOT_CS, "ChangeSetName": "cs-root", "Status": "CREATE_COMPLETE", "Changes": []}
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set", {**done, "Status": "CREATE_PENDING"}, {"ChangeSetName": ROOT_CS})
        stub.add_response("describe_change_set", done, {"ChangeSetName": ROOT_CS})
        assert changesets.wait_change_set(cfn, ROOT_CS, lambda s: None)["Status"] == "CREATE_COMPLETE"
        stub.add_response("describe_change_set", {**done, "Status": "FAILED"}, {"ChangeSetName": ROOT_CS})
        with pytest.raises(DeploymentFailed, match="^change set cs-root failed: $"):
            changesets.wait_change_set(cfn, ROOT_CS, lambda s: None)
        stub.assert_no_pending_responses()


def test_a_change_set_still_computing_exactly_at_the_timeout_is_not_polled_again():
    clock, busy = Clock(), Busy()
    with pytest.raises(DeploymentFailed, match="after 2 s"):  # 1 + 1.5 s of waiting
        changesets.wait_change_set(busy.client, ROOT_CS, clock.sleep, timeout=2.5)
    assert busy.calls == 3


def test_deleting_waits_until_the_stack_is_gone_and_passes_the_service_role():
    cfn = cfn_client()
    sleeps: list[float] = []
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_COMPLETE"), {"StackName": "cylink-prod"})
        stub.add_response("delete_stack", {}, {"StackName": ROOT_ID, "RoleARN": "arn:aws:iam::123456789012:role/cfn"})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "DELETE_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "DELETE_FAILED"), {"StackName": ROOT_ID})
        assert (
            st.delete_and_wait(cfn, "cylink-prod", sleeps.append, "arn:aws:iam::123456789012:role/cfn")
            == "DELETE_FAILED"
        )
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_COMPLETE"), {"StackName": "cylink-prod"})
        stub.add_response("delete_stack", {}, {"StackName": ROOT_ID})
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            f"Stack with id {ROOT_ID} does not exist",
            expected_params={"StackName": ROOT_ID},
        )
        assert st.delete_and_wait(cfn, "cylink-prod", sleeps.append) == "DELETE_COMPLETE"
        stub.assert_no_pending_responses()
    assert sleeps == [1.0]


# --- events ---------------------------------------------------------------------------------------


def test_events_are_read_page_by_page_and_reading_stops_at_the_first_event_older_than_the_operation():
    cfn = cfn_client()
    newest = [event(ROOT_ID, "CacheStack", "UPDATE_COMPLETE", 30), event(ROOT_ID, "Redis", "UPDATE_COMPLETE", 20)]
    page2 = [
        event(ROOT_ID, "Redis", "UPDATE_IN_PROGRESS", 10),
        event(ROOT_ID, "Old", "UPDATE_COMPLETE", -5),
        event(ROOT_ID, "Older", "UPDATE_COMPLETE", -9),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": newest, "NextToken": "p2"}, {"StackName": ROOT_ID})
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": page2, "NextToken": "p3"},
            {"StackName": ROOT_ID, "NextToken": "p2"},
        )
        fresh = stack_events._new_events(cfn, ROOT_ID, T0, {newest[1]["EventId"]})
        stub.assert_no_pending_responses()  # page 3 is never asked for
    assert [e["LogicalResourceId"] for e in fresh] == [
        "Redis",
        "CacheStack",
    ]  # oldest first, the one already seen left out
    assert [e["ResourceStatus"] for e in fresh] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]


def test_events_of_a_stack_with_nothing_older_are_all_read():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event(ROOT_ID, "A", "CREATE_COMPLETE", 2)], "NextToken": "p2"},
            {"StackName": ROOT_ID},
        )
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event(ROOT_ID, "B", "CREATE_COMPLETE", 1)]},
            {"StackName": ROOT_ID, "NextToken": "p2"},
        )
        assert [e["LogicalResourceId"] for e in stack_events._new_events(cfn, ROOT_ID, T0, set())] == ["B", "A"]
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event(ROOT_ID, "A", "CREATE_COMPLETE", 2), event(ROOT_ID, "B", "CREATE_COMPLETE", 1)]},
            {"StackName": ROOT_ID},
        )
        assert stack_events.existing_event_ids(cfn, ROOT_ID) == {"A-CREATE_COMPLETE-2", "B-CREATE_COMPLETE-1"}


@pytest.mark.parametrize(
    "code, message", [("ValidationError", f"Stack with id {ROOT_ID} does not exist"), ("AccessDenied", "not allowed")]
)
def test_an_error_reading_the_root_stacks_events_is_never_swallowed(code, message):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_client_error("describe_stack_events", code, message, expected_params={"StackName": ROOT_ID})
        with pytest.raises(ClientError):
            stack_events.follow(cfn, ROOT_ID, T0, lambda e: None, lambda s: None)


def test_an_error_other_than_a_vanished_stack_reading_a_nested_stacks_events_is_raised():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        stub.add_client_error(
            "describe_stack_events", "AccessDenied", "not allowed", expected_params={"StackName": NESTED_ID}
        )
        with pytest.raises(ClientError):
            stack_events.follow(cfn, ROOT_ID, T0, lambda e: None, lambda s: None, nested=[NESTED_ID])


def test_following_polls_nested_stacks_found_in_the_events_until_the_root_settles():
    cfn = cfn_client()
    seen: list[StackEventTypeDef] = []
    polls: list[int] = []
    sleeps: list[float] = []
    started = event(ROOT_ID, "CacheStack", "CREATE_IN_PROGRESS", 1, None, "AWS::CloudFormation::Stack", NESTED_ID)
    root_itself = event(ROOT_ID, "cylink-prod", "UPDATE_IN_PROGRESS", 0, None, "AWS::CloudFormation::Stack", ROOT_ID)
    redis = event(NESTED_ID, "Redis", "CREATE_COMPLETE", 3)
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": [started, root_itself]}, {"StackName": ROOT_ID})
        stub.add_response(
            "describe_stack_events", {"StackEvents": []}, {"StackName": NESTED_ID}
        )  # found now: polled in this sweep
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_COMPLETE"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": [started, root_itself]}, {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": [redis]}, {"StackName": NESTED_ID})
        assert (
            stack_events.follow(cfn, ROOT_ID, T0, seen.append, sleeps.append, on_poll=lambda: polls.append(1))
            == "UPDATE_COMPLETE"
        )
        stub.assert_no_pending_responses()
    assert [e["LogicalResourceId"] for e in seen] == ["cylink-prod", "CacheStack", "Redis"]  # each once, oldest first
    assert len(polls) == 2 and sleeps == [1.0]


def test_progress_counts_completed_resources_not_the_stacks_own_events_nor_the_review():
    progress = stack_events.Progress(ROOT_ID, total=2)
    assert progress.record(event(ROOT_ID, "cylink-prod", "REVIEW_IN_PROGRESS", 0)) is False
    for e in (
        event(ROOT_ID, "CacheStack", "UPDATE_COMPLETE", 3),
        event(ROOT_ID, "cylink-prod", "UPDATE_COMPLETE", 4),
        event(NESTED_ID, "Redis", "UPDATE_COMPLETE", 2),
        event(NESTED_ID, "Redis", "UPDATE_IN_PROGRESS", 1),
    ):
        assert progress.record(e) is True
    assert progress.root_done == {"CacheStack"} and len(progress.resources_done) == 2 and len(progress.events) == 4
    assert str(progress) == " 1/2 |   2 resources"


def test_when_every_failure_is_a_consequence_the_earliest_is_the_root_cause():
    events = [
        event(ROOT_ID, "CacheStack", "UPDATE_FAILED", 9, "Embedded stack x was not successfully updated"),
        event(NESTED_ID, "Redis", "UPDATE_FAILED", 3, "Resource update cancelled"),
        event(NESTED_ID, "Group", "UPDATE_FAILED", 5, "Resource creation cancelled"),
        event(NESTED_ID, "Group", "UPDATE_COMPLETE", 1),
    ]
    cause = stack_events.root_cause(events)
    assert cause is not None and cause["LogicalResourceId"] == "Redis"


# --- change sets ----------------------------------------------------------------------------------


def test_the_parameters_a_stack_runs_with_are_unknown_for_a_new_stack_or_one_only_under_review():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks", stack_desc(ROOT_ID, "REVIEW_IN_PROGRESS", {"A": "1"}), {"StackName": ROOT_ID}
        )
        assert st.deployed_parameters(cfn, ROOT_ID) is None
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            f"Stack with id {ROOT_ID} does not exist",
            expected_params={"StackName": ROOT_ID},
        )
        assert st.deployed_parameters(cfn, ROOT_ID) is None
        running = stack_desc(ROOT_ID, "UPDATE_COMPLETE", {"A": "1"})
        running["Stacks"][0]["Parameters"].append(
            {"ParameterKey": "AlarmEmail"}
        )  # an empty value comes without ParameterValue
        stub.add_response("describe_stacks", running, {"StackName": ROOT_ID})
        assert st.deployed_parameters(cfn, ROOT_ID) == {"A": "1", "AlarmEmail": ""}
    assert st.deployed_parameters(cfn, None) is None


def test_only_change_sets_someone_could_still_execute_are_pending():
    cfn = cfn_client()
    summaries = [
        {"ChangeSetName": "ready", "ExecutionStatus": "AVAILABLE", "Status": "CREATE_COMPLETE"},
        {"ChangeSetName": "computing", "ExecutionStatus": "UNAVAILABLE", "Status": "CREATE_IN_PROGRESS"},
        {"ChangeSetName": "empty", "ExecutionStatus": "UNAVAILABLE", "Status": "FAILED"},
        {"ChangeSetName": "done", "ExecutionStatus": "EXECUTE_COMPLETE", "Status": "CREATE_COMPLETE"},
    ]
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_change_sets", {"Summaries": summaries[:2], "NextToken": "p2"}, {"StackName": "cylink-prod"}
        )
        stub.add_response(
            "list_change_sets", {"Summaries": summaries[2:]}, {"StackName": "cylink-prod", "NextToken": "p2"}
        )
        assert changesets.pending_change_sets(cfn, "cylink-prod") == ["ready", "computing"]


@pytest.mark.parametrize("code", ["ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"])
def test_a_change_set_name_that_does_not_exist_is_one_line_however_aws_says_it(code):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_change_set", code, "no such change set")
        with pytest.raises(StackStateError, match="no change set cs on stack cylink-prod"):
            changesets.find_change_set(cfn, "cylink-prod", "cs")


def test_a_reviewed_change_set_must_exist_belong_to_the_stack_and_still_be_executable():
    cfn = cfn_client()
    ok = {
        "ChangeSetName": "cs",
        "StackName": "cylink-prod",
        "ExecutionStatus": "AVAILABLE",
        "Status": "CREATE_COMPLETE",
    }
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_change_set", "AccessDenied", "not allowed")
        with pytest.raises(ClientError):
            changesets.find_change_set(cfn, "cylink-prod", "cs")
        stub.add_response("describe_change_set", {**ok, "StackName": "cylink-dev"})
        with pytest.raises(StackStateError, match="belongs to stack cylink-dev"):
            changesets.find_change_set(cfn, "cylink-prod", "cs")
        stub.add_response("describe_change_set", {**ok, "ExecutionStatus": "EXECUTE_COMPLETE"})
        with pytest.raises(StackStateError, match=r"is EXECUTE_COMPLETE \(CREATE_COMPLETE\), not AVAILABLE"):
            changesets.find_change_set(cfn, "cylink-prod", "cs")
        stub.add_response("describe_change_set", ok, {"StackName": "cylink-prod", "ChangeSetName": "cs"})
        assert changesets.find_change_set(cfn, "cylink-prod", "cs")["ChangeSetName"] == "cs"


def test_a_change_set_is_created_with_every_parameter_sorted_and_nothing_kept_on_a_create():
    cfn = cfn_client()
    expected = {
        "StackName": "cylink-dev",
        "ChangeSetName": "cs",
        "ChangeSetType": "CREATE",
        "TemplateURL": "https://b/k",
        "Parameters": [{"ParameterKey": "A", "ParameterValue": "1"}, {"ParameterKey": "B", "ParameterValue": "2"}],
        "Tags": [{"Key": "Env", "Value": "dev"}, {"Key": "Project", "Value": "Cylink"}],
        "Capabilities": changesets.CAPABILITIES,
        "IncludeNestedStacks": True,
        "Description": "d" * 1024,
    }
    with Stubber(cfn) as stub:
        stub.add_response("create_change_set", {"Id": ROOT_CS, "StackId": ROOT_ID}, expected)
        created = changesets.create_change_set(
            cfn,
            "cylink-dev",
            "cs",
            "CREATE",
            "https://b/k",
            {"B": "2", "A": "1"},
            {"Project": "Cylink", "Env": "dev"},
            "d" * 2000,
            ("ImageTag",),
        )
        stub.assert_no_pending_responses()
    assert dict(created) == {"Id": ROOT_CS, "StackId": ROOT_ID}


def test_change_set_names_are_unique_per_run_and_the_console_link_is_escaped():
    at = datetime(2026, 11, 28, 10, 15, 0, tzinfo=timezone.utc)
    name = changesets.change_set_name("cylink-prod", at)
    assert name.startswith("cylink-prod-20261128-101500-") and len(name) == len("cylink-prod-20261128-101500-") + 6
    assert name != changesets.change_set_name("cylink-prod", at)
    url = changesets.console_url("ap-northeast-1", ROOT_ID, ROOT_CS)
    assert url.startswith(
        "https://ap-northeast-1.console.aws.amazon.com/cloudformation/home?region=ap-northeast-1#/stacks/changesets/changes?"
    )
    assert "stackId=arn%3Aaws%3Acloudformation%3Aap-northeast-1%3A123456789012%3Astack%2Fcylink-prod%2Faaaa" in url
    assert url.endswith(
        "&changeSetId=arn%3Aaws%3Acloudformation%3Aap-northeast-1%3A123456789012%3AchangeSet%2Fcs-root%2F1111"
    )


def test_outputs_of_a_stack_without_outputs_are_empty():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "CREATE_COMPLETE"), {"StackName": "cylink-prod"})
        stub.add_response(
            "describe_stacks",
            stack_desc(ROOT_ID, "CREATE_COMPLETE", Outputs=[{"OutputKey": "SiteUrl", "OutputValue": "https://x"}]),
            {"StackName": "cylink-prod"},
        )
        assert st.outputs(cfn, "cylink-prod") == {}
        assert st.outputs(cfn, "cylink-prod") == {"SiteUrl": "https://x"}


# --- what deleting keeps, and what a removed nested stack takes with it ----------------------------


def summaries(
    stack_id: str, resources: Sequence[tuple[str, str, str | None]], page_size: int = 100
) -> list[tuple[dict, dict]]:
    """list_stack_resources pages (response, expected params) of ``resources`` (logical, type, physical)."""
    items = [
        {
            "LogicalResourceId": lid,
            "ResourceType": type_,
            "ResourceStatus": "CREATE_COMPLETE",
            "LastUpdatedTimestamp": T0,
            **({"PhysicalResourceId": physical} if physical else {}),
        }
        for lid, type_, physical in resources
    ]
    pages = [items[i : i + page_size] for i in range(0, len(items), page_size)] or [[]]
    out = []
    for n, page in enumerate(pages):
        response = {"StackResourceSummaries": page, **({"NextToken": f"p{n + 1}"} if n + 1 < len(pages) else {})}
        out.append((response, {"StackName": stack_id, **({"NextToken": f"p{n}"} if n else {})}))
    return out


def test_a_600_resource_stack_lists_every_retained_resource_on_delete():
    cfn = cfn_client()
    resources = [(f"Group{i:03d}", "AWS::Logs::LogGroup", f"/ecs/g{i}") for i in range(600)]
    template = {
        "Resources": {
            lid: {"Type": type_, "DeletionPolicy": "Retain" if i % 2 else "Delete"}
            for i, (lid, type_, _) in enumerate(resources)
        }
    }
    template["Resources"]["Gone"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
    }  # in the template, never created
    with Stubber(cfn) as stub:
        for response, expected in summaries(ROOT_ID, resources):  # nested_stacks walks the root first
            stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template", {"TemplateBody": json.dumps(template)}, {"StackName": ROOT_ID, "TemplateStage": "Processed"}
        )
        for response, expected in summaries(ROOT_ID, resources):
            stub.add_response("list_stack_resources", response, expected)
        retained = st.retained_resources(cfn, ROOT_ID)
        stub.assert_no_pending_responses()
    assert len(retained) == 300 and retained[0] == st.Retained(
        "(root)", "Group001", "AWS::Logs::LogGroup", "Retain", "/ecs/g1"
    )
    with pytest.raises(AttributeError):
        retained[0].policy = "Delete"  # type: ignore[misc]  # what was listed for the operator stays what they read


def test_deleting_keeps_retained_and_snapshotted_resources_of_nested_stacks_but_not_the_nested_stacks():
    cfn = cfn_client()
    root = [("CacheStack", "AWS::CloudFormation::Stack", NESTED_ID), ("Topic", "AWS::SNS::Topic", "arn:topic")]
    nested = [
        ("Redis", "AWS::ElastiCache::ReplicationGroup", "redis-1"),
        ("Key", "AWS::KMS::Key", "key-1"),
        ("Queue", "AWS::SQS::Queue", "q"),
    ]
    root_template = {
        "Resources": {
            "CacheStack": {"Type": "AWS::CloudFormation::Stack", "DeletionPolicy": "Retain"},
            "Topic": {"Type": "AWS::SNS::Topic"},
        }
    }
    nested_yaml = (
        "Resources:\n  Redis: {Type: 'AWS::ElastiCache::ReplicationGroup', DeletionPolicy: Snapshot}\n"
        "  Key: {Type: 'AWS::KMS::Key', DeletionPolicy: RetainExceptOnCreate}\n  Queue: {Type: 'AWS::SQS::Queue'}\n"
    )
    with Stubber(cfn) as stub:
        for response, expected in summaries(ROOT_ID, root):
            stub.add_response("list_stack_resources", response, expected)
        for response, expected in summaries(NESTED_ID, nested):
            stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(root_template)},
            {"StackName": ROOT_ID, "TemplateStage": "Processed"},
        )
        for response, expected in summaries(ROOT_ID, root):
            stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template", {"TemplateBody": nested_yaml}, {"StackName": NESTED_ID, "TemplateStage": "Processed"}
        )
        for response, expected in summaries(NESTED_ID, nested):
            stub.add_response("list_stack_resources", response, expected)
        retained = st.retained_resources(cfn, ROOT_ID)
        stub.assert_no_pending_responses()
    assert retained == [
        st.Retained("CacheStack", "Key", "AWS::KMS::Key", "RetainExceptOnCreate", "key-1"),
        st.Retained("CacheStack", "Redis", "AWS::ElastiCache::ReplicationGroup", "Snapshot", "redis-1"),
    ]


def test_removing_a_nested_stack_lists_the_stateful_resources_inside_it_at_any_depth():
    """A condition turning false removes a nested stack and everything in it: the guard must see the data."""
    cfn = cfn_client()
    node = ChangeSetNode(
        "",
        described(StackId=ROOT_ID),
        [
            change("Remove", "CacheStack", "AWS::CloudFormation::Stack"),
            change("Remove", "Alarm", "AWS::CloudWatch::Alarm"),
        ],
    )
    root = [("CacheStack", "AWS::CloudFormation::Stack", NESTED_ID), ("Alarm", "AWS::CloudWatch::Alarm", "a")]
    nested = [
        ("Redis", "AWS::ElastiCache::ReplicationGroup", "redis-1"),
        ("Sg", "AWS::EC2::SecurityGroup", "sg-1"),
        ("Inner", "AWS::CloudFormation::Stack", RECORDS_ID),
        ("NeverCreated", "AWS::Logs::LogGroup", None),
    ]
    inner = [("Secret", "AWS::SecretsManager::Secret", "arn:secret")]
    nested_template = {
        "Resources": {
            "Redis": {"Type": "AWS::ElastiCache::ReplicationGroup"},
            "Sg": {"Type": "AWS::EC2::SecurityGroup"},
            "Inner": {"Type": "AWS::CloudFormation::Stack"},
            "NeverCreated": {"Type": "AWS::Logs::LogGroup"},
        }
    }
    with Stubber(cfn) as stub:
        for response, expected in summaries(ROOT_ID, root):
            stub.add_response("list_stack_resources", response, expected)
        for sid, res in ((NESTED_ID, nested), (RECORDS_ID, inner)):  # the walk below the removed stack
            for response, expected in summaries(sid, res):
                stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(nested_template)},
            {"StackName": NESTED_ID, "TemplateStage": "Processed"},
        )
        for response, expected in summaries(NESTED_ID, nested):
            stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template",
            {"TemplateBody": "Resources:\n  Secret:\n    Type: AWS::SecretsManager::Secret\n"},
            {"StackName": RECORDS_ID, "TemplateStage": "Processed"},
        )
        for response, expected in summaries(RECORDS_ID, inner):
            stub.add_response("list_stack_resources", response, expected)
        inside = changesets.stateful_inside_removed(cfn, [node])
        stub.assert_no_pending_responses()
    assert [(r.path, r.action, r.resource_type) for r in inside] == [
        ("CacheStack/Redis", "Remove", "AWS::ElastiCache::ReplicationGroup"),
        ("CacheStack/Inner/Secret", "Remove", "AWS::SecretsManager::Secret"),
    ]
    assert all(
        r.loses_data and r.replacement == "" and r.details == "removed with nested stack CacheStack" for r in inside
    )
    assert [r.path for r in changes.unsafe([node], inside=inside)] == ["CacheStack/Redis", "CacheStack/Inner/Secret"]
    assert changes.unsafe([node], {"CacheStack/Redis", "Secret"}, inside) == []


def test_a_removed_nested_stack_that_never_existed_or_a_new_stack_takes_nothing_with_it():
    cfn = cfn_client()
    node = ChangeSetNode(
        "", described(StackId=ROOT_ID), [change("Remove", "RecordsStack", "AWS::CloudFormation::Stack")]
    )
    with Stubber(cfn) as stub:
        for response, expected in summaries(ROOT_ID, [("RecordsStack", "AWS::CloudFormation::Stack", None)]):
            stub.add_response("list_stack_resources", response, expected)
        assert changesets.stateful_inside_removed(cfn, [node]) == []
        stub.assert_no_pending_responses()
    assert (
        changesets.stateful_inside_removed(cfn, [ChangeSetNode("", described(), node.changes)]) == []
    )  # no stack yet: nothing to list


def test_the_nested_stack_walk_reads_every_page_of_every_stack():
    cfn = cfn_client()
    root = [(f"Thing{i}", "AWS::SNS::Topic", f"t{i}") for i in range(150)] + [
        ("CacheStack", "AWS::CloudFormation::Stack", NESTED_ID)
    ]
    with Stubber(cfn) as stub:
        for response, expected in summaries(ROOT_ID, root):
            stub.add_response("list_stack_resources", response, expected)
        for response, expected in summaries(NESTED_ID, [("Inner", "AWS::CloudFormation::Stack", RECORDS_ID)]):
            stub.add_response("list_stack_resources", response, expected)
        for response, expected in summaries(RECORDS_ID, []):
            stub.add_response("list_stack_resources", response, expected)
        assert list(st.nested_stacks(cfn, ROOT_ID)) == [
            st.NestedStack("CacheStack", "CacheStack", NESTED_ID),
            st.NestedStack("CacheStack/Inner", "Inner", RECORDS_ID),
        ]
        stub.assert_no_pending_responses()


def test_a_template_body_is_read_as_json_or_yaml():
    assert st.parse_template('{"Resources": {}}') == {"Resources": {}}
    assert st.parse_template("Resources:\n  A: {Type: X}\n") == {"Resources": {"A": {"Type": "X"}}}


def test_time_is_utc_now():
    assert abs(polling.now() - datetime.now(timezone.utc)) < timedelta(seconds=5) and polling.now().tzinfo is not None


# --- what a stuck stack says, what a change set may do, and how an operation may end ----------------


@pytest.mark.parametrize(
    "status, step",
    [
        (
            "UPDATE_ROLLBACK_FAILED",
            "aws cloudformation continue-update-rollback --stack-name cylink-prod "
            "(add --resources-to-skip LOGICAL_ID for resources that cannot roll back), then deploy again",
        ),
        (
            "ROLLBACK_FAILED",
            "inspect the failed resources, then aws cloudformation delete-stack --stack-name cylink-prod and deploy "
            "again",
        ),
        (
            "DELETE_FAILED",
            "fix what blocked deletion (see the stack events), then aws cloudformation delete-stack --stack-name "
            "cylink-prod "
            "(or --retain-resources LOGICAL_ID)",
        ),
        ("CREATE_FAILED", "aws cloudformation delete-stack --stack-name cylink-prod, then deploy again"),
        ("UPDATE_FAILED", "aws cloudformation rollback-stack --stack-name cylink-prod, then deploy again"),
        (
            "IMPORT_ROLLBACK_FAILED",
            "aws cloudformation continue-update-rollback --stack-name cylink-prod, then deploy again",
        ),
    ],
)
def test_every_stuck_state_names_its_exact_recovery_command(status, step):
    with pytest.raises(StackStateError) as err:
        st.plan(status, "cylink-prod")
    assert str(err.value) == f"stack cylink-prod is {status}: {step}"


def test_a_plan_says_exactly_what_to_do_and_cannot_be_altered():
    create, update, clean = st.plan(None, "s"), st.plan("UPDATE_COMPLETE", "s"), st.plan("ROLLBACK_COMPLETE", "s")
    assert (create.change_set_type, create.clean_up_first, create.status) == ("CREATE", False, None)
    assert (update.change_set_type, update.clean_up_first, update.status) == ("UPDATE", False, "UPDATE_COMPLETE")
    assert (clean.change_set_type, clean.clean_up_first, clean.status) == ("CREATE", True, "ROLLBACK_COMPLETE")
    with pytest.raises(AttributeError):
        update.clean_up_first = True  # type: ignore[misc]


def test_a_stack_busy_exactly_as_long_as_the_timeout_is_polled_once_more(monkeypatch):
    clock, busy = Clock(), Busy()
    monkeypatch.setattr(st.time, "monotonic", clock)
    with pytest.raises(StackStateError):
        st.wait_settled(
            busy.client, "cylink-prod", clock.sleep, timeout=2.5
        )  # polls at 0, 1, 2.5 (not over), 4.75 (over)
    assert busy.calls == 4


def test_a_change_set_may_create_named_iam_roles_and_expand_nested_stacks():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "create_change_set",
            {"Id": ROOT_CS, "StackId": ROOT_ID},
            {
                "StackName": "s",
                "ChangeSetName": "cs",
                "ChangeSetType": "UPDATE",
                "TemplateURL": "https://b/k",
                "Parameters": [],
                "Tags": [],
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                "IncludeNestedStacks": True,
                "Description": "d",
            },
        )
        changesets.create_change_set(cfn, "s", "cs", "UPDATE", "https://b/k", {}, {}, "d")
        stub.assert_no_pending_responses()


def test_an_update_with_nothing_to_do_is_no_changes_not_a_failure():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set",
            {"ChangeSetName": "cs-root", "Status": "FAILED", "StatusReason": "No updates are to be performed."},
            {"ChangeSetName": ROOT_CS},
        )
        with pytest.raises(errors.NoChanges):
            changesets.wait_change_set(cfn, ROOT_CS, lambda s: None)


@pytest.mark.parametrize("final", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"])
def test_an_operation_that_completes_succeeds(final):
    from cylink_deploy.jobs import deploy as deploy_job

    from .recording import RecordingReporter

    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": ROOT_CS})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, final), {"StackName": ROOT_ID})
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event(ROOT_ID, "Redis", "UPDATE_COMPLETE", 5)]},
            {"StackName": ROOT_ID},
        )
        deploy_job.execute_and_follow(
            cfn, "cylink-prod", ROOT_CS, ROOT_ID, 1, RecordingReporter(), lambda s: None, clock=lambda: T0
        )
        stub.assert_no_pending_responses()


def test_a_change_set_tree_names_each_nested_change_set_by_its_path():
    cfn = cfn_client()
    inner_cs = ROOT_CS.replace("cs-root/1111", "cs-inner/3333")
    nested_cs = ROOT_CS.replace("cs-root/1111", "cs-nested/2222")
    pages = [
        (
            ROOT_CS,
            {
                "ChangeSetId": ROOT_CS,
                "Status": "CREATE_COMPLETE",
                "Changes": [change("Modify", "CacheStack", "AWS::CloudFormation::Stack", "False", nested_cs)],
            },
        ),
        (
            nested_cs,
            {
                "ChangeSetId": nested_cs,
                "Status": "CREATE_COMPLETE",
                "Changes": [change("Modify", "Inner", "AWS::CloudFormation::Stack", "False", inner_cs)],
            },
        ),
        (
            inner_cs,
            {
                "ChangeSetId": inner_cs,
                "Status": "CREATE_COMPLETE",
                "Changes": [change("Add", "Topic", "AWS::SNS::Topic")],
            },
        ),
    ]
    with Stubber(cfn) as stub:
        for cs_id, page in pages:
            stub.add_response(
                "describe_change_set", page, {"ChangeSetName": cs_id}
            )  # no StackId: a stack not created yet
        nodes = changesets.describe_tree(cfn, ROOT_CS)
        stub.assert_no_pending_responses()
    assert [(n.path, n.previous_parameters) for n in nodes] == [
        ("", None),
        ("CacheStack", None),
        ("CacheStack/Inner", None),
    ]
    assert changes.all_rows(nodes)[-1].path == "CacheStack/Inner/Topic"


def test_a_nested_stack_found_by_the_walk_is_a_fixed_value():
    found = st.NestedStack("CacheStack", "CacheStack", NESTED_ID)
    with pytest.raises(AttributeError):
        found.physical_id = "other"  # type: ignore[misc]
    assert len({found, st.NestedStack("CacheStack", "CacheStack", NESTED_ID)}) == 1


def test_following_polls_about_every_three_seconds_at_most():
    cfn = cfn_client()
    sleeps: list[float] = []
    with Stubber(cfn) as stub:
        for status in ["UPDATE_IN_PROGRESS"] * 6 + ["UPDATE_COMPLETE"]:
            stub.add_response("describe_stacks", stack_desc(ROOT_ID, status), {"StackName": ROOT_ID})
            stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        assert stack_events.follow(cfn, ROOT_ID, T0, lambda e: None, sleeps.append) == "UPDATE_COMPLETE"
        stub.assert_no_pending_responses()
    assert [round(s, 2) for s in sleeps] == [1.0, 1.5, 2.25, 3.0, 3.0, 3.0]


def test_a_vanished_nested_stack_is_skipped_and_the_ones_after_it_still_followed():
    cfn = cfn_client()
    old = NESTED_ID.replace("bbbb", "old")
    seen: list[StackEventTypeDef] = []
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_IN_PROGRESS"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        stub.add_client_error(
            "describe_stack_events",
            "ValidationError",
            f"Stack with id {old} does not exist",
            expected_params={"StackName": old},
        )
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": NESTED_ID})
        stub.add_response("describe_stacks", stack_desc(ROOT_ID, "UPDATE_COMPLETE"), {"StackName": ROOT_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT_ID})
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event(NESTED_ID, "Redis", "UPDATE_COMPLETE", 3)]},
            {"StackName": NESTED_ID},
        )
        assert (
            stack_events.follow(cfn, ROOT_ID, T0, seen.append, lambda s: None, nested=[old, NESTED_ID])
            == "UPDATE_COMPLETE"
        )
        stub.assert_no_pending_responses()
    assert [e["LogicalResourceId"] for e in seen] == ["Redis"]


def test_a_stack_failing_because_of_its_resources_is_not_the_root_cause():
    events = [
        event(
            ROOT_ID,
            "cylink-prod",
            "CREATE_FAILED",
            1,
            "The following resource(s) failed to create: [CacheStack]. ",
            "AWS::CloudFormation::Stack",
            ROOT_ID,
        ),
        event(NESTED_ID, "Redis", "CREATE_FAILED", 2, "Cache subnet group not found"),
        event(NESTED_ID, "Group", "CREATE_FAILED", 0, "Resource creation cancelled"),
    ]
    cause = stack_events.root_cause(events)
    assert cause is not None and cause["LogicalResourceId"] == "Redis"


def test_a_removed_nested_stack_that_never_existed_does_not_hide_another_removed_one():
    cfn = cfn_client()
    node = ChangeSetNode(
        "",
        described(StackId=ROOT_ID),
        [
            change("Remove", "RecordsStack", "AWS::CloudFormation::Stack"),
            change("Remove", "CacheStack", "AWS::CloudFormation::Stack"),
        ],
    )
    root = [
        ("RecordsStack", "AWS::CloudFormation::Stack", None),
        ("CacheStack", "AWS::CloudFormation::Stack", NESTED_ID),
    ]
    redis = [("Redis", "AWS::ElastiCache::ReplicationGroup", "redis-1")]
    with Stubber(cfn) as stub:
        for _ in range(2):  # once per removed nested stack
            for response, expected in summaries(ROOT_ID, root):
                stub.add_response("list_stack_resources", response, expected)
        for response, expected in summaries(NESTED_ID, redis):
            stub.add_response("list_stack_resources", response, expected)
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps({"Resources": {"Redis": {"Type": "AWS::ElastiCache::ReplicationGroup"}}})},
            {"StackName": NESTED_ID, "TemplateStage": "Processed"},
        )
        for response, expected in summaries(NESTED_ID, redis):
            stub.add_response("list_stack_resources", response, expected)
        assert [r.path for r in changesets.stateful_inside_removed(cfn, [node])] == ["CacheStack/Redis"]
        stub.assert_no_pending_responses()
