"""The live view of a stack operation on a terminal, and the plain log elsewhere (issue 23, item 1).

The tree is a model fed the same ``StackEvent`` views the plain log prints, so most of it is tested here
without a terminal; the slow tests run a real ``deploy.py --local`` deploy (the embedded emulator) in a
pseudo-terminal (pexpect) and with stdout piped, and read what a person would see."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from cylink_deploy import cli
from cylink_deploy.cfn.events import Progress, stack_paths
from cylink_deploy.commands.registry import parser
from cylink_deploy.jobs.deploy import template_totals
from cylink_deploy.jobs.views import Following, Settled, StackEvent, Waiting
from cylink_deploy.ops.rollout import ServiceState, StoppedTask
from cylink_deploy.output.human import HumanReporter, JsonReporter
from cylink_deploy.output.live import LiveReporter, StackTree, wanted

from .conftest import REPO, project_copy

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ROOT_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-dev/1"
KEYS_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-dev-KeysStack-CLJW27J8MUVK/2"
KEYS_NAME = "cylink-dev-KeysStack-CLJW27J8MUVK"
# rich markup that, obeyed, would close the line's red, blink, and make a link to somewhere else
MARKUP = "[/][blink]click[link=https://evil.example]here[/link]"


def event(
    seconds: int,
    logical: str,
    status: str,
    stack: str = "cylink-dev",
    stack_id: str = ROOT_ID,
    kind: str = "AWS::KMS::Key",
    physical: str = "",
    reason: str = "",
) -> StackEventTypeDef:
    e: StackEventTypeDef = {
        "EventId": f"{stack}-{logical}-{status}-{seconds}",
        "StackId": stack_id,
        "StackName": stack,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,  # type: ignore[typeddict-item]
        "Timestamp": T0 + timedelta(seconds=seconds),
    }
    if physical:
        e["PhysicalResourceId"] = physical
    if reason:
        e["ResourceStatusReason"] = reason
    return e


STACK = "AWS::CloudFormation::Stack"
A_CREATE = [  # a create whose nested KeysStack fails on its alias, as CloudFormation reports it
    event(0, "cylink-dev", "CREATE_IN_PROGRESS", kind=STACK, physical=ROOT_ID),
    event(1, "KeysStack", "CREATE_IN_PROGRESS", kind=STACK),
    event(2, "KeysStack", "CREATE_IN_PROGRESS", kind=STACK, physical=KEYS_ID, reason="Resource creation Initiated"),
    event(2, KEYS_NAME, "CREATE_IN_PROGRESS", KEYS_NAME, KEYS_ID, STACK, KEYS_ID),
    event(3, "DataKey", "CREATE_IN_PROGRESS", KEYS_NAME, KEYS_ID),
    event(60, "DataKey", "CREATE_COMPLETE", KEYS_NAME, KEYS_ID, physical="key-1"),
    event(61, "DataKeyAlias", "CREATE_IN_PROGRESS", KEYS_NAME, KEYS_ID, "AWS::KMS::Alias"),
    event(62, "DataKeyAlias", "CREATE_FAILED", KEYS_NAME, KEYS_ID, "AWS::KMS::Alias", reason=f"alias taken {MARKUP}"),
    event(75, KEYS_NAME, "CREATE_FAILED", KEYS_NAME, KEYS_ID, STACK, KEYS_ID, "The following resource(s) failed"),
    event(76, "KeysStack", "CREATE_FAILED", kind=STACK, physical=KEYS_ID, reason=f"Embedded stack {KEYS_ID} failed"),
]


class Terminal(io.StringIO):
    """A terminal as the reporters see one."""

    def isatty(self) -> bool:
        return True


def _plain_lines(text: str) -> list[str]:
    """The plain log's event lines without their counter and clock: ``root/KeysStack/DataKey CREATE_COMPLETE``."""
    return [re.sub(r"^\[[^]]*\] \d+:\d\d ", "", line) for line in text.splitlines() if line.startswith("[")]


def views(events: list[StackEventTypeDef], nested: dict[str, str] | None = None) -> list[StackEvent]:
    """The views the deploy job shows for these events (as ``execute_and_follow`` makes them)."""
    progress = Progress(ROOT_ID, 1, paths=stack_paths(ROOT_ID, nested or {}))
    return [StackEvent(e, str(progress), T0, progress.stack_path(e)) for e in events if progress.record(e)]


