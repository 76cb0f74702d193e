"""Text from outside (log lines, alarm and stopped-task reasons, stack events, change sets) reaches the
operator's terminal escaped: a user of the app who writes an OSC/CSI escape or a carriage return into a log
line must not retitle the terminal, clear it, hide lines or write the clipboard (OSC 52). One sanitiser,
in the human reporter, covers every formatter; the reporter's own colours still work; ``--json`` stays
JSON's own escaping of the original text."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest
from botocore.stub import Stubber

from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.cfn.ecs_verdict import ReleaseRollback
from cylink_deploy.jobs.views import ChangeSets, ReleaseRolledBack, Review, RootCause, StackEvent
from cylink_deploy.ops.logs import LogEvent
from cylink_deploy.ops.rollout import ServiceState, StoppedTask
from cylink_deploy.ops.status import StatusView
from cylink_deploy.output import human
from cylink_deploy.output.human import HumanReporter, JsonReporter

from . import stubbed
from .recording import run_command
from .stubbed import SESSION, described

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import ChangeTypeDef, StackEventTypeDef

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
# retitle, clear the screen, write the clipboard (OSC 52), overwrite the line, a C1 CSI, DEL, a bidi override
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\rfake\x9b31m\x7f\u202eevil\u2066x\u2069"
ACTED_ON = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
RED, RESET = "\033[31m", "\033[0m"  # what rich sends a terminal for the reporter's red, and after it
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\rfake\\x9b31m\\x7f\\u202eevil\\u2066x\\u2069"


class Terminal(io.StringIO):
    """A terminal as the reporter sees one: colour on."""

    def isatty(self) -> bool:
        return True


def shown(view: object, color: bool = False) -> str:
    out = Terminal() if color else io.StringIO()
    HumanReporter(out=out).show(view)
    return out.getvalue()


def assert_only_escaped(text: str, allowed: tuple[str, ...] = ()) -> None:
    """Nothing a terminal acts on is left in ``text`` but the reporter's own colour codes."""
    for code in allowed:
        text = text.replace(code, "")
    assert not ACTED_ON.search(text.replace("\n", "")), repr(text)


def test_the_sanitiser_escapes_controls_and_bidi_and_keeps_tab_and_plain_text():
    from cylink_deploy.output.human import printable

    assert printable(HOSTILE) == SHOWN
    assert printable("a\tb ユーザー ✓ \\x1b") == "a\tb ユーザー ✓ \\x1b"
    assert printable("\x00\n\x1f\x80\x9f") == "\\x00\\n\\x1f\\x80\\x9f"
    assert printable(printable(HOSTILE)) == SHOWN  # idempotent: a field escaped twice reads the same


def test_a_log_line_with_escapes_is_shown_escaped_through_the_logs_command():
    cfn = SESSION.client("cloudformation")
    logs = SESSION.client("logs")
    clients = stubbed.clients(cfn, logs=logs)
    stack = {"StackName": "cylink-dev", "StackStatus": "UPDATE_COMPLETE", "CreationTime": NOW}
    stack["Outputs"] = [{"OutputKey": "BackendLogGroupName", "OutputValue": "/ecs/cylink-backend"}]
    out = io.StringIO()
    with Stubber(cfn) as cfn_stub, Stubber(logs) as logs_stub:
        cfn_stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "cylink-dev"})  # --env checked
        cfn_stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "cylink-dev"})
        event = {"logStreamName": "ecs/backend/t1", "timestamp": 1767323045000, "eventId": "1"}
        logs_stub.add_response("filter_log_events", {"events": [{**event, "message": f"GET / {HOSTILE}\n"}]})
        args = argparse.Namespace(
            command="logs", env="dev", stack_name=None, region="ap-northeast-1", profile=None, json=False
        )
        args.service, args.since, args.follow, args.filter = "backend", "10m", False, None
        run_command(args, HumanReporter(out=out), clients)
    (line,) = [x for x in out.getvalue().splitlines() if "[t1]" in x]
    assert line.endswith(f"[t1] GET / {SHOWN}")
    assert_only_escaped(out.getvalue())


def test_json_lines_of_logs_stay_json_escaped_and_keep_the_original_text():
    document, progress = io.StringIO(), io.StringIO()
    JsonReporter(out=progress, document_out=document).show(LogEvent(NOW, "t1", HOSTILE, "1"))
    raw = document.getvalue()
    assert "\x1b" not in raw and "\u202e" not in raw and "\\u001b]0;pwned" in raw  # json.dumps' own escapes
    assert json.loads(raw)["message"] == HOSTILE  # the data itself is unchanged for programs


def test_alarm_reasons_stopped_tasks_and_rollouts_on_the_status_screen_are_escaped_and_red_still_works():
    task = StoppedTask("backend", "t1", NOW, f"Essential container exited {HOSTILE}", "cyl-backend:7")
    service = ServiceState("backend", "svc", "ACTIVE", 2, 1, 0, 1, "FAILED", HOSTILE, "cyl-backend:7", 1)
    view = StatusView(
        "cylink-prod",
        "UPDATE_COMPLETE",
        "now",
        services=[service],
        alarms=[{"name": f"cyl-5xx{HOSTILE}", "reason": f"Threshold Crossed {HOSTILE}"}],
        stopped=[task],
        problems=[f"alarm cyl-5xx{HOSTILE}"],
    )
    text = shown(view, color=True)
    assert f"{RED}  ALARM cyl-5xx{SHOWN}: Threshold Crossed {SHOWN}{RESET}" in text  # the reporter's red stays
    assert f"stopped 03:04:05: Essential container exited {SHOWN} (cyl-backend:7)" in text
    assert_only_escaped(text, allowed=("\033[1m", RED, "\033[32m", RESET))
    for rolling in (task, service):  # as a release shows them while it rolls
        text = shown(rolling, color=True)
        assert SHOWN in text
        assert_only_escaped(text, allowed=(RED, RESET))


