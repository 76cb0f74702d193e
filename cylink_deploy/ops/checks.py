"""One row of ``doctor``'s table: what was checked, the verdict, what was found, and what to do.

"not checked" is its own verdict, never a pass: an API the endpoint lacks (the emulator's partial Service
Quotas), a permission the caller lacks, or a DNS server that did not answer is said as such.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, PROBLEM, NOT_CHECKED = "ok", "problem", "not checked"


@dataclass(frozen=True)
class Check:
    area: str  # "service-linked role", "quota", "hosted zone", ...
    subject: str  # AWSServiceRoleForECS, "VPCs per Region (L-F678F1CE)", the domain, ...
    result: str  # OK, PROBLEM or NOT_CHECKED
    detail: str  # what was found
    todo: str = ""  # what to do (a problem always says it)
