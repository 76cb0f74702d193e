"""Bad configuration fails before any AWS call with a message naming the file, key and what is allowed."""

from __future__ import annotations

import json
import re

import pytest

from cylink_deploy.errors import BadInput
from cylink_deploy.preflight import params
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
    with pytest.raises(BadInput, match=r"^--image-tag 'bad tag' is not an image tag"):
        params.resolve("dev", path, root_params, image_tag="bad tag")
    with pytest.raises(BadInput, match="expected KEY=VALUE"):
        params.parse_overrides(["RedisNodeCount"])
    dep = params.resolve("dev", path, root_params, params.parse_overrides(["RedisNodeCount=2"]), image_tag="v1.2.3")
    assert dep.parameters == {"EnvironmentName": "dev", "ImageTag": "v1.2.3", "RedisNodeCount": "2"}  # --env fills it


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


def test_a_file_that_is_not_utf8_says_where_and_how_to_fix_it(tmp_path, root_params):
    path = tmp_path / "dev.yaml"
    path.write_bytes("template-file-path: build/root.json\ntags:\n  Owner: やまだ\n".encode("shift_jis"))
    with pytest.raises(BadInput) as err:
        params.resolve("dev", path, root_params)
    assert str(err.value) == f"{path}:3:10: not UTF-8 text (it reads as Shift-JIS): save it as UTF-8"


@pytest.mark.parametrize(
    "text, encoding, where",
    [
        ("tags:\n  Owner: José Müller\n", "latin-1", "3:13: not UTF-8 text (byte 0xE9 at byte offset 54)"),
        # these two decode as Shift-JIS too (t駘騅ision, don稚), but read as no Japanese
        ("tags:\n  Owner: télévision\n", "latin-1", "3:11: not UTF-8 text (byte 0xE9 at byte offset 52)"),
        ("# don’t\ntags: {}\n", "cp1252", "2:6: not UTF-8 text (byte 0x92 at byte offset 41)"),
    ],
)
def test_a_latin1_file_is_not_guessed_as_shift_jis(tmp_path, root_params, text, encoding, where):
    """A Latin-1 file was reported as "(Shift-JIS?)"; say where the first byte that is not UTF-8 is instead."""
    path = tmp_path / "dev.yaml"
    path.write_bytes(("template-file-path: build/root.json\n" + text).encode(encoding))
    with pytest.raises(BadInput) as err:
        params.resolve("dev", path, root_params)
    assert str(err.value) == f"{path}:{where}: save it as UTF-8"


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
    with pytest.raises(BadInput, match="^--parameter ImageTag= is empty"):
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


def test_an_environment_is_its_file_and_with_no_files_at_all_none_are_known(tmp_path):
    _file(tmp_path, "", "dev.yaml")
    _file(tmp_path, "", "prod.yaml")
    assert params.env_file(tmp_path, "prod") == tmp_path / "prod.yaml"
    with pytest.raises(BadInput, match=r"\(known environments: dev, prod\)$"):
        params.env_file(tmp_path, "qa")
    with pytest.raises(BadInput, match=r"\(known environments: none\)$"):
        params.env_file(tmp_path / "nothing-here", "dev")


@pytest.mark.parametrize("written", ["", "~", "null", "Null", "NULL"])
def test_every_way_yaml_writes_nothing_is_a_missing_value_but_quoted_it_is_text(tmp_path, root_params, written):
    with pytest.raises(BadInput, match="parameter AlarmEmail has no value"):
        params.resolve("dev", _file(tmp_path, f"parameters:\n  AlarmEmail: {written}\n"), root_params)
    assert params.load(_file(tmp_path, f"tags:\n  Note: '{written}'\n"))[1] == {"Note": written}


def test_nested_values_and_repeated_keys_deep_inside_are_read_whole(tmp_path):
    parameters, tags = params.load(_file(tmp_path, "parameters:\n  A: [1, {b: 2}]\ntags:\n  T: x\n"))
    assert parameters == {"A": ["1", {"b": "2"}]} and tags == {"T": "x"}
    path = _file(tmp_path, "parameters:\n  A: [{b: 1, b: 2}]\n")
    with pytest.raises(BadInput, match=r"^\S+dev.yaml:3:14: key 'b' is given twice: keep one$"):
        params.load(path)


