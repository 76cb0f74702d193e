"""The policy gate's second half: AWS Control Tower's proactive controls (cfn-guard rules shipped in
cdklabs-cdk-validator-cfnguard) over every stack of every environment, resolved with that environment's
parameters and a domain set, at zero failures; every exemption in policies/guard/exemptions.yaml is still
needed, carries its reason and is listed in docs/security.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cylink_deploy.cost import model as cost
from cylink_deploy.preflight.resolve import resolve

from . import guard
from .conftest import REPO
from .docspages import page

GUARD = REPO / ".venv-guard" / "bin" / "cfn-guard"
RULES = REPO / ".venv-guard" / "rules" / "control-tower"
EXEMPTIONS = REPO / "policies" / "guard" / "exemptions.yaml"
ENVIRONMENTS = ("dev", "staging", "prod")
REGION = "ap-northeast-1"


def _require_guard() -> None:
    assert GUARD.exists() and RULES.is_dir(), (
        "cfn-guard and the Control Tower rules are installed by 'make test' (or 'make guard-venv') into .venv-guard: "
        "pip install --no-deps -r requirements-guard.txt, then tools/guard_install.py unpacks them"
    )


def _guard(directory: Path) -> list[dict]:
    _require_guard()
    return guard.run(GUARD, RULES, directory)


@pytest.fixture(scope="module")
def found(tmp_path_factory, built) -> list[guard.Failure]:
    """Every failure of every environment (before exemptions)."""
    out: list[guard.Failure] = []
    for env in ENVIRONMENTS:
        stacks, _ = cost.env_stacks(env, REPO / "params", REGION, files=built.files)
        directory = tmp_path_factory.mktemp(f"guard-{env}")
        guard.write_environment(stacks, directory, REGION)
        out += guard.failures(env, _guard(directory))
    return out


@pytest.fixture(scope="module")
def exemptions() -> list[guard.Exemption]:
    return guard.load_exemptions(EXEMPTIONS, ENVIRONMENTS)


@pytest.mark.slow
def test_zero_unexempted_control_tower_failures_in_every_environment(found, exemptions):
    assert [f"{f.env} {f.control} {f.stack}/{f.resource}" for f in guard.unexempted(found, exemptions)] == []


@pytest.mark.slow
def test_every_exemption_is_still_needed(found, exemptions):
    assert guard.unused(found, exemptions) == []


def test_every_exemption_has_its_reason_and_is_listed_in_the_security_page(exemptions):
    readme = page("security")
    for exemption in exemptions:
        assert len(exemption.reason) > 60, exemption.control
        assert set(exemption.environments) <= set(ENVIRONMENTS)
        for resource in exemption.resources:
            assert re.search(rf"`{re.escape(exemption.control)}`.*`{re.escape(resource)}`", readme), (
                f"docs/security.md must list {exemption.control} on {resource}"
            )


@pytest.mark.slow
def test_the_rules_ran_on_every_stack_of_every_environment(tmp_path, built):
    """Guard's verdicts cover the whole deployment: every resolved stack is a data file, and rules applied."""
    stacks, _ = cost.env_stacks("prod", REPO / "params", REGION, files=built.files)
    guard.write_environment(stacks, tmp_path, REGION)
    report = _guard(tmp_path)
    assert sorted(Path(d["name"]).stem for d in report) == sorted(p.replace("/", ".") for p in stacks)
    assert sum(len(d["compliant"]) for d in report) > 30


def test_guard_sees_the_kms_key_and_certificate_a_sibling_stack_creates(built):
    """A log group's KmsKeyId and the HTTPS listener's certificate arrive as sibling outputs: guard gets ARNs
    of the right form, not a Ref it would fail as 'not encrypted' / 'no ACM certificate'."""
    stacks, _ = cost.env_stacks("prod", REPO / "params", REGION, files=built.files)
    cluster = guard.for_guard(stacks, "ClusterStack", REGION)
    assert cluster["Resources"]["BackendLogGroup"]["Properties"]["KmsKeyId"].startswith(f"arn:aws:kms:{REGION}:")
    assert cluster["Resources"]["BackendLogGroup"]["Properties"]["RetentionInDays"] == 90  # typed as the schema says
    listener = guard.for_guard(stacks, "LoadBalancerStack", REGION)["Resources"]["HttpsListener"]["Properties"]
    assert listener["Certificates"][0]["CertificateArn"].startswith(f"arn:aws:acm:{REGION}:")
    services = guard.for_guard(stacks, "ServicesStack", REGION)
    assert services["Resources"]["BackendService"]["Properties"]["Cluster"] == {
        "Fn::GetAtt": ["ClusterStack", "Outputs.ClusterName"]
    }


def _fails(control: str, stack: str, template: dict, tmp_path: Path) -> bool:
    (tmp_path / f"{stack}.json").write_text(json.dumps(template))
    return any(f.control == control for f in guard.failures("prod", _guard(tmp_path)))


@pytest.mark.slow
def test_the_kms_key_policy_fails_ct_kms_pr_3_without_the_grant_restriction(tmp_path, built):
    stacks = resolve(built.files, {}, region=REGION)
    keys = guard.for_guard(stacks, "KeysStack", REGION)
    assert not _fails("CT.KMS.PR.3", "KeysStack", keys, tmp_path)
    statements = keys["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "GrantsOnlyForAwsResources"]
    assert _fails("CT.KMS.PR.3", "KeysStack", keys, tmp_path)


@pytest.mark.slow
def test_the_log_bucket_policy_fails_ct_s3_pr_8_in_the_sub_form(tmp_path, built):
    stacks = resolve(built.files, {}, region=REGION)
    lb = guard.for_guard(stacks, "LoadBalancerStack", REGION)
    assert not _fails("CT.S3.PR.8", "LoadBalancerStack", lb, tmp_path)
    deny = lb["Resources"]["AlbLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][-1]
    deny["Resource"][1] = {"Fn::Sub": "${AlbLogBucket.Arn}/*"}
    assert _fails("CT.S3.PR.8", "LoadBalancerStack", lb, tmp_path)
