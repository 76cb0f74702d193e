"""The IAM documents under policies/iam/ are exactly what bootstrap attaches (rendered for the placeholders
ACCOUNT_ID and REGION): a change to policies/iam/deployer-policy.yaml, to a template's resource types or to
cfn-lint's handler permissions fails here until ``make policies`` rewrites the files and the diff is reviewed.
The deployer policy's source is read strictly: a typo is an error, not a different policy."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from cylink_deploy.cfn import bootstrap
from tools import policies


def stale() -> list[str]:
    """What differs between the checked-in files and the generator, with the diff and what to run."""
    expected = policies.expected()
    stored = {p.name: p.read_text() for p in policies.IAM_DIR.glob("*.json")}
    if sorted(stored) != sorted(expected):
        return [f"policies/iam/ holds {sorted(stored)}, the generator writes {sorted(expected)}: run 'make policies'"]
    return [
        f"policies/iam/{name} is stale: run 'make policies' and review the diff:\n"
        + "".join(difflib.unified_diff(stored[name].splitlines(True), text.splitlines(True), "file", "generator", n=2))
        for name, text in expected.items()
        if stored[name] != text
    ]


def test_the_checked_in_policies_are_what_the_generator_writes():
    assert stale() == []


def _source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """The deployer policy's source with one edit, in place of the real one."""
    text = bootstrap.DEPLOYER_SOURCE.read_text()
    assert old in text
    copy = tmp_path / bootstrap.DEPLOYER_SOURCE.name
    copy.write_text(text.replace(old, new, 1))
    monkeypatch.setattr(bootstrap, "DEPLOYER_SOURCE", copy)


def test_an_edited_deployer_source_is_caught(tmp_path, monkeypatch):
    _source(tmp_path, monkeypatch, "    - cloudformation:DeleteStack\n", "")
    (problem,) = stale()
    assert problem.startswith("policies/iam/deployer-policy.json is stale: run 'make policies'")
    assert '-        "cloudformation:DeleteStack",' in problem


def test_a_changed_build_is_caught(monkeypatch):
    types = bootstrap.built_types()
    monkeypatch.setattr(bootstrap, "built_types", lambda: [t for t in types if t != "AWS::SecretsManager::Secret"])
    (problem,) = stale()
    assert problem.startswith("policies/iam/service-role-policy.json is stale: run 'make policies'")
    assert '-        "secretsmanager:CreateSecret",' in problem


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('  resources: ["*"]\n', '  resource: ["*"]\n', "WhoAmI: keys \\['actions', 'resource'\\]"),
        ("role/{role}", "role/{rol}", "'rol'"),
        ("ArnLike:", "ArnLikes:", "ArnLikes is not an IAM condition operator"),
        ("[sts:GetCallerIdentity]", "[sts:Get*]", "WhoAmI: actions are service:Name"),
    ],
    ids=["key", "placeholder", "operator", "wildcard"],
)
def test_a_typo_in_the_deployer_source_is_an_error(tmp_path, monkeypatch, old, new, error):
    _source(tmp_path, monkeypatch, old, new)
    with pytest.raises((ValueError, KeyError), match=error):
        bootstrap.deployer_policy("111122223333", "ap-northeast-1", "bucket")
