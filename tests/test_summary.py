"""The job summary of a reviewed change set (cylink_deploy.output.summary), from documents built the way
deploy.py builds its --json document (workflow.Result over change-set nodes)."""

from __future__ import annotations

import json

import pytest

from cylink_deploy import documents
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
        uploaded=["root-0123abcd.json"],
    )
    return documents.versioned(result.document())  # as JsonReporter writes it


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


def test_a_document_of_an_older_deploy_py_is_refused_by_the_schema_not_half_read(tmp_path, capsys):
    """Before schemaVersion 1 the changes said logical_id: read with today's keys, every cell would be '-'."""
    old = review_document()
    del old["schemaVersion"]
    old["changeSets"][0]["changes"][0]["logical_id"] = old["changeSets"][0]["changes"][0].pop("logicalId")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(old))
    assert summary.main([str(plan)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "not a schemaVersion 1 'deploy' document" in err


def test_the_error_document_of_a_failed_plan_is_said_as_the_failure(tmp_path, capsys):
    """The job summary says why the plan failed (the step still fails, with the run's code); no outputs."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(documents.error(4, "stack cylink-prod is UPDATE_ROLLBACK_FAILED: <see> |")))
    assert summary.main([str(plan)]) == 4
    out = capsys.readouterr().out
    assert out.startswith("### deploy.py failed (exit 4)") and "UPDATE\\_ROLLBACK\\_FAILED: &lt;see&gt; \\|" in out
    assert summary.main([str(plan), "--outputs"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "deploy.py failed (exit 4): stack cylink-prod is UPDATE_ROLLBACK_FAILED" in err


def test_the_execute_result_is_read_through_the_execute_schema(tmp_path, capsys):
    """The execute job's summary: the executed change set from execute's document; a plan is not one."""
    result = tmp_path / "result.json"
    executed = {**review_document(), "status": "DEPLOYED", "outputs": {"SiteUrl": "https://example.com"}}
    executed["refused"] = []
    result.write_text(json.dumps(executed))
    assert summary.main([str(result), "--command", "execute"]) == 0, capsys.readouterr().err
    assert "for `cylink-prod` (DEPLOYED)" in capsys.readouterr().out
    result.write_text(json.dumps(review_document()))
    assert summary.main([str(result), "--command", "execute"]) == 2
    assert "not a schemaVersion 1 'execute' document" in capsys.readouterr().err


HOSTILE_ID = "Backend<img src=x onerror=alert(1)><!--"
HOSTILE_DETAILS = "[approve](https://evil.example) **ok** _x_ ~~y~~ `z` \\| a|b\nc"


def hostile_document():
    node = ChangeSetNode(
        "",
        described(ChangeSetId="arn:root`<b>", Parameters=[{"ParameterKey": "ImageTag", "ParameterValue": "v2``<i>"}]),
        [_change("Remove", HOSTILE_ID, "AWS::S3::Bucket", targets=[HOSTILE_DETAILS])],
        {"ImageTag": "`v1"},
    )
    return Result(
        Status.REVIEW,
        "cylink-<b>prod</b>",
        "cs`<script>",
        "arn:cs",
        nodes=[node],
        refused=ch.unsafe([node], frozenset()),
        uploaded=[],
    ).document()


def test_values_are_html_and_markdown_escaped_so_the_summary_shows_them_as_text():
    """The approver reads this summary: a logical ID or a change's details (an app user can put text in
    both) must not become HTML (an image, a comment hiding the refusal), a link, or emphasis."""
    text = summary.markdown(hostile_document())
    row = next(line for line in text.splitlines() if line.startswith("| ⚠️ |"))
    assert "<" not in row and ">" not in row
    assert "Backend&lt;img src=x onerror=alert(1)&gt;&lt;!--" in row
    assert "\\[approve\\](https://evil.example) \\*\\*ok\\*\\* \\_x\\_ \\~\\~y\\~\\~ \\`z\\` \\\\\\| a\\|b c" in row
    assert row.count(" | ") == 6  # seven cells: no pipe of a value splits the row
    # code spans: a backtick in the value never closes them (the fence is longer than any run inside)
    assert "### Change set ``cs`<script>`` for `cylink-<b>prod</b>` (REVIEW)" in text
    assert "- `(root)` ImageTag: `` `v1 `` → ```v2``<i>```" in text
    assert "`--allow-replacement 'Backend<img src=x onerror=alert(1)><!--'`" in text


def test_no_changes_escapes_the_stack_name_too():
    text = summary.markdown(Result(Status.NO_CHANGES, "cylink-<img src=x>").document())
    assert text.startswith("### cylink-&lt;img src=x&gt;: no changes")


def test_outputs_with_a_line_break_in_a_value_are_refused_not_written(tmp_path, capsys):
    """$GITHUB_OUTPUT is key=value lines: a line break in a value would add an output of its own."""
    plan = tmp_path / "plan.json"
    document = review_document()
    document["changeSetName"] = "cs\nrefused=0"
    plan.write_text(json.dumps(document))
    assert summary.main([str(plan), "--outputs"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and "line break" in err