def tree_of(events: list[StackEventTypeDef], totals: dict[str, int] | None = None) -> StackTree:
    tree = StackTree("cylink-dev", T0, totals)
    for view in views(events):
        tree.add(view)
    return tree


def screen(tree: StackTree, now: datetime) -> tuple[str, str]:
    """The tree as a terminal gets it (with its escape sequences) and as a person reads it."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=160, record=True)
    console.print(tree.render(now))
    return console.export_text(styles=True, clear=False), console.export_text()


def test_nested_stacks_get_their_logical_path_from_the_parent_that_creates_them():
    paths = [v.stack_path for v in views(A_CREATE)]
    assert paths == ["root", "root", "root", "root/KeysStack", *["root/KeysStack"] * 5, "root"]
    unknown = event(5, "Thing", "CREATE_IN_PROGRESS", "cylink-dev-Other-X", "arn:other")
    assert views([unknown])[0].stack_path == "cylink-dev-Other-X"  # never seen created: its physical name
    existing = views(A_CREATE[4:5], nested={KEYS_ID: "KeysStack"})  # an update: the stack existed before
    assert existing[0].stack_path == "root/KeysStack"


def test_the_plain_log_names_stacks_and_resources_by_logical_path():
    out = io.StringIO()
    reporter = HumanReporter(out=out)
    for view in views(A_CREATE):
        reporter.show(view)
    lines = _plain_lines(out.getvalue())
    assert "root/KeysStack/DataKey CREATE_COMPLETE" in lines
    assert "root/KeysStack CREATE_IN_PROGRESS" in lines  # the nested stack by its path, not its name
    assert "root/KeysStack CREATE_IN_PROGRESS: Resource creation Initiated" in lines  # reasons tell lines apart
    assert len(lines) == len(set(lines)), lines  # its own CREATE_IN_PROGRESS repeated the parent's: not shown
    assert "root/KeysStack CREATE_FAILED: The following resource(s) failed" in lines  # its own failure: shown
    assert any(line.startswith("root/KeysStack/DataKeyAlias CREATE_FAILED: alias taken [/][blink]") for line in lines)
    assert all(line.startswith("root") for line in lines)  # never the physical name cylink-dev-KeysStack-CLJW...


def test_the_tree_counts_each_stacks_resources_and_keeps_the_failure_reason():
    tree = tree_of(A_CREATE, {"root": 9, "root/KeysStack": 2})
    assert list(tree.nodes) == ["root", "root/KeysStack"]
    keys = tree.nodes["root/KeysStack"]
    assert (keys.state, keys.done, keys.total) == ("CREATE_FAILED", {"DataKey"}, 2)
    assert [(f.logical_id, f.reason) for f in keys.failures if not f.consequence] == [
        ("DataKeyAlias", f"alias taken {MARKUP}")
    ]
    assert keys.elapsed(T0 + timedelta(hours=1)) == 75  # settled: its first event to its last
    assert tree.nodes["root"].elapsed(T0 + timedelta(seconds=90)) == 90  # still running: to now


def test_the_tree_shows_logical_names_counts_the_resource_in_progress_and_failures_in_red():
    running = tree_of(A_CREATE[:7], {"root": 9, "root/KeysStack": 2})
    _, text = screen(running, T0 + timedelta(seconds=65))
    assert "cylink-dev (root)  CREATE_IN_PROGRESS  1:05  0/9 done" in text
    assert "└── KeysStack  CREATE_IN_PROGRESS  1:04  1/2 done" in text
    assert "… DataKeyAlias CREATE_IN_PROGRESS" in text
    ansi, text = screen(tree_of(A_CREATE), T0 + timedelta(seconds=80))
    assert f"✗ DataKeyAlias CREATE_FAILED: alias taken {MARKUP}" in text  # the reason, whole
    assert "\x1b[31m✗ DataKeyAlias CREATE_FAILED" in ansi  # in red
    assert "KeysStack  CREATE_FAILED  1:15  1 done" in text
    assert "+1 failed as a consequence" in text  # the root's "Embedded stack ... failed", counted only


def test_markup_and_terminal_controls_from_aws_are_shown_not_obeyed():
    hostile = event(62, "DataKeyAlias", "CREATE_FAILED", KEYS_NAME, KEYS_ID, reason=f"{MARKUP}\x1b]0;pwned\x07")
    ansi, text = screen(tree_of([*A_CREATE[:4], hostile]), T0 + timedelta(seconds=80))
    assert f"{MARKUP}\\x1b]0;pwned\\x07" in text
    assert "\x1b[5m" not in ansi and "\x1b]8;" not in ansi  # no blink, no hyperlink (OSC 8)
    assert "\x1b]0;" not in ansi
    coloured = Terminal()  # the plain log on a terminal (colours on) takes no markup from AWS either
    HumanReporter(out=coloured).show(views([*A_CREATE[:4], hostile])[-1])
    assert f"{MARKUP}\\x1b]0;pwned\\x07" in coloured.getvalue() and "\x1b[5m" not in coloured.getvalue()


def test_the_ecs_rollout_shows_under_the_services_stack():
    tree = StackTree("cylink-dev", T0)
    tree.rollout(ServiceState("backend", "svc", "ACTIVE", 2, 1, 1, 0, "IN_PROGRESS", "", "cyl-backend:7", 2))
    tree.rollout(StoppedTask("backend", "t1", T0, "CannotPullContainerError: [bold]no such tag", "cyl-backend:7"))
    _, text = screen(tree, T0)
    assert "└── ServicesStack  waiting" in text
    assert "ECS backend: running 1/2 IN_PROGRESS cyl-backend:7" in text
    assert "backend task t1 stopped 03:04:05: CannotPullContainerError: [bold]no such tag (cyl-backend:7)" in text


def test_the_live_reporter_follows_on_screen_and_leaves_the_final_tree_printed():
    out = Terminal()
    reporter = LiveReporter(out)
    reporter.show(Waiting("Uploading templates"))
    reporter.step("Change set x")
    reporter.show(Following("cylink-dev", T0, {"root": 1}))
    for view in views(A_CREATE):
        reporter.show(view)
    reporter.show(ServiceState("backend", "svc", "ACTIVE", 2, 0, 2, 1, "FAILED", "circuit breaker", "cyl-backend:8", 2))
    reporter.show(Settled("cylink-dev", "ROLLBACK_COMPLETE"))
    reporter.line("after")
    shown = _read(out.getvalue())
    tail = shown[shown.rindex("cylink-dev (root)") :].replace("│", " ")  # the last render: what stays on screen
    tail = " ".join(tail.split())  # (a long reason wraps at the terminal's width)
    assert tail.startswith("cylink-dev (root) ROLLBACK_COMPLETE")
    assert "KeysStack CREATE_FAILED 1:15 1 done" in tail and f"alias taken {MARKUP}" in tail
    assert "ServicesStack waiting" in tail and "ECS backend: running 0/2 FAILED cyl-backend:8: circuit breaker" in tail
    assert tail.endswith("after")  # lines after the view print below it
    assert reporter.in_flight == "stack operation"  # Ctrl-C now says the operation goes on in AWS


def test_live_only_on_a_terminal_outside_ci_unless_progress_says():
    tty, pipe = Terminal(), io.StringIO()
    assert wanted("auto", tty, {}) and not wanted("auto", pipe, {})
    assert not wanted("auto", tty, {"CI": "true"})
    assert not wanted("plain", tty, {}) and wanted("live", pipe, {"CI": "true"})


def test_the_reporter_is_chosen_in_one_place(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stdout", Terminal())

    def chosen(*argv: str) -> type:
        return type(cli.reporter_for(parser().parse_args(["deploy", "--env", "dev", *argv]), io.StringIO(), None))

    assert chosen() is LiveReporter
    assert chosen("--progress", "plain") is HumanReporter
    assert chosen("--json") is JsonReporter
    monkeypatch.setenv("CI", "true")
    assert chosen() is HumanReporter


def test_a_create_counts_each_nested_stacks_resources_from_its_template():
    url = {
        "Fn::Sub": "https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}keys-1a.json"
    }
    root = {"Resources": {"KeysStack": {"Type": STACK, "Properties": {"TemplateURL": url}}, "T": {"Type": "X"}}}
    files: dict[str, Any] = {"root.json": root, "keys-1a.json": {"Resources": {"DataKey": {}, "DataKeyAlias": {}}}}
    assert template_totals({k: json.dumps(v) for k, v in files.items()}) == {"root/KeysStack": 2}


# -- a real deploy, on a terminal and off one ------------------------------------------------------------------------

CURSOR = re.compile(r"\x1b\[(?![0-9;]*m)[0-9;?]*[A-Za-z]")  # any CSI but colours (SGR): cursor moves, erasing


def _read(screen: str) -> str:
    """What a person reads: the escape sequences gone, lines as a terminal ends them."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r\n", "\n")


