"""The job summary of a reviewed change set (cylink_deploy.output.summary), from documents built the way
deploy.py builds its --json document (workflow.Result over change-set nodes)."""

from __future__ import annotations

import json

import pytest

from cylink_deploy.cfn import changes as ch
from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.jobs.model import Result, Status
from cylink_deploy.output import summary

from .stubbed import described


def _change(action, logical_id, type_, replacement="", targets=()):
    rc = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": type_,
        "Details": [{"Target": {"Name": t}} for t in targets],
    }
    if replacement:
        rc["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": rc}


def review_document(allowed=frozenset()):
    root = ChangeSetNode(
        "",
        described(ChangeSetId="arn:root", Parameters=[{"ParameterKey": "ImageTag", "ParameterValue": "v2"}]),
        [_change("Modify", "ServicesStack", "AWS::CloudFormation::Stack", "False", ["ImageTag"])],
        {"ImageTag": "v1"},
    )
    cache = ChangeSetNode(
        "CacheStack",
        described(ChangeSetId="arn:cache"),
        [
            _change(
                "Modify",
                "RedisReplicationGroup",
                "AWS::ElastiCache::ReplicationGroup",
                "Conditional",
                ["Engine|Version"],
            )
        ],
    )
    nodes = [root, cache]
    result = Result(
        Status.REVIEW,
        "cylink-prod",
        "cylink-prod-20261128-101500-abc",
        "arn:aws:cloudformation:cs/1",
        nodes=nodes,
        refused=ch.unsafe(nodes, allowed),
    )
    return result.document()


def test_the_summary_shows_every_change_marks_replacements_and_names_the_refusal():
    text = summary.markdown(review_document())
    assert "### Change set `cylink-prod-20261128-101500-abc` for `cylink-prod` (REVIEW)" in text
    assert "Change set ARN: `arn:aws:cloudformation:cs/1`" in text
    assert "|  | Stack | Action | Logical ID | Type | Replacement | Changed |" in text
    assert "|  | (root) | Modify | ServicesStack | AWS::CloudFormation::Stack | False | ImageTag |" in text
    # the replacement is marked, and a pipe inside a cell does not break the row
    assert (
        "| ⚠️ | CacheStack | Modify | RedisReplicationGroup | AWS::ElastiCache::ReplicationGroup | Conditional | "
        "Engine\\|Version |" in text
    )
    assert "2 change(s) in 2 change set(s); 1 replacement(s)/removal(s)" in text
    assert "- `(root)` ImageTag: `v1` → `v2`" in text
    assert (
        "**Refused**: `CacheStack/RedisReplicationGroup`" in text
        and "`--allow-replacement CacheStack/RedisReplicationGroup`" in text
    )


def test_an_allowed_replacement_is_marked_but_not_refused():
    text = summary.markdown(review_document(frozenset({"CacheStack/RedisReplicationGroup"})))
    assert "| ⚠️ | CacheStack |" in text and "Refused" not in text


def test_no_changes_says_there_is_nothing_to_approve():
    text = summary.markdown(Result(Status.NO_CHANGES, "cylink-dev").document())
    assert text.startswith("### cylink-dev: no changes") and "|" not in text


def test_outputs_carry_what_the_approval_job_executes():
    assert summary.outputs(review_document()).splitlines() == [
        "status=REVIEW",
        "stack=cylink-prod",
        "change-set-name=cylink-prod-20261128-101500-abc",
        "change-set-id=arn:aws:cloudformation:cs/1",
        "refused=1",
    ]


def test_the_command_line(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(review_document()))
    assert summary.main([str(plan)]) == 0
    assert "RedisReplicationGroup" in capsys.readouterr().out
    assert summary.main([str(plan), "--fail-on-refused"]) == 6
    assert "refuses this change set: CacheStack/RedisReplicationGroup" in capsys.readouterr().err
    plan.write_text(json.dumps(review_document(frozenset({"RedisReplicationGroup"}))))
    assert summary.main([str(plan), "--fail-on-refused"]) == 0


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]", "{}"])
def test_a_missing_or_foreign_document_is_one_line_and_exit_2(tmp_path, capsys, content):
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    assert summary.main([str(plan)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--no-execute --json" in err
