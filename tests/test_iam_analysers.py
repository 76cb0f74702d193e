"""Well-kept IAM analysers over the generated documents (issue 24, finding 1): cloudsplaining (privilege
escalation, data exfiltration, credentials exposure, resource exposure) and parliament (policy mistakes) run
from .venv-iam (their pins conflict with ours; `make test` creates it) over the deployer policy, the service
role's policy and the permissions boundary, rendered for a sample account and region. Any finding that
policies/iam/analyser-allowlist.yaml does not list with its reason fails, and so does an allowlist entry that
matches nothing; docs/security.md shows the list."""

from __future__ import annotations

import json
import subprocess
from fnmatch import fnmatchcase

import pytest
import yaml

from cylink_deploy.cfn import artifacts, bootstrap

from .conftest import REPO
from .docspages import page
from .docspages import section as section_of

PYTHON = REPO / ".venv-iam" / "bin" / "python"
ALLOWLIST = REPO / "policies" / "iam" / "analyser-allowlist.yaml"
ACCOUNT, REGION = "111122223333", "ap-northeast-1"
pytestmark = pytest.mark.slow  # runs the analysers in .venv-iam


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> list[dict[str, str]]:
    assert PYTHON.exists(), "cloudsplaining and parliament are installed by 'make test' into .venv-iam"
    folder = tmp_path_factory.mktemp("iam-documents")
    bucket = artifacts.bucket_name(ACCOUNT, REGION)
    documents = {
        "deployer-policy": bootstrap.deployer_policy(ACCOUNT, REGION, bucket),
        "service-role-policy": bootstrap.role_policy(ACCOUNT, bucket),
        "permissions-boundary": bootstrap.boundary_policy(ACCOUNT),
    }
    for name, document in documents.items():
        (folder / f"{name}.json").write_text(bootstrap.as_json(document))
    proc = subprocess.run(
        [str(PYTHON), str(REPO / "tools" / "iam_analysers.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _allowlist() -> list[dict]:
    return yaml.safe_load(ALLOWLIST.read_text())


def _matches(entry: dict, finding: dict[str, str]) -> bool:
    return (
        entry["tool"] == finding["tool"]
        and entry["issue"] == finding["issue"]
        and finding["document"] in entry["documents"]
        and any(fnmatchcase(finding["subject"], s) for s in entry["subjects"])
    )


def test_the_analysers_ran_over_every_document(findings):
    assert {f["tool"] for f in findings} == {"cloudsplaining", "parliament"}
    assert {f["document"] for f in findings} >= {"deployer-policy", "service-role-policy"}


def test_every_finding_is_allowlisted_with_its_reason(findings):
    entries = _allowlist()
    assert all(len(e["why"]) > 40 for e in entries)
    unlisted = [f for f in findings if not any(_matches(e, f) for e in entries)]
    assert unlisted == [], "findings of the IAM analysers that policies/iam/analyser-allowlist.yaml does not list"


def test_no_allowlist_entry_is_stale(findings):
    stale = [
        (e["tool"], e["issue"], s)
        for e in _allowlist()
        for s in e["subjects"]
        if not any(_matches({**e, "subjects": [s]}, f) for f in findings)
    ]
    assert stale == []


def test_no_privilege_escalation_exfiltration_or_resource_exposure_is_allowlisted():
    """The categories the issue names: none may be waved through; credentials exposure only for the ECR login."""
    issues = {(e["tool"], e["issue"]) for e in _allowlist()}
    assert not {("cloudsplaining", i) for i in ("PrivilegeEscalation", "DataExfiltration", "ResourceExposure")} & issues
    (credentials,) = [e for e in _allowlist() if e["issue"] == "CredentialsExposure"]
    assert credentials["subjects"] == ["ecr:GetAuthorizationToken"]


def test_the_security_page_shows_the_allowlist():
    section = section_of(page("security"), "## IAM analysers")
    for entry in _allowlist():
        assert f"`{entry['issue']}`" in section, entry["issue"]
        for subject in entry["subjects"]:
            assert f"`{subject}`" in section, subject


def test_the_analysers_find_what_the_old_service_role_allowed():
    """The analysers are not blind: the policy before issue 24 (StackResources on "*" with secrets, keys and
    repository policies) is reported for data exfiltration and resource exposure."""
    old = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "kms:PutKeyPolicy", "ecr:SetRepositoryPolicy"],
                "Resource": "*",
            }
        ],
    }
    proc = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import json,sys; sys.path.insert(0, sys.argv[1]); import iam_analysers as a; "
            "print(json.dumps(a.cloudsplaining(json.loads(sys.argv[2]))))",
            str(REPO / "tools"),
            json.dumps(old),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    found = {tuple(f) for f in json.loads(proc.stdout)}
    assert ("DataExfiltration", "secretsmanager:GetSecretValue") in found
    assert ("ResourceExposure", "kms:PutKeyPolicy") in found and (
        "ResourceExposure",
        "ecr:SetRepositoryPolicy",
    ) in found