def test_a_file_with_a_control_character_names_the_character(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text("parameters:\n  A: \x07\n")
    with pytest.raises(BadInput, match=r"dev.yaml: not valid YAML \(unacceptable character #x0007"):
        params.load(path)


def test_a_decimal_parameter_says_it_takes_decimals(tmp_path, root_params):
    with pytest.raises(BadInput, match=r"Target5xxRatePercent must be a number written plainly \(e.g. 2 or 0.5: "):
        params.resolve("dev", _file(tmp_path, "parameters:\n  Target5xxRatePercent: five\n"), root_params)


@pytest.mark.parametrize(
    "spec, value, ok",
    [
        ({"Type": "Number", "MinValue": 0, "MaxValue": 0.5}, "0.25", True),  # a decimal bound: decimals allowed
        ({"Type": "Number", "MinValue": 0.5, "MaxValue": 4}, "0.75", True),
        ({"Type": "Number", "MaxValue": 4}, "1.5", False),  # whole bounds only: whole numbers only
        ({"Type": "Number", "MinValue": 1}, "1.5", False),
        ({"Type": "Number"}, "1.5", True),
        ({"Type": "Number", "MinValue": 1, "MaxValue": 6}, "6", True),
        ({"Type": "Number", "MinValue": 1, "MaxValue": 6}, "7", False),
    ],
)
def test_numbers_are_whole_when_every_bound_is_whole(spec, value, ok):
    assert (params.check_value("X", value, spec) is None) is ok


def test_an_unknown_name_with_nothing_close_gets_no_guess(tmp_path, root_params):
    with pytest.raises(BadInput, match=r"^--parameter: unknown parameter Zzzz; see docs/parameters\.md"):
        params.resolve("dev", _file(tmp_path, "parameters: {}\n"), root_params, {"Zzzz": "1"})


def test_only_staging_without_a_domain_is_warned_about(tmp_path, root_params):
    for env in ("dev", "staging"):
        assert (
            params.resolve(
                env, _file(tmp_path, "parameters:\n  DomainName: cylink.example.jp\n", f"{env}.yaml"), root_params
            ).warnings
            == ()
        )
    assert params.resolve("dev", _file(tmp_path, "parameters: {}\n"), root_params).warnings == ()


def test_an_update_that_omits_the_image_tag_keeps_the_running_one(tmp_path, root_params):
    deployment = params.resolve("dev", _file(tmp_path, "parameters: {}\n"), root_params)
    assert "ImageTag" not in deployment.parameters and "ImageTag" in params.KEEP_PREVIOUS  # sent as UsePreviousValue


def test_a_deployment_is_a_fixed_value_with_no_tags_or_warnings_unless_given():
    deployment = params.Deployment("dev", "params/dev.yaml", {"A": "1"})
    assert deployment.tags == {} and deployment.warnings == ()
    with pytest.raises(AttributeError):
        deployment.env = "prod"  # type: ignore[misc]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("parameters:\n  A: &x y\n  B: *x\n", "dev.yaml:3:6: YAML anchors and aliases (&name, *name) are not allowed"),
        ("tags:\n  T: *nowhere\n", "dev.yaml:3:6: YAML anchors and aliases"),
        ("tags: &t {T: x}\n", "dev.yaml:2:7: YAML anchors and aliases"),
    ],
)
def test_yaml_anchors_and_aliases_are_refused_in_one_line(tmp_path, body, expected):
    """An alias bomb (a few lines that expand to billions of values) must never reach cfn-lint."""
    with pytest.raises(BadInput) as err:
        params.load(_file(tmp_path, body))
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "first_line",
    [
        "template-file-path: elsewhere/root.json\n",
        "template-file-path: [build/root.json]\n",
        "",
        "template-file-path:\n",
    ],
)
def test_template_file_path_must_name_the_built_root(tmp_path, root_params, first_line):
    """The Git-sync key names the template the values are for: only build/root.json is ever deployed."""
    path = tmp_path / "dev.yaml"
    path.write_text(first_line + "parameters: {}\n")
    with pytest.raises(BadInput, match=r"dev.yaml(:1)?: template-file-path must be build/root.json"):
        params.resolve("dev", path, root_params)


# --- input is never resolved silently (issue 20, item 6) --------------------------------------------------------


def test_a_parameter_given_twice_on_the_command_line_is_refused_not_the_last_one_winning():
    with pytest.raises(BadInput, match=r"^--parameter K is given twice \(K='1' and K='2'\): give it once$"):
        params.parse_overrides(["K=1", "K=2"])
    with pytest.raises(BadInput, match="given twice"):
        params.parse_overrides(["K=1", " K=1"])  # the same key however it is spaced, even with the same value
    assert params.parse_overrides(["A=1", "B=1"]) == {"A": "1", "B": "1"}