def test_stack_events_and_the_root_cause_show_the_status_reason_escaped():
    event: StackEventTypeDef = {
        "EventId": "e1",
        "StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/1",
        "StackName": "cylink-prod",
        "LogicalResourceId": "BackendService",
        "ResourceType": "AWS::ECS::Service",
        "ResourceStatus": "UPDATE_FAILED",
        "ResourceStatusReason": f"Resource handler returned message: {HOSTILE}",
        "Timestamp": NOW,
    }
    text = shown(StackEvent(event, "3/9", NOW), color=True)
    assert f"BackendService UPDATE_FAILED: Resource handler returned message: {SHOWN}" in text
    assert_only_escaped(text, allowed=(RED, RESET))
    text = shown(RootCause(event))
    assert f"  Resource handler returned message: {SHOWN}" in text
    assert_only_escaped(text)
    rollback = ReleaseRollback("cylink-prod", "BackendService", "arn", HOSTILE)
    text = shown(ReleaseRolledBack(rollback, (f"(service svc) {HOSTILE}",)))
    assert f"  ECS: (service svc) {SHOWN}" in text
    assert_only_escaped(text)


def test_a_change_set_with_escapes_in_a_logical_id_and_its_details_is_reviewed_escaped():
    change: ChangeTypeDef = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": f"Backend{HOSTILE}",
            "ResourceType": "AWS::ECS::Service",
            "Replacement": "True",
            "Details": [{"Target": {"Attribute": "Properties", "Name": f"Image{HOSTILE}"}}],
        },
    }
    node = ChangeSetNode("ServicesStack", described(Parameters=[]), [change], {})
    text = shown(ChangeSets([node]), color=True)
    assert f"Backend{SHOWN}" in text and f"Image{SHOWN}" in text
    assert_only_escaped(text, allowed=("\033[1m", RED, "\033[33m", RESET))
    plain = [re.sub("\x1b\\[[0-9;]*m", "", x) for x in text.splitlines()]  # the colours (and the bold header) off
    header, row = [x for x in plain if x.startswith("  ") and ("Logical ID" in x or "Backend" in x)]
    # the table is measured on what is shown (escaped): its columns line up, and no line ends in padding
    assert header.index("Type") == row.index("AWS::ECS::Service") and header.index("Changed") == row.index("Image")
    assert header == header.rstrip() and row == row.rstrip()
    text = shown(Review({"Change set": f"cs{HOSTILE}", "Execute it": "python deploy.py execute"}))
    assert f"cs{SHOWN}" in text
    assert_only_escaped(text)


@pytest.mark.parametrize("method", ["line", "step", "detail", "warn"])
def test_every_reporter_method_escapes_what_it_is_given(method):
    out = Terminal()
    getattr(HumanReporter(out=out), method)(f"x{HOSTILE}")
    assert SHOWN in out.getvalue()
    assert_only_escaped(out.getvalue(), allowed=("\033[1m", "\033[33m", RESET))


def test_a_detail_of_several_lines_is_indented_line_by_line():
    out = io.StringIO()
    HumanReporter(out=out).detail('{\n  "a": 1\n}')
    assert out.getvalue() == '  {\n    "a": 1\n  }\n'


def test_colour_codes_written_in_outside_text_are_not_the_reporters_own():
    out = Terminal()
    reporter = HumanReporter(out=out)
    reporter.line(reporter.c(human.RED, "ours") + " \x1b[31mtheirs")
    assert out.getvalue() == f"{RED}ours{RESET} \\x1b[31mtheirs\n"


def test_the_one_error_line_is_escaped_too(monkeypatch, capsys):
    """A failure quotes AWS (a stack's status reason, an ECS event): the CLI's error line is human output."""
    from cylink_deploy import cli
    from cylink_deploy.errors import DeploymentFailed

    def failing(*args: object, **kwargs: object) -> int:
        raise DeploymentFailed(f"BackendService UPDATE_FAILED: {HOSTILE}")

    monkeypatch.setattr(cli, "run", failing)
    assert cli.main(["status", "--env", "dev"]) == DeploymentFailed.exit_code
    assert capsys.readouterr().err == f"error: BackendService UPDATE_FAILED: {SHOWN}\n"


def test_table_columns_line_up_by_display_width_and_cells_are_never_markup():
    """rich measures cells as a terminal shows them: a Japanese tag name takes two columns a character (the
    hand-written widths counted characters, and the next column started too far right)."""
    from rich.cells import cell_len

    out = io.StringIO()
    HumanReporter(out=out).table(["Name", "Value"], [["環境タグ", "[red]x[/red]"], ["ascii", "y"]])
    header, _, first, second = out.getvalue().splitlines()
    starts = {cell_len(line[: line.index(value)]) for line, value in ((header, "Value"), (first, "["), (second, "y"))}
    assert len(starts) == 1, out.getvalue()
    assert first.rstrip().endswith("[red]x[/red]")
