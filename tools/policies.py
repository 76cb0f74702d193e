#!/usr/bin/env python3
"""The IAM documents bootstrap attaches, checked in as files so a change to either shows up as a reviewable
diff: policies/iam/deployer-policy.json (from policies/iam/deployer-policy.yaml) and
policies/iam/service-role-policy.json (generated from the build's resource types and cfn-lint's handler
permissions; bootstrap attaches it as an inline policy plus the managed policies its grants on "*" need) and
policies/iam/permissions-boundary.json (the boundary of every role the stacks create). ``make policies``
rewrites them; tests/test_policy_files.py fails when they are stale.

They are rendered for the placeholders ACCOUNT_ID and REGION (and the artifacts bucket named from them), not
for a sample account such as 123456789012: pasted by mistake, a sample account would be a valid policy that
silently grants nothing in the real account, while ACCOUNT_ID stands out. Not ``${...}`` tokens either: in
an IAM policy those are policy variables
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
``deploy.py bootstrap`` prints the deployer policy with the real values.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cylink_deploy.cfn import artifacts, bootstrap  # noqa: E402

IAM_DIR = REPO / "policies" / "iam"
ACCOUNT, REGION = "ACCOUNT_ID", "REGION"


def expected() -> dict[str, str]:
    """File name under policies/iam/ -> its text, computed from the current sources."""
    bucket = artifacts.bucket_name(ACCOUNT, REGION)
    documents = {
        "deployer-policy.json": bootstrap.deployer_policy(ACCOUNT, REGION, bucket),
        "service-role-policy.json": bootstrap.role_policy(ACCOUNT, bucket),
        "permissions-boundary.json": bootstrap.boundary_policy(ACCOUNT),
    }
    return {name: bootstrap.as_json(document) + "\n" for name, document in documents.items()}


def update() -> None:
    for name, text in expected().items():
        (IAM_DIR / name).write_text(text)
        print(f"wrote {(IAM_DIR / name).relative_to(REPO)}")


if __name__ == "__main__":
    update()
