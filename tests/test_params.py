"""Bad configuration fails before any AWS call with a message naming the file, key and what is allowed."""
from __future__ import annotations

import json

import pytest

from cylink_deploy import params
from cylink_deploy.errors import BadInput
from templates_src import render


@pytest.fixture(scope="module")
def root_params():
    return json.loads(render.render()["root.json"])["Parameters"]


def _file(tmp_path, body: str, name: str = "dev.yaml"):
    path = tmp_path / name
    path.write_text("template-file-path: build/root.json\n" + body)
    return path


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_shipped_parameter_files_are_valid(root_params, project, env):
    dep = params.resolve(env, project.params_dir / f"{env}.yaml", root_params)
    assert dep.tags["Environment"] == env


@pytest.mark.parametrize(
    "body, env, expected",
    [
        ("parameters:\n  EgresMode: none\n", "dev", "unknown parameter EgresMode (did you mean EgressMode?)"),
        ("parameters:\n  EgressMode: nat\n", "dev", "parameter EgressMode must be one of nat-per-az, single-nat, none; got 'nat'"),
        ("parameters:\n  RedisNodeCount: two\n", "dev", "parameter RedisNodeCount must be a number"),
        ("parameters:\n  RedisNodeCount: 9\n", "dev", "parameter RedisNodeCount must be between 1 and 6"),
        ("parameters:\n  VpcCidr: 10.0.0.0\n", "dev", "parameter VpcCidr '10.0.0.0' does not match"),
        ("parameters:\n  NamePrefix: Cylink\n", "dev", "2-20 characters: lower-case letters"),
        ("parameters:\n  TemplatesBucket: b\n", "dev", "TemplatesBucket is set by deploy.py"),
        ("parameters:\n  RedisNodeCount: [1]\n", "dev", "must be a string or number"),
        ("parameter:\n  EgressMode: none\n", "dev", "unknown top-level key 'parameter'"),
        ("parameters:\n  RedisNodeCount: '1'\n", "prod", "RedisNodeCount 1 cannot be Multi-AZ nor fail over; prod requires 2 or more"),
        ("parameters:\n  EgressMode: none\n", "staging", "EgressMode none puts tasks in public subnets and is allowed only in dev"),
        ("parameters:\n  BackendMinCapacity: 5\n  BackendMaxCapacity: 3\n", "dev", "BackendMinCapacity (5) must not exceed BackendMaxCapacity (3)"),
        ("parameters:\n  HostedZoneId: Z123ABC\n", "dev", "HostedZoneId is set but DomainName is empty"),
        ("tags:\n  'aws:x': y\n", "dev", "tag key 'aws:x' is not allowed"),
        ("parameters: [\n", "dev", "not valid YAML"),
    ],
)
def test_bad_parameter_files_are_rejected_naming_file_and_key(tmp_path, root_params, body, env, expected):
    path = _file(tmp_path, body, f"{env}.yaml")
    with pytest.raises(BadInput) as err:
        params.resolve(env, path, root_params)
    message = str(err.value)
    assert expected in message
    assert str(path) in message or "--parameter" in message
    assert "\n" not in message


def test_overrides_and_image_tag_are_checked_too(tmp_path, root_params):
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(BadInput, match=r"^--parameter: parameter ImageTag .* does not match"):
        params.resolve("dev", path, root_params, image_tag="bad tag")
    with pytest.raises(BadInput, match="expected KEY=VALUE"):
        params.parse_overrides(["RedisNodeCount"])
    dep = params.resolve("dev", path, root_params, params.parse_overrides(["RedisNodeCount=2"]), image_tag="v1.2.3")
    assert dep.parameters == {"ImageTag": "v1.2.3", "RedisNodeCount": "2"}


def test_unknown_environment_lists_the_known_ones(tmp_path):
    _file(tmp_path, "", "dev.yaml")
    with pytest.raises(BadInput, match=r"known environments: dev"):
        params.env_file(tmp_path, "qa")