def test_an_image_tag_given_as_a_flag_and_as_a_parameter_is_refused(tmp_path, root_params):
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(BadInput, match=r"the image tag is given twice \(--image-tag '1.1.0' and --parameter ImageTag"):
        params.resolve("dev", path, root_params, {"ImageTag": "9.9.9"}, image_tag="1.1.0")
    with pytest.raises(BadInput, match=r"given twice \(--rollback-to '1.0.0' and .*give it once, with --rollback-to$"):
        params.resolve("dev", path, root_params, {"ImageTag": "9.9.9"}, "1.0.0", image_tag_flag="--rollback-to")
    assert params.resolve("dev", path, root_params, {"ImageTag": "9.9.9"}).parameters["ImageTag"] == "9.9.9"


@pytest.mark.parametrize(
    "body, expected",
    [
        ("parameters:\n  <<: *common\n", "dev.yaml:3:3: YAML merge keys (<<) are not allowed"),
        ("parameters:\n  <<: {EgressMode: none}\n", "dev.yaml:3:3: YAML merge keys (<<) are not allowed"),
        ("<<: {parameters: {}}\n", "dev.yaml:2:1: YAML merge keys (<<) are not allowed"),
    ],
)
def test_yaml_merge_keys_are_refused_naming_the_line(tmp_path, root_params, body, expected):
    with pytest.raises(BadInput) as err:
        params.resolve("dev", _file(tmp_path, body), root_params)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_quoted_merge_key_is_just_a_name(tmp_path, root_params):
    with pytest.raises(BadInput, match=r"dev.yaml:3: unknown parameter <<"):
        params.resolve("dev", _file(tmp_path, "parameters:\n  '<<': x\n"), root_params)


@pytest.mark.parametrize("section, line", [("parameters", 2), ("tags", 3)])
def test_an_empty_section_is_refused_at_its_line(tmp_path, root_params, section, line):
    """cfn-lint's Git-sync schema wants a mapping there: it said so at line 1 with exit 1."""
    body = "parameters: {}\ntags:\n" if section == "tags" else "parameters:\n"
    with pytest.raises(BadInput, match=rf"dev.yaml:{line}: '{section}' is empty: list its names and values"):
        params.resolve("dev", _file(tmp_path, body), root_params)


@pytest.mark.parametrize(
    "written, read_as",
    [("0123", "int 83"), ("1.50", "float 1.5"), ("yes", "bool True"), ("2026-11-28", "date datetime.date(2026")],
)
def test_a_tag_that_other_yaml_readers_read_as_a_number_must_be_quoted(tmp_path, root_params, written, read_as):
    """Tags are text in the Git-sync format; cfn-lint and Git sync read CostCenter: 0123 as the octal 83."""
    path = _file(tmp_path, f"parameters: {{}}\ntags:\n  Project: Cylink\n  CostCenter: {written}\n")
    with pytest.raises(BadInput) as err:
        params.resolve("dev", path, root_params)
    assert f"dev.yaml:5: tag CostCenter: {written} is {read_as}" in str(err.value)
    assert f"quote it (CostCenter: '{written}')" in str(err.value)
    quoted = _file(tmp_path, f"parameters: {{}}\ntags:\n  CostCenter: '{written}'\n")
    assert params.resolve("dev", quoted, root_params).tags == {"CostCenter": written}


@pytest.mark.parametrize(
    "tags, expected",
    [
        ("  Note: '" + "x" * 257 + "'\n", "dev.yaml:4: tag Note must be 1-256 letters"),
        ("  Note: ''\n", "dev.yaml:4: tag Note must be 1-256 letters"),
        ("  Note: 'a;b'\n", "dev.yaml:4: tag Note must be 1-256 letters"),
        ("".join(f"  T{i}: x\n" for i in range(51)), "dev.yaml:3: 51 tags; a stack takes at most 50"),
    ],
)
def test_tags_have_cloudformations_limits(tmp_path, root_params, tags, expected):
    with pytest.raises(BadInput) as err:
        params.resolve("dev", _file(tmp_path, "parameters: {}\ntags:\n" + tags), root_params)
    assert expected in str(err.value)


def test_a_problem_with_a_parameter_names_its_line(tmp_path, root_params):
    body = "parameters:\n  EgressMode: none\n\n  RedisNodeCount: 9\n"
    with pytest.raises(BadInput, match=r"dev.yaml:5: parameter RedisNodeCount must be between 1 and 6"):
        params.resolve("dev", _file(tmp_path, body), root_params)
    with pytest.raises(BadInput, match=r"dev.yaml:4: unknown parameter Zzz"):
        params.resolve("dev", _file(tmp_path, "parameters:\n  EgressMode: none\n  Zzz: 1\n"), root_params)
    with pytest.raises(BadInput, match=r"dev.yaml:3: parameter AlarmEmail has no value"):
        params.resolve("dev", _file(tmp_path, "parameters:\n  AlarmEmail:\n"), root_params)
    with pytest.raises(BadInput, match=r"dev.yaml:2: unknown top-level key 'parameter'"):
        params.resolve("dev", _file(tmp_path, "parameter: {}\n"), root_params)


