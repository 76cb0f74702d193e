"""A small IAM policy evaluator: does this policy allow this action on this resource in this context?

Enough of IAM's logic for the policies Cylink writes (awacs documents as JSON): explicit Deny wins over
Allow, ``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*`` and ``?`` wildcards, and the
condition operators our policies use (StringEquals, StringLike, ArnLike, ArnEquals, Bool, each also
``...IfExists``; Null; and the set qualifiers ``ForAnyValue:``/``ForAllValues:`` for multivalued keys such as
kms:ResourceAliases). An operator it does not know is an error, never a silent match. Principals are not
evaluated (identity policies have none; for key policies the caller picks the statements).

Semantics, from the IAM User Guide's condition operators and "Set operators for multivalued context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
a key missing from the request fails a plain operator and ``ForAnyValue:``, and satisfies ``...IfExists`` and
``ForAllValues:``; ``Null: {key: "true"}`` holds when the key is missing, ``"false"`` when it is present.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any, Mapping

Context = Mapping[str, str | list[str]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    # fnmatch treats [ ] as classes; IAM has only * and ?
    pattern = pattern.replace("[", "[[]")
    return fnmatchcase(value, pattern) if case else fnmatchcase(value.lower(), pattern.lower())


MATCHERS = {
    "StringEquals": lambda w, g: w == g,
    "StringLike": _glob,
    "ArnLike": _glob,
    "ArnEquals": _glob,  # IAM: ArnEquals and ArnLike both compare component-wise with * and ? wildcards
    "Bool": lambda w, g: str(w).lower() == str(g).lower(),
}


def _condition(operator: str, values: Mapping[str, Any], context: Context) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise ValueError(f"condition operator {operator} is not supported by this evaluator")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    for key, wanted in values.items():
        given = context.get(key)
        if base == "Null" and not qualifier and not if_exists:
            if not any((given is None) == (str(w).lower() == "true") for w in _list(wanted)):
                return False
            continue
        match = MATCHERS.get(base)
        if match is None:
            raise ValueError(f"condition operator {operator} is not supported by this evaluator")
        if given is None or given == []:
            if if_exists or qualifier == "ForAllValues":
                continue
            return False
        hits = [any(match(str(w), str(g)) for w in _list(wanted)) for g in _list(given)]
        if not (all(hits) if qualifier == "ForAllValues" else any(hits)):
            return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Action" in statement:
        if not any(_glob(a, action, case=False) for a in _list(statement["Action"])):
            return False
    elif any(_glob(a, action, case=False) for a in _list(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(r, resource) for r in _list(statement["Resource"])):
            return False
    elif any(_glob(r, resource) for r in _list(statement.get("NotResource", []))):
        return False
    return all(_condition(op, values, context) for op, values in statement.get("Condition", {}).items())


def decision(policy: Mapping[str, Any] | str, action: str, resource: str, context: Context | None = None) -> str:
    """ "Allow", "Deny" (explicit) or "ImplicitDeny" for one request against one policy document."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    verdict = "ImplicitDeny"
    for statement in _list(document.get("Statement", [])):
        if _applies(statement, action, resource, context or {}):
            if statement["Effect"] == "Deny":
                return "Deny"
            verdict = "Allow"
    return verdict


def allowed(policy: Mapping[str, Any] | str, action: str, resource: str, context: Context | None = None) -> bool:
    return decision(policy, action, resource, context) == "Allow"
