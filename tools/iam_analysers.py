#!/usr/bin/env python3
"""Run the IAM analysers over policy documents and print their findings as JSON (one list).

Runs inside .venv-iam (cloudsplaining and parliament, whose pins conflict with ours; `make test` creates it):
``.venv-iam/bin/python tools/iam_analysers.py DIR`` reads every DIR/*.json policy document and prints
``[{"tool", "document", "issue", "subject"}, ...]``:

- cloudsplaining (https://github.com/salesforce/cloudsplaining): privilege escalation, data exfiltration,
  credentials exposure, resource exposure and service-wide wildcards among the actions a document allows
  without a resource constraint (it does not read conditions: a statement with an ARN or a Condition is
  constrained to it);
- parliament (https://github.com/duo-labs/parliament): policy mistakes (unknown actions, malformed ARNs,
  conditions that do not apply to an action, Resource "*" where a resource-level permission exists...).

tests/test_iam_analysers.py renders the documents, runs this, and fails on any finding that
policies/iam/analyser-allowlist.yaml does not list with its reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CLOUDSPLAINING = (
    "PrivilegeEscalation",
    "DataExfiltration",
    "CredentialsExposure",
    "ResourceExposure",
    "ServiceWildcard",
)


def cloudsplaining(document: dict[str, Any]) -> list[tuple[str, str]]:
    from cloudsplaining.command.scan_policy_file import scan_policy

    results = scan_policy(document, {})
    out = []
    for category in CLOUDSPLAINING:
        for finding in (results.get(category) or {}).get("findings", []):
            out.append((category, finding["type"] if isinstance(finding, dict) else str(finding)))
    return out


def parliament(text: str) -> list[tuple[str, str]]:
    from parliament import analyze_policy_string

    out = []
    for finding in analyze_policy_string(text).findings:
        location = finding.location or {}
        subject = location.get("string") or finding.detail
        if isinstance(subject, list):  # RESOURCE_STAR: actions; RESOURCE_MISMATCH: {action, required_format}
            subject = ", ".join(sorted({str(x["action"]) if isinstance(x, dict) else str(x) for x in subject}))
        subject = str(subject)
        out.append((finding.issue, subject))
    return out


def main(folder: str) -> None:
    findings = []
    for path in sorted(Path(folder).glob("*.json")):
        text = path.read_text()
        for tool, found in (("cloudsplaining", cloudsplaining(json.loads(text))), ("parliament", parliament(text))):
            findings += [{"tool": tool, "document": path.stem, "issue": i, "subject": s} for i, s in found]
    json.dump(findings, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