def _deploy_argv(project: Path, *extra: str) -> list[str]:
    local = ["--env", "dev", "--local", "--yes", "--image-tag", "1.0.0", "--project-dir", str(project)]
    return [str(REPO / "deploy.py"), *local, *extra]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "CI"}
    return env | {"TERM": "xterm-256color", "AWS_CONFIG_FILE": "/nonexistent"} | extra


def _on_a_terminal(project: Path, *extra: str, **env: str) -> str:
    """What ``deploy.py --local`` writes to a pseudo-terminal (160 columns), as the terminal receives it."""
    import pexpect

    child = pexpect.spawn(
        sys.executable, _deploy_argv(project, *extra), env=_env(**env), encoding="utf-8", dimensions=(60, 160)
    )
    child.expect(pexpect.EOF, timeout=300)
    child.close()
    seen = str(child.before)
    assert child.exitstatus == 0, seen[-3000:]
    return seen


@pytest.mark.slow
def test_on_a_terminal_a_deploy_shows_the_tree_of_stacks_and_its_final_state(tmp_path):
    seen = _on_a_terminal(project_copy(tmp_path))
    assert CURSOR.search(seen), "no live redraw"
    final = _read(seen)
    final = final[final.rindex("cylink-dev (root)") :]  # the last render, left on screen
    assert re.search(r"cylink-dev \(root\)  CREATE_COMPLETE  \d+:\d\d  9 done", final)
    for stack in ("NetworkStack", "KeysStack", "ClusterStack", "ServicesStack"):
        assert re.search(rf"[├└]── {stack} +CREATE_COMPLETE  \d+:\d\d  \d+ done", final), stack  # (names padded)
    assert "cylink-dev-NetworkStack-" not in seen  # logical names, never the physical ones
    assert "root/NetworkStack" not in seen  # not the plain log


