"""The policy gate: checkov (CloudFormation, offline) plus Cylink's custom checks on every built template
— zero failed checks, every skip justified in the template and listed in docs/security.md — and each custom
check proven to fail on a template that lacks its control."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .conftest import REPO
from .docspages import page

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CUSTOM_DIR = REPO / "policies" / "checkov"
FIXTURES = REPO / "tests" / "policy_fixtures"
# custom check -> the fixture that lacks its control
CUSTOM = {
    "CKV_CYL_1": "alb_unprotected.json",
    "CKV_CYL_2": "ecs_insecure.json",
    "CKV_CYL_3": "ecs_insecure.json",
    "CKV_CYL_4": "ecs_insecure.json",
    "CKV_CYL_5": "ecs_insecure.json",
    "CKV_CYL_6": "redis_fragile.json",
    "CKV_CYL_7": "redis_fragile.json",
    "CKV_CYL_8": "vpc_open.json",
    "CKV_CYL_9": "s3_plaintext.json",
    "CKV2_CYL_1": "alb_unprotected.json",
    "CKV2_CYL_2": "vpc_open.json",
    "CKV2_CYL_3": "s3_plaintext.json",
}


def checkov(directory, *extra: str) -> dict:
    """checkov's JSON results for a directory of CloudFormation templates (no network: --skip-download)."""
    assert CHECKOV.exists(), "checkov is installed by 'make test' into .venv-checkov (its pins conflict with ours)"
    proc = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--external-checks-dir",
            str(CUSTOM_DIR),
            "-o",
            "json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    document = json.loads(proc.stdout)
    return (document[0] if isinstance(document, list) else document)["results"]


@pytest.fixture(scope="module")
def gate(built_dir):
    return checkov(built_dir)


@pytest.mark.slow
def test_zero_failed_checks_on_the_built_templates(gate):
    failed = [(r["check_id"], r["resource"], r["file_path"]) for r in gate["failed_checks"]]
    assert failed == []
    assert len(gate["passed_checks"]) > 100


@pytest.mark.slow
def test_every_skip_carries_its_reason_and_is_listed_in_the_security_page(gate):
    readme = page("security")
    assert gate["skipped_checks"]
    for skip in gate["skipped_checks"]:
        reason = skip["check_result"].get("suppress_comment", "")
        assert len(reason) > 30, skip["check_id"]
        resource = skip["resource"].split(".")[-1]
        assert re.search(rf"`{skip['check_id']}`.*`{resource}`", readme), (
            f"docs/security.md must list {skip['check_id']} on {resource}"
        )


@pytest.mark.slow
def test_every_custom_check_passes_on_our_templates(gate):
    passed = {r["check_id"] for r in gate["passed_checks"]}
    assert set(CUSTOM) <= passed


@pytest.mark.slow
def test_every_custom_check_fails_on_a_template_lacking_its_control():
    results = checkov(FIXTURES, "--check", ",".join(sorted(CUSTOM)))
    failed = {(r["check_id"], r["file_path"].lstrip("/")) for r in results["failed_checks"]}
    for check, fixture in CUSTOM.items():
        assert (check, fixture) in failed, f"{check} does not fail on {fixture}"


def test_every_custom_check_has_a_failing_fixture():
    defined = set()
    for path in CUSTOM_DIR.iterdir():
        if path.suffix in (".py", ".yaml"):
            defined |= set(re.findall(r"\b(CKV2?_CYL_\d+)\b", path.read_text()))
    assert defined == set(CUSTOM)