@pytest.mark.parametrize(
    "name, longest",
    [("AlarmEmail", 254), ("DomainName", 249), ("RedisNodeType", 40), ("RedisEngineVersion", 10)],
)
def test_free_text_parameters_have_a_length_limit(tmp_path, root_params, name, longest):
    """A 5,000-character AlarmEmail passed the pattern: RFC 5321 allows 254, ACM 253 for www.<domain>."""
    values = {
        "AlarmEmail": lambda n: "a" * (n - len("@example.jp")) + "@example.jp",
        "DomainName": lambda n: ".".join(["a" * 60] * 90)[: n - 3] + ".jp",
        "RedisNodeType": lambda n: "cache." + "r" * (n - len("cache..large")) + ".large",
        "RedisEngineVersion": lambda n: "7." + "1" * (n - 2),
    }[name]
    path = _file(tmp_path, "parameters: {}\n")
    assert params.resolve("dev", path, root_params, {name: values(longest)}).parameters[name] == values(longest)
    with pytest.raises(BadInput, match=rf"^--parameter: parameter {name} is {longest + 1} characters long; at most"):
        params.resolve("dev", path, root_params, {name: values(longest + 1)})
    with pytest.raises(BadInput, match=rf"parameter {name} is 5000 characters long"):
        params.resolve("dev", path, root_params, {name: values(5000)})


def test_every_free_text_root_parameter_is_bounded(root_params):
    """A String parameter takes a value of bounded length: allowed values, MaxLength, or a pattern without an
    unbounded repetition (checked on the pattern with its character classes taken out)."""
    unbounded = []
    for name, spec in root_params.items():
        if spec["Type"] != "String" or "AllowedValues" in spec or "MaxLength" in spec:
            continue
        pattern = re.sub(r"\\.|\[[^\]]*\]", "c", spec.get("AllowedPattern", ".*"))
        if re.search(r"[*+]|\{\d*,\}", pattern):
            unbounded.append(name)
    assert unbounded == []


# --- a message names what the user typed (issue 23, item 4) ---------------------------------------------------


def test_an_empty_image_tag_is_named_by_the_flag_it_came_from_and_says_what_to_do(tmp_path, root_params):
    """``--parameter ImageTag=`` was reported as "--image-tag is empty", a flag the user never typed."""
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(BadInput) as err:
        params.resolve("dev", path, root_params, {"ImageTag": ""})
    assert str(err.value) == (
        "--parameter ImageTag= is empty (an unset CI variable?): give the tag to run (--image-tag TAG), or deploy "
        "with --remove-services to remove the services deliberately"
    )
    with pytest.raises(BadInput, match=r"^--image-tag is empty \(an unset CI variable\?\): give the tag to run "):
        params.resolve("dev", path, root_params, image_tag="")
    with pytest.raises(BadInput, match=r"^--rollback-to is empty .*\(--rollback-to TAG\)"):
        params.resolve("dev", path, root_params, image_tag="", image_tag_flag="--rollback-to")


@pytest.mark.parametrize("flag", ["--image-tag", "--rollback-to"])
def test_a_malformed_image_tag_from_a_tag_flag_names_that_flag_not_parameter(tmp_path, root_params, flag):
    """``--image-tag 'bad tag'`` was reported as a ``--parameter`` problem."""
    path = _file(tmp_path, "parameters: {}\n")
    with pytest.raises(BadInput) as err:
        params.resolve("dev", path, root_params, image_tag="bad tag", image_tag_flag=flag)
    assert str(err.value) == (
        f"{flag} 'bad tag' is not an image tag: use letters, digits, _ . and - (starting with a letter, digit or _), "
        "at most 128 characters"
    )
    assert "--parameter" not in str(err.value)
    with pytest.raises(BadInput, match="^--parameter: parameter ImageTag 'bad tag' does not match "):
        params.resolve("dev", path, root_params, {"ImageTag": "bad tag"})


def test_a_rollback_names_its_own_flag_in_the_deploy_it_runs():
    from cylink_deploy.ops.release import ReleaseRequest

    assert ReleaseRequest("dev", "1.0.0", rollback=True).deploy_request().image_tag_flag == "--rollback-to"
    assert ReleaseRequest("dev", "1.1.0").deploy_request().image_tag_flag == "--image-tag"
