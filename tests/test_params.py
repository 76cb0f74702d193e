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
    overrides = {"DomainName": "cylink.example.jp"} if env == "prod" else {}  # prod's domain is the team's to set
    dep = params.resolve(env, project.params_dir / f"{env}.yaml", root_params, overrides)
    assert dep.tags["Environment"] == env


def test_prod_without_a_domain_is_refused_before_anything_happens_and_staging_warns(root_params, project):
    with pytest.raises(
        BadInput, match=r"params/prod.yaml: DomainName is empty: prod would serve .* plain HTTP; set DomainName"
    ):
        params.resolve("prod", project.params_dir / "prod.yaml", root_params)
    assert params.resolve(
        "prod", project.params_dir / "prod.yaml", root_params, deploying=False
    ).parameters  # an estimate may
    staging = params.resolve("staging", project.params_dir / "staging.yaml", root_params)
    assert staging.warnings == (
        "DomainName is empty: staging serves plain HTTP (fine for a rehearsal, not for real users)",
    )


@pytest.mark.parametrize(
    "body, env, expected",
    [
        ("parameters:\n  EgresMode: none\n", "dev", "unknown parameter EgresMode (did you mean EgressMode?)"),
        (
            "parameters:\n  EgressMode: nat\n",
            "dev",
            "parameter EgressMode must be one of nat-per-az, single-nat, none; got 'nat'",
        ),
        ("parameters:\n  RedisNodeCount: two\n", "dev", "parameter RedisNodeCount must be a whole number"),
        ("parameters:\n  RedisNodeCount: 9\n", "dev", "parameter RedisNodeCount must be between 1 and 6"),
        ("parameters:\n  VpcCidr: 10.0.0.0\n", "dev", "parameter VpcCidr '10.0.0.0' does not match"),
        ("parameters:\n  NamePrefix: Cylink\n", "dev", "2-20 characters: lower-case letters"),
        ("parameters:\n  TemplatesBucket: b\n", "dev", "TemplatesBucket is set by deploy.py"),
        ("parameters:\n  RedisNodeCount: [1]\n", "dev", "must be a single value, got a list"),
        ("parameters:\n  RedisNodeCount:\n", "dev", "parameter RedisNodeCount has no value"),
        ("parameters:\n  RedisNodeCount: nan\n", "dev", "RedisNodeCount must be a whole number written plainly"),
        ("parameters:\n  RedisNodeCount: .inf\n", "dev", "RedisNodeCount must be a whole number written plainly"),
        ("parameters:\n  RedisNodeCount: 1e0\n", "dev", "RedisNodeCount must be a whole number written plainly"),
        ("parameters:\n  RedisNodeCount: '2.0'\n", "prod", "RedisNodeCount must be a whole number written plainly"),
        ("parameters:\n  RedisNodeCount: 01\n", "prod", "no leading zeros"),
        ("parameters:\n  Target5xxRatePercent: 0.05\n", "dev", "must be between 0.1 and 100"),
        (
            "parameters:\n  EgressMode: none\n  EgressMode: single-nat\n",
            "dev",
            "dev.yaml:4:3: key 'EgressMode' is given twice: keep one",
        ),
        ("parameters:\n  - EgressMode\n", "dev", "'parameters' must be a mapping"),
        ("tags: [a, b]\n", "dev", "'tags' must be a mapping"),
        ("parameters:\n  EgressMode: [none\n", "dev", "dev.yaml:4:1: not valid YAML (expected ','"),
        ("parameter:\n  EgressMode: none\n", "dev", "unknown top-level key 'parameter'"),
        (
            "parameters:\n  RedisNodeCount: '1'\n",
            "prod",
            "RedisNodeCount 1 cannot be Multi-AZ nor fail over; prod requires 2 or more",
        ),
        (
            "parameters:\n  EgressMode: none\n",
            "staging",
            "EgressMode none puts tasks in public subnets and is allowed only in dev",
        ),
        (
            "parameters:\n  BackendMinCapacity: 5\n  BackendMaxCapacity: 3\n",
            "dev",
            "BackendMinCapacity (5) must not exceed BackendMaxCapacity (3)",
        ),
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


@pytest.mark.parametrize(
    "written, sent",
    [
        ("1.10", "1.10"),
        ("010", "010"),
        ("1.0", "1.0"),
        ("2026-11-28", "2026-11-28"),
        ("'1.10'", "1.10"),
        ("v1.2.3", "v1.2.3"),
    ],
)
def test_what_the_user_wrote_is_what_is_sent(tmp_path, root_params, written, sent):
    """YAML 1.1 would turn 1.10 into 1.1, 010 into 8 and a date into a date: never for a parameter."""
    path = _file(tmp_path, f"parameters:\n  ImageTag: {written}\n")
    assert params.resolve("dev", path, root_params).parameters["ImageTag"] == sent


def test_booleans_are_the_words_the_template_allows(tmp_path, root_params):
    path = _file(tmp_path, "parameters:\n  WafEnabled: true\n  AlbDeletionProtection: no\n")
    with pytest.raises(BadInput, match="AlbDeletionProtection must be one of true, false; got 'no'"):
        params.resolve("dev", path, root_params)


def test_a_value_exactly_at_the_bounds_is_accepted_and_min_may_equal_max(tmp_path, root_params):
    path = _file(
        tmp_path,
        "parameters:\n  RedisNodeCount: 6\n  BackendMinCapacity: 3\n  BackendMaxCapacity: 3\n  "
        "RedisSnapshotRetentionDays: 1\n",
    )
    assert params.resolve("dev", path, root_params).parameters["RedisNodeCount"] == "6"


def test_a_file_that_is_not_utf8_says_how_to_fix_it(tmp_path, root_params):
    path = tmp_path / "dev.yaml"
    path.write_bytes("template-file-path: build/root.json\ntags:\n  Owner: 山田\n".encode("shift_jis"))
    with pytest.raises(BadInput, match="not UTF-8 text \\(Shift-JIS\\?\\): save it as UTF-8"):
        params.resolve("dev", path, root_params)


def test_a_rule_broken_by_an_override_names_the_override(tmp_path, root_params):
    path = _file(tmp_path, "parameters:\n  BackendMaxCapacity: 3\n", "dev.yaml")
    with pytest.raises(BadInput, match="^--parameter: BackendMinCapacity \\(5\\) must not exceed"):
        params.resolve("dev", path, root_params, {"BackendMinCapacity": "5"})


def test_an_unknown_override_name_is_refused_with_a_suggestion(tmp_path, root_params):
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(
        BadInput, match="^--parameter: unknown parameter RedisNodeCont \\(did you mean RedisNodeCount\\?\\)"
    ):
        params.resolve("dev", path, root_params, {"RedisNodeCont": "2"})


def test_an_empty_image_tag_never_removes_the_services_by_accident(tmp_path, root_params):
    path = _file(tmp_path, "parameters: {}\n", "prod.yaml")
    with pytest.raises(BadInput, match="--image-tag is empty \\(an unset CI variable\\?\\)"):
        params.resolve("prod", path, root_params, {"DomainName": "cylink.example.jp"}, image_tag="")
    with pytest.raises(BadInput, match="--image-tag is empty"):
        params.resolve("prod", path, root_params, {"DomainName": "cylink.example.jp", "ImageTag": ""})
    dep = params.resolve("prod", path, root_params, {"DomainName": "cylink.example.jp"}, remove_services=True)
    assert dep.parameters["ImageTag"] == ""
    with pytest.raises(BadInput, match="give no --image-tag with it"):
        params.resolve(
            "prod", path, root_params, {"DomainName": "cylink.example.jp"}, image_tag="v1", remove_services=True
        )


def test_a_required_parameter_without_a_default_must_be_given(tmp_path, root_params):
    specs = {**root_params, "OnCallTeam": {"Type": "String", "Description": "who is paged"}}
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(BadInput, match="required parameter OnCallTeam is missing \\(who is paged\\)"):
        params.resolve("dev", path, specs)
    assert params.resolve("dev", path, specs, {"OnCallTeam": "sre"}).parameters["OnCallTeam"] == "sre"