@pytest.mark.slow
def test_off_a_terminal_and_in_ci_a_deploy_prints_the_plain_log_with_logical_paths(tmp_path):
    project = project_copy(tmp_path)
    piped = subprocess.run(
        [sys.executable, *_deploy_argv(project)], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert piped.returncode == 0, piped.stderr[-3000:]
    in_ci = _on_a_terminal(project, CI="true")  # (colours stay: CI logs show them)
    for log in (piped.stdout, in_ci):
        lines = _plain_lines(_read(log))
        assert "root/KeysStack/DataKey CREATE_COMPLETE" in lines
        assert "root/NetworkStack CREATE_COMPLETE" in lines
        assert "root CREATE_COMPLETE" in lines
        assert lines.index("root CREATE_COMPLETE") > lines.index("root/ServicesStack CREATE_COMPLETE")  # in time order
        assert not CURSOR.search(log) and "cylink-dev (root)" not in log
    assert "\x1b" not in piped.stdout + piped.stderr  # no escape at all in a pipe, colours neither


@pytest.mark.slow
def test_progress_plain_on_a_terminal_prints_the_plain_log(tmp_path):
    seen = _on_a_terminal(project_copy(tmp_path), "--progress", "plain")
    assert not CURSOR.search(seen) and "cylink-dev (root)" not in seen
    assert "root/KeysStack/DataKey CREATE_COMPLETE" in _plain_lines(_read(seen))


@pytest.mark.slow
def test_a_delete_is_followed_event_by_event_like_a_deploy(aws_env, project, capsys):
    """delete followed only the root's status before: now every stack's events, by logical path (moto's delete
    emits only the root stack's own events; AWS also those of every resource and nested stack)."""
    stack = f"cylink-t{os.urandom(3).hex()}"
    argv = ["--env", "dev", "--stack-name", stack, "--yes", "--progress", "plain"]
    deployed = cli.main(["deploy", *argv, "--parameter", f"NamePrefix=c{stack[-6:]}"], io.StringIO(), project=project)
    assert deployed == 0, capsys.readouterr().err
    capsys.readouterr()
    out = io.StringIO()
    assert cli.main(["delete", *argv], io.StringIO(), lambda s: None, project, out) == 0
    lines = _plain_lines(out.getvalue())
    kept = out.getvalue()
    assert "Physical ID (what stays)" in kept and "/ecs/" in kept  # what to remove by hand, by its name
    assert lines[-2:] == ["root DELETE_IN_PROGRESS: User Initiated", "root DELETE_COMPLETE"], out.getvalue()[-3000:]


def test_sibling_stacks_states_line_up_whatever_their_names_length():
    net_id = KEYS_ID.replace("KeysStack-CLJW27J8MUVK/2", "NetworkStack-Q1/3")
    events = [
        event(0, "cylink-dev", "CREATE_IN_PROGRESS", kind=STACK, physical=ROOT_ID),
        event(1, "KeysStack", "CREATE_IN_PROGRESS", kind=STACK, physical=KEYS_ID),
        event(1, "NetworkStack", "CREATE_IN_PROGRESS", kind=STACK, physical=net_id),
    ]
    _, text = screen(tree_of(events), T0 + timedelta(seconds=5))
    rows = [line for line in text.splitlines() if "Stack " in line and "──" in line]
    assert len(rows) == 2 and len({row.index("CREATE_IN_PROGRESS") for row in rows}) == 1, text


def test_a_sweeps_events_come_oldest_first_and_a_child_never_before_the_parent_naming_it():
    """Read stack by stack, every nested stack's events came after all of its parent's (on the emulator a whole
    deploy: 'root CREATE_COMPLETE' above 180 nested lines); a child's first event can be stamped before the
    parent's event that names it, from which its logical path comes."""
    from cylink_deploy.cfn.events import in_time_order

    root = [
        event(0, "cylink-dev", "CREATE_IN_PROGRESS", kind=STACK, physical=ROOT_ID),
        event(1, "KeysStack", "CREATE_IN_PROGRESS", kind=STACK),
        event(3, "KeysStack", "CREATE_IN_PROGRESS", kind=STACK, physical=KEYS_ID, reason="Resource creation Initiated"),
        event(9, "KeysStack", "CREATE_COMPLETE", kind=STACK, physical=KEYS_ID),
        event(10, "cylink-dev", "CREATE_COMPLETE", kind=STACK, physical=ROOT_ID),
    ]
    child = [
        event(2, KEYS_NAME, "CREATE_IN_PROGRESS", KEYS_NAME, KEYS_ID, STACK, KEYS_ID),  # before it is named
        event(4, "DataKey", "CREATE_IN_PROGRESS", KEYS_NAME, KEYS_ID),
        event(8, "DataKey", "CREATE_COMPLETE", KEYS_NAME, KEYS_ID),
    ]
    ordered = [(e["StackName"], e["LogicalResourceId"], e["Timestamp"].second) for e in in_time_order(root + child)]
    assert ordered == [
        ("cylink-dev", "cylink-dev", 5),
        ("cylink-dev", "KeysStack", 6),
        ("cylink-dev", "KeysStack", 8),
        (KEYS_NAME, KEYS_NAME, 7),
        (KEYS_NAME, "DataKey", 9),
        (KEYS_NAME, "DataKey", 13),
        ("cylink-dev", "KeysStack", 14),
        ("cylink-dev", "cylink-dev", 15),
    ]
    assert all(v.stack_path.startswith("root") for v in views(in_time_order(root + child)))


def test_tables_after_the_live_part_are_whole_so_a_url_can_be_copied():
    """The outputs come after the tree has stopped: folded to the width, the dashboard URL was cut in two."""
    out = io.StringIO()
    reporter = LiveReporter(out)
    reporter.console.width = 60
    url = "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#dashboards:name=x"
    reporter.table(["Key", "Value"], [["DashboardUrl", url]])
    assert url in out.getvalue()
