"""Property tests: whatever a user puts in a parameter file or an override, the result is a valid
deployment or one line (BadInput, exit 2), never another exception and never a changed value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cylink_deploy.errors import BadInput
from cylink_deploy.preflight import params
from templates_src import render

ROOT_PARAMS = json.loads(render.render()["root.json"])["Parameters"]
NAMES = sorted(n for n in ROOT_PARAMS if n not in params.PLACEMENT_PARAMS)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def outcome(path: Path, overrides: dict[str, str] | None = None, env: str = "dev") -> params.Deployment | BadInput:
    try:
        return params.resolve(env, path, ROOT_PARAMS, overrides)
    except BadInput as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        return exc


yaml_scalars = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True),
    st.sampled_from(
        [
            "nan",
            ".nan",
            ".inf",
            "-.inf",
            "1e3",
            "0x1F",
            "0o17",
            "010",
            "~",
            "null",
            "yes",
            "no",
            "on",
            "true",
            "2026-11-28",
            "1_000",
            "'quoted'",
            '"1.10"',
            "[1]",
            "{a: 1}",
            "&a x",
            "*a",
            "!!binary aGk=",
            "| x",
            "> x",
            "@x",
            "`x",
            "%x",
        ]
    ),
)


@SETTINGS
@given(name=st.sampled_from(NAMES), value=yaml_scalars)
def test_any_yaml_scalar_for_any_parameter_is_deployable_or_one_line(tmp_path_factory, name, value):
    path = tmp_path_factory.mktemp("p") / "dev.yaml"
    path.write_text(f"template-file-path: build/root.json\nparameters:\n  {name}: {value}\n", encoding="utf-8")
    result = outcome(path)
    if isinstance(result, params.Deployment):
        sent = result.parameters[name]
        assert params.check_value(name, sent, ROOT_PARAMS[name]) is None
        plain = value.strip()
        if plain and plain[0] not in "'\"|>[{&*!%@`" and "#" not in plain and ": " not in plain:
            assert sent == plain, (value, sent)  # unquoted: exactly what was typed


@SETTINGS
@given(items=st.lists(st.text(max_size=30), max_size=4))
def test_any_override_string_is_deployable_or_one_line(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("p") / "dev.yaml"
    path.write_text("template-file-path: build/root.json\nparameters: {}\n", encoding="utf-8")
    try:
        overrides = params.parse_overrides(items)
    except BadInput as exc:
        assert "\n" not in str(exc)
        return
    result = outcome(path, overrides)
    if isinstance(result, params.Deployment):
        for key, value in overrides.items():
            assert result.parameters[key] == value


@SETTINGS
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_parameter_file_give_a_deployment_or_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("p") / "dev.yaml"
    path.write_bytes(data)
    outcome(path)


@pytest.mark.parametrize("count", ["1", "1.0", "01", "0001", "+1", " 1", "1 "])
def test_prod_never_gets_a_single_redis_node_however_it_is_written(tmp_path, count):
    path = tmp_path / "prod.yaml"
    path.write_text(
        f"template-file-path: build/root.json\nparameters:\n  RedisNodeCount: '{count}'\n  DomainName: "
        "cylink.example.jp\n"
    )
    assert isinstance(outcome(path, env="prod"), BadInput)
