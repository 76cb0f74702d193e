"""The ``--json`` contract (docs/json.md): one schema per command under docs/schemas/, every document carries
``schemaVersion``, keys are camelCase, and a failure is a document too -- so a pipeline always reads exactly
one. Here: the schemas themselves, the commands that run offline or on botocore's Stubber, and every kind of
error (a usage error, bad input, a refusal, Ctrl-C, a surprise). The commands that need AWS are checked on
the emulator by the helpers of the slow tests (tests/contract.py: test_deploy_local, test_day2_local,
test_deployer_policy, test_change_loop, test_accounts_local, test_doctor_local, test_loadtest_local ...)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from jsonschema import Draft202012Validator

from cylink_deploy import aws, cli, documents
from cylink_deploy.cfn import stacks as st
from cylink_deploy.commands.registry import COMMANDS, parser
from cylink_deploy.errors import DeployError, StackStateError
from cylink_deploy.jobs.model import Result, Status
from cylink_deploy.ops.logs import LogEvent
from cylink_deploy.output.human import JsonReporter
from cylink_deploy.preflight import pins
from cylink_deploy.project import Project

from .conftest import REPO
from .contract import parsed
from .stubbed import clients as stubbed_clients
from .test_summary import review_document

SCHEMAS = REPO / "docs" / "schemas"
HOME, OTHER, REGION = "111122223333", "444455556666", "ap-northeast-1"


def json_commands() -> set[str]:
    """The subcommands that take --json, from the parser itself."""
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name for name, p in sub.choices.items() if "--json" in p._option_string_actions}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    shutil.copytree(REPO / "params", tmp_path / "params", ignore=shutil.ignore_patterns(pins.PIN_DIR))
    return Project.find(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str, project: Project | None = None) -> tuple[int, str, str]:
    out = io.StringIO()
    code = cli.main(list(argv), stdin=io.StringIO(""), sleep=lambda s: None, project=project, out=out)
    return code, out.getvalue(), capsys.readouterr().err


# --- the schemas ------------------------------------------------------------------------------


def test_every_command_with_json_has_its_schema_and_every_schema_is_draft_2020_12():
    names = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert names == json_commands() | {"common", "error"}
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        Draft202012Validator.check_schema(schema)


def _property_names(node: Any) -> list[str]:
    """Every key a schema defines (``properties``), at any depth."""
    if isinstance(node, list):
        return [n for item in node for n in _property_names(item)]
    if not isinstance(node, dict):
        return []
    own = list(node.get("properties", {}))
    return own + [n for value in node.values() for n in _property_names(value)]


def test_every_key_the_schemas_define_is_camel_case():
    names = {n for path in SCHEMAS.glob("*.schema.json") for n in _property_names(json.loads(path.read_text()))}
    assert {"stackName", "logicalId", "schemaVersion"} <= names
    assert sorted(n for n in names if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", n)) == []


def test_the_installed_package_finds_the_schemas_through_its_link():
    """package_data copies cylink_deploy/schemas into a wheel; in a checkout it is the link to docs/schemas."""
    assert (REPO / "cylink_deploy" / "schemas").resolve() == SCHEMAS.resolve()
    assert documents.schema_dir() == REPO / "cylink_deploy" / "schemas"
    assert "cylink_deploy = schemas/*.schema.json" in (REPO / "setup.cfg").read_text()


def test_a_snake_case_key_a_missing_key_or_a_positional_array_breaks_the_schema():
    good = review_document()
    assert documents.problems("deploy", good) == []
    snake = json.loads(json.dumps(good))
    snake["changeSets"][0]["changes"][0]["logical_id"] = snake["changeSets"][0]["changes"][0].pop("logicalId")
    missing = {k: v for k, v in good.items() if k != "stackName"}
    unversioned = {k: v for k, v in good.items() if k != "schemaVersion"}
    positional = documents.versioned({"status": "DELETED", "stackName": "cylink-dev", "retained": [["(root)", "Key"]]})
    release_keys_on_a_deploy = {**good, "imageTag": "v1"}
    for command, doc in [
        ("deploy", snake),
        ("deploy", missing),
        ("deploy", unversioned),
        ("delete", positional),
        ("deploy", release_keys_on_a_deploy),
    ]:
        assert documents.problems(command, doc), doc


def test_delete_lists_what_it_keeps_as_objects_with_physical_ids():
    kept = st.Retained("RegistryStack", "BackendRepository", "AWS::ECR::Repository", "Retain", "cyl/backend")
    doc = parsed("delete", documents.dumps(Result(Status.DELETED, "cylink-dev", retained=[kept]).document()))
    assert doc["retained"] == [
        {
            "stackPath": "RegistryStack",
            "logicalId": "BackendRepository",
            "physicalId": "cyl/backend",
            "resourceType": "AWS::ECR::Repository",
            "deletionPolicy": "Retain",
        }
    ]


# --- real output, offline or stubbed ------------------------------------------------------------


def test_cost_json_matches_its_schema(capsys):
    code, out, _ = run(capsys, "cost", "--json", "--env", "dev", "--event-hours", "3")
    doc = parsed("cost", out)
    assert code == 0 and doc["schemaVersion"] == 1 and doc["estimates"][0]["environment"] == "dev"


def test_pin_json_matches_its_schema_pinned_or_not(capsys, project):
    code, out, _ = run(capsys, "pin", "--env", "prod", "--json", project=project)
    assert code == 0 and parsed("pin", out) == {
        "schemaVersion": 1,
        "environment": "prod",
        "account": None,
        "region": None,
    }
    assert run(capsys, "pin", "--env", "prod", "--account", HOME, "--region", REGION, project=project)[0] == 0
    assert parsed("pin", run(capsys, "pin", "--env", "prod", "--json", project=project)[1])["account"] == HOME


def test_each_logs_line_is_a_versioned_document():
    from datetime import datetime, timezone

    out = io.StringIO()
    reporter = JsonReporter(out=io.StringIO(), document_out=out)
    reporter.show(LogEvent(datetime(2026, 11, 28, 12, tzinfo=timezone.utc), "abc123", "listening on 3001", "id"))
    (line,) = parsed("logs", out.getvalue())
    assert line["schemaVersion"] == 1 and line["taskId"] == "abc123"


# --- errors are documents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("status", "--env", "dev", "--json", "--no-such-flag"), "unrecognized arguments: --no-such-flag"),  # argparse
        (("deploy", "--json"), "the following arguments are required: --env"),
        (("status", "--env", "nope", "--json"), "no parameter file"),
        (("cost", "--json", "--alb-lcu", "-1"), "must be zero or more"),
    ],
)
def test_a_usage_error_is_one_error_document_on_stdout(capsys, argv, said):
    code, out, err = run(capsys, *argv)
    (line,) = [x for x in err.splitlines() if x.startswith("error: ")]
    doc = parsed(argv[0], out)
    assert code == 2 and doc == {"schemaVersion": 1, "error": {"code": 2, "message": line.removeprefix("error: ")}}
    assert said in doc["error"]["message"] and documents.problems("error", doc) == []


def test_without_json_a_failure_leaves_stdout_empty(capsys):
    assert run(capsys, "status", "--env", "nope")[:2] == (2, "")


def test_a_refusal_in_aws_is_an_error_document_exit_4(capsys, project, monkeypatch):
    """The pin check (STS GetCallerIdentity, before any write) refuses other credentials: exit 4."""
    pins.write(project.params_dir, pins.Pin("prod", HOME, REGION))
    sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(sts)
    stub.add_response("get_caller_identity", {"Account": OTHER, "Arn": f"arn:aws:iam::{OTHER}:user/me"}, {})
    monkeypatch.setattr(aws, "make_session", lambda *a, **k: None)
    monkeypatch.setattr(aws, "make_clients", lambda *a, **k: stubbed_clients(sts=sts))
    with stub:
        code, out, _ = run(capsys, "delete", "--env", "prod", "--yes", "--json", project=project)
    doc = parsed("delete", out)
    assert code == 4 and doc["error"]["code"] == 4 and f"pinned to account {HOME}" in doc["error"]["message"]


def _replace_run(monkeypatch: pytest.MonkeyPatch, name: str, body: Any) -> None:
    monkeypatch.setitem(COMMANDS, name, dataclasses.replace(COMMANDS[name], run=body))


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (KeyboardInterrupt(), 5, "interrupted; nothing was executed"),
        (RuntimeError("boom"), 1, "unexpected RuntimeError: boom (rerun with --debug for the traceback)"),
        (StackStateError("cylink-dev is UPDATE_ROLLBACK_FAILED"), 4, "cylink-dev is UPDATE_ROLLBACK_FAILED"),
    ],
)
def test_ctrl_c_a_surprise_and_a_named_failure_are_error_documents(capsys, monkeypatch, raised, code, said):
    def fail(ctx: Any) -> int:
        raise raised

    _replace_run(monkeypatch, "drift", fail)
    exit_code, out, err = run(capsys, "drift", "--env", "dev", "--json")
    assert exit_code == code and parsed("drift", out) == documents.error(code, said) and f"error: {said}" in err


def test_a_command_that_wrote_its_document_and_then_fails_still_gives_one_document(capsys, monkeypatch):
    """status and drift print their document, then exit 1 (not healthy, drifted): no second document follows."""

    def unhealthy(ctx: Any) -> int:
        ctx.reporter.result({"healthy": False})
        raise DeployError("not healthy: backend 0/2 running")

    _replace_run(monkeypatch, "status", unhealthy)
    code, out, err = run(capsys, "status", "--env", "dev", "--json")
    assert code == 1 and json.loads(out) == {"schemaVersion": 1, "healthy": False}
    assert "error: not healthy" in err


def _typed_documents() -> list[tuple[str, dict[str, Any]]]:
    """Documents as the jobs build them from their own types (the emulator runs check them end to end too)."""
    from datetime import datetime, timedelta, timezone

    from cylink_deploy.ops import rotation
    from cylink_deploy.ops.checks import NOT_CHECKED, OK, PROBLEM, Check
    from cylink_deploy.ops.doctor import DoctorView
    from cylink_deploy.ops.event import Event
    from cylink_deploy.ops.loadtest import LoadTestResult, Percentiles

    checks = [Check("quota", "VPCs", OK, "1 of 5"), Check("images", "v1", PROBLEM, "missing", "push it")]
    doctor = DoctorView("dev", "cylink-dev", REGION, HOME, [*checks, Check("quota", "EIPs", NOT_CHECKED, "500")])
    rotated = rotation.Result("cylink-dev", "cyl-redis", "arn:secret", "v-1", ["backend"], False, ["ROTATE"])
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    slot = Event(1, now + timedelta(days=1), now + timedelta(days=1, hours=3), {"backend": 4, "frontend": 2})
    p = Percentiles(1.0, 2.0, None)
    load = LoadTestResult(("http://x",), 2, 2, 0, 0, 1.5, p, p, p, 4, 4, 2, 4, 0, {"b1": 1}, {}, "r.html", "l.log")
    return [
        ("doctor", doctor.document()),
        ("rotate-redis-auth", rotated.document()),
        ("event", {"stackName": "cylink-dev", "events": [slot.document(now)]}),
        ("loadtest", load.document()),
    ]


@pytest.mark.parametrize(("command", "document"), _typed_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_documents_of_doctor_rotation_event_and_loadtest_match_their_schemas(command, document):
    doc = parsed(command, documents.dumps(document))
    assert doc["schemaVersion"] == 1 and not [k for k in doc if "_" in k]
