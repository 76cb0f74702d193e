"""The policy evaluator the permission tests rely on (tests/iameval.py): each condition operator it supports
behaves as IAM documents it, and an operator it does not know is an error, never a silent match."""

from __future__ import annotations

import pytest

from . import iameval


def _allows(condition: dict, context: dict) -> bool:
    doc = {"Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": condition}]}
    return iameval.allowed(doc, "x:Y", "r", context)


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"k": "a"}}, {"k": "a"}, True),
        ({"StringEquals": {"k": "a"}}, {"k": "A"}, False),
        ({"StringEquals": {"k": "a"}}, {}, False),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringLike": {"k": "cylink-*"}}, {"k": "cylink-prod"}, True),
        ({"StringLike": {"k": "cylink-*"}}, {"k": "other"}, False),
        ({"ArnEquals": {"k": "arn:aws:iam::1:role/r"}}, {"k": "arn:aws:iam::1:role/r"}, True),
        ({"ArnEquals": {"k": "arn:aws:iam::1:role/r"}}, {"k": "arn:aws:iam::1:role/r2"}, False),
        ({"ArnLike": {"k": "arn:aws:iam::1:role/c-*"}}, {"k": "arn:aws:iam::1:role/c-x"}, True),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "true"}}, {"k": "v"}, False),
        ({"Null": {"k": "false"}}, {"k": "v"}, True),
        ({"Null": {"k": "false"}}, {}, False),
        ({"ForAnyValue:StringLike": {"k": "alias/cylink*"}}, {"k": ["alias/x", "alias/cylink-data"]}, True),
        ({"ForAnyValue:StringLike": {"k": "alias/cylink*"}}, {"k": ["alias/x"]}, False),
        ({"ForAnyValue:StringLike": {"k": "alias/cylink*"}}, {}, False),  # a missing key matches no value
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {}, True),  # IAM: vacuously true without the key
        ({"StringEquals": {"k": "a", "j": "b"}}, {"k": "a"}, False),  # every key of an operator must hold
        ({"StringEquals": {"k": "a"}, "StringLike": {"j": "b*"}}, {"k": "a", "j": "bc"}, True),
    ],
)
def test_each_operator_follows_iam(condition, context, expected):
    assert _allows(condition, context) is expected


@pytest.mark.parametrize("operator", ["NumericLessThan", "StringNotEquals", "ForSomeValues:StringEquals"])
def test_an_unknown_operator_is_an_error(operator):
    with pytest.raises(ValueError, match="not supported"):
        _allows({operator: {"k": "a"}}, {"k": "a"})


def test_an_explicit_deny_wins_over_any_allow():
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["iam:PutRolePolicy"],
                "Resource": "arn:aws:iam::1:role/cylink-cloudformation",
            },
        ]
    }
    assert iameval.decision(doc, "iam:PutRolePolicy", "arn:aws:iam::1:role/cylink-cloudformation") == "Deny"
    assert iameval.decision(doc, "iam:PutRolePolicy", "arn:aws:iam::1:role/cylink-x") == "Allow"
