"""The template resolver: conditions, Fn::If, Refs and nested-stack parameters as CloudFormation would
decide them, on small templates written for each rule and on the built templates for every environment."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cylink_deploy.preflight import params
from cylink_deploy.preflight.resolve import ResolveError, Unknown, pseudo_parameters, resolve, resolve_template
from templates_src import render

REPO = Path(__file__).resolve().parent.parent
PSEUDO = pseudo_parameters("ap-northeast-1")


def one(template: dict[str, Any], **values: Any) -> dict[str, Any]:
    return resolve_template(template, values, PSEUDO)[0]


def tpl(resources: dict[str, Any], conditions: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "Parameters": {"Mode": {"Type": "String", "Default": "a"}, "Count": {"Type": "Number", "Default": "1"}},
        "Resources": resources,
        **extra,
    }
    if conditions:
        t["Conditions"] = conditions
    return t


def res(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::X::Y", "Properties": props}


# -- rules, one small template each -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "mode", "expected"),
    [
        ({"Fn::Equals": [{"Ref": "Mode"}, "a"]}, "a", True),
        ({"Fn::Equals": [{"Ref": "Mode"}, "a"]}, "b", False),
        ({"Fn::Not": [{"Fn::Equals": [{"Ref": "Mode"}, "a"]}]}, "b", True),
        ({"Fn::And": [{"Fn::Equals": [{"Ref": "Mode"}, "a"]}, {"Fn::Equals": [{"Ref": "Count"}, "1"]}]}, "a", True),
        ({"Fn::And": [{"Fn::Equals": [{"Ref": "Mode"}, "a"]}, {"Fn::Equals": [{"Ref": "Count"}, "2"]}]}, "a", False),
        ({"Fn::Or": [{"Fn::Equals": [{"Ref": "Mode"}, "x"]}, {"Fn::Equals": [{"Ref": "Count"}, "1"]}]}, "a", True),
        ({"Fn::Or": [{"Fn::Equals": [{"Ref": "Mode"}, "x"]}, {"Fn::Equals": [{"Ref": "Count"}, "2"]}]}, "a", False),
        ({"Condition": "IsA"}, "a", True),
        ({"Fn::Equals": [{"Ref": "AWS::Region"}, "ap-northeast-1"]}, "a", True),
    ],
)
def test_conditions_evaluate_like_cloudformation(expr: Any, mode: str, expected: bool) -> None:
    t = tpl({"R": res()}, {"IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]}, "C": expr})
    _, conditions, _ = resolve_template(t, {"Mode": mode}, PSEUDO)
    assert conditions["C"] is expected


def test_a_resource_whose_condition_is_false_is_dropped_and_leaves_depends_on() -> None:
    t = tpl(
        {
            "Kept": {**res(), "DependsOn": ["Gone", "Other"]},
            "Gone": {**res(), "Condition": "IsB"},
            "Other": res(),
            "Solo": {**res(), "DependsOn": "Gone"},
        },
        {"IsB": {"Fn::Equals": [{"Ref": "Mode"}, "b"]}},
    )
    out = one(t)
    assert sorted(out["Resources"]) == ["Kept", "Other", "Solo"]
    assert out["Resources"]["Kept"]["DependsOn"] == ["Other"]
    assert "DependsOn" not in out["Resources"]["Solo"]
    assert "Conditions" not in out


def test_a_kept_resource_loses_its_condition_key_and_outputs_follow_conditions() -> None:
    t = tpl(
        {"R": {**res(), "Condition": "IsA"}},
        {"IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]}},
        Outputs={"Yes": {"Value": "1", "Condition": "IsA"}, "No": {"Value": "2", "Condition": "IsNotA"}},
    )
    t["Conditions"]["IsNotA"] = {"Fn::Not": [{"Condition": "IsA"}]}
    out = one(t)
    assert out["Resources"]["R"] == res()
    assert out["Outputs"] == {"Yes": {"Value": "1"}}


def test_fn_if_picks_its_branch_and_no_value_removes_the_key_or_item() -> None:
    t = tpl(
        {
            "R": res(
                Pick={"Fn::If": ["IsA", "yes", "no"]},
                Gone={"Fn::If": ["IsA", {"Ref": "AWS::NoValue"}, "x"]},
                List=["k", {"Fn::If": ["IsA", {"Ref": "AWS::NoValue"}, "x"]}],
            )
        },
        {"IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]}},
    )
    assert one(t)["Resources"]["R"]["Properties"] == {"Pick": "yes", "List": ["k"]}
    assert one(t, Mode="b")["Resources"]["R"]["Properties"] == {"Pick": "no", "Gone": "x", "List": ["k", "x"]}


def test_refs_to_parameters_and_pseudo_parameters_are_substituted_refs_to_resources_kept() -> None:
    t = tpl(
        {
            "R": res(
                M={"Ref": "Mode"},
                N={"Ref": "Count"},
                Region={"Ref": "AWS::Region"},
                Other={"Ref": "S"},
                Acct={"Ref": "AWS::AccountId"},
            ),
            "S": res(),
        }
    )
    props = one(t, Mode="z", Count=3)["Resources"]["R"]["Properties"]
    assert props == {
        "M": "z",
        "N": "3",
        "Region": "ap-northeast-1",
        "Other": {"Ref": "S"},
        "Acct": {"Ref": "AWS::AccountId"},
    }


def test_sub_is_folded_where_known_and_kept_where_not() -> None:
    t = tpl(
        {
            "R": res(
                Whole={"Fn::Sub": "${Mode}-${AWS::Region}"},
                Part={"Fn::Sub": "arn:${AWS::Partition}:s3:::${S}/${Mode}"},
                Attr={"Fn::Sub": "${S.Arn}/*"},
                Vars={"Fn::Sub": ["${X}/${Y}", {"X": {"Ref": "Mode"}, "Y": {"Ref": "S"}}]},
                Escaped={"Fn::Sub": "${!Literal}-${Mode}"},
            ),
            "S": res(),
        }
    )
    props = one(t)["Resources"]["R"]["Properties"]
    assert props["Whole"] == "a-ap-northeast-1"
    assert props["Part"] == {"Fn::Sub": "arn:aws:s3:::${S}/a"}
    assert props["Attr"] == {"Fn::Sub": "${S.Arn}/*"}
    assert props["Vars"] == {"Fn::Sub": ["a/${Y}", {"Y": {"Ref": "S"}}]}
    assert props["Escaped"] == "${Literal}-a"


def test_join_select_split_and_find_in_map_fold_known_values() -> None:
    t = tpl(
        {
            "R": res(
                J={"Fn::Join": [",", [{"Ref": "Mode"}, "b"]]},
                JU={"Fn::Join": [",", [{"Ref": "S"}, "b"]]},
                Sel={"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]},
                M={"Fn::FindInMap": ["Map", {"Ref": "AWS::Region"}, "Key"]},
                AZ={"Fn::Select": [0, {"Fn::GetAZs": ""}]},
            ),
            "S": res(),
        },
        Mappings={"Map": {"ap-northeast-1": {"Key": "tokyo"}}},
    )
    props = one(t)["Resources"]["R"]["Properties"]
    assert props["J"] == "a,b"
    assert props["JU"] == {"Fn::Join": [",", [{"Ref": "S"}, "b"]]}
    assert props["Sel"] == "y"
    assert props["M"] == "tokyo"
    assert props["AZ"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}


def test_unknown_parameter_values_stay_refs_and_conditions_on_them_fail_only_when_they_decide() -> None:
    t = tpl({"R": res(V={"Ref": "Mode"})}, {"IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]}})
    out, conditions, params_ = resolve_template(t, {"Mode": Unknown("Net.Outputs.Mode")}, PSEUDO)
    assert out["Resources"]["R"]["Properties"]["V"] == {"Ref": "Mode"}
    assert conditions == {} and params_["Mode"] == Unknown("Net.Outputs.Mode")
    t["Resources"]["R"]["Condition"] = "IsA"
    with pytest.raises(ResolveError, match="condition IsA .*resource R"):
        resolve_template(t, {"Mode": Unknown("Net.Outputs.Mode")}, PSEUDO)


def test_and_or_are_decided_by_one_known_operand() -> None:
    unknown = {"Fn::Equals": [{"Ref": "Mode"}, "a"]}
    t = tpl(
        {"R": res()},
        {
            "F": {"Fn::And": [unknown, {"Fn::Equals": [{"Ref": "Count"}, "2"]}]},
            "T": {"Fn::Or": [unknown, {"Fn::Equals": [{"Ref": "Count"}, "1"]}]},
        },
    )
    _, conditions, _ = resolve_template(t, {"Mode": Unknown("x")}, PSEUDO)
    assert conditions == {"F": False, "T": True}


@pytest.mark.parametrize(
    ("values", "message"),
    [({"Nope": "1"}, "undeclared parameters: Nope"), ({}, "parameter Need has no value")],
)
def test_bad_parameter_sets_are_named(values: dict[str, str], message: str) -> None:
    t = tpl({"R": res()})
    t["Parameters"]["Need"] = {"Type": "String"}
    with pytest.raises(ResolveError, match=message):
        resolve_template(t, values, PSEUDO)


def test_nested_stacks_receive_parent_values_and_known_sibling_outputs() -> None:
    files = {
        "root.json": json.dumps(
            {
                "Parameters": {"Mode": {"Type": "String", "Default": "a"}},
                "Conditions": {
                    "IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]},
                    "IsNotA": {"Fn::Not": [{"Condition": "IsA"}]},
                },
                "Resources": {
                    "Later": {
                        "Type": "AWS::CloudFormation::Stack",
                        "Properties": {
                            "TemplateURL": {"Fn::Sub": "https://${AWS::Region}/later-1.json"},
                            "Parameters": {
                                "In": {"Fn::GetAtt": ["First", "Outputs.Out"]},
                                "Id": {"Fn::GetAtt": ["First", "Outputs.Id"]},
                            },
                        },
                    },
                    "First": {
                        "Type": "AWS::CloudFormation::Stack",
                        "Properties": {
                            "TemplateURL": "https://b/first-2.json",
                            "Parameters": {"P": {"Fn::If": ["IsA", "one", "two"]}},
                        },
                    },
                    "Never": {
                        "Type": "AWS::CloudFormation::Stack",
                        "Condition": "IsNotA",
                        "Properties": {"TemplateURL": "https://b/missing.json"},
                    },
                },
            }
        ),
        "first-2.json": json.dumps(
            {
                "Parameters": {"P": {"Type": "String"}},
                "Resources": {"R": res()},
                "Outputs": {"Out": {"Value": {"Fn::Sub": "${P}!"}}, "Id": {"Value": {"Ref": "R"}}},
            }
        ),
        "later-1.json": json.dumps(
            {
                "Parameters": {"In": {"Type": "String"}, "Id": {"Type": "String"}},
                "Resources": {"R": res(V={"Ref": "In"}, I={"Ref": "Id"})},
            }
        ),
    }
    stacks = resolve(files, {}, region="ap-northeast-1")
    assert list(stacks) == ["root", "First", "Later"]
    assert stacks["Later"].parameters == {"In": "one!", "Id": Unknown("First.Outputs.Id")}
    assert stacks["Later"].template["Resources"]["R"]["Properties"] == {"V": "one!", "I": {"Ref": "Id"}}
    assert stacks["First"].name == "first" and stacks["Later"].file_name == "later-1.json"


# -- the built templates ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render.render()


def env_stacks(files: dict[str, str], env: str, region: str = "ap-northeast-1", **overrides: str) -> dict[str, Any]:
    root = json.loads(files[render.ROOT_FILE])
    d = params.resolve(env, REPO / "params" / f"{env}.yaml", root["Parameters"], overrides, deploying=False)
    return {s.name: s for s in resolve(files, d.parameters, region=region).values()}


def walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for v in node.values():
            found += walk(v)
    elif isinstance(node, list):
        for v in node:
            found += walk(v)
    return found


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_condition_is_left_in_any_resolved_template(files: dict[str, str], env: str) -> None:
    for stack in env_stacks(files, env, ImageTag="v1", DomainName="example.com").values():
        nodes = walk({k: v for k, v in stack.template.items() if k != "Rules"})
        assert not [n for n in nodes if isinstance(n, dict) and ("Fn::If" in n or "Fn::Equals" in n)], stack.name
        assert "Conditions" not in stack.template
        assert all("Condition" not in r for r in stack.template["Resources"].values())


def test_egress_modes_give_two_one_or_no_nat_gateways(files: dict[str, str]) -> None:
    nats = {
        env: sorted(env_stacks(files, env)["network"].resources("AWS::EC2::NatGateway"))
        for env in ("dev", "staging", "prod")
    }
    assert nats == {"dev": [], "staging": ["NatGateway1"], "prod": ["NatGateway1", "NatGateway2"]}
    staging = env_stacks(files, "staging")["network"].template["Resources"]
    assert staging["PrivateDefaultRoute2"]["Properties"]["NatGatewayId"] == {"Ref": "NatGateway1"}


def test_dev_tasks_get_public_ips_from_the_network_stacks_resolved_output(files: dict[str, str]) -> None:
    assert env_stacks(files, "dev", ImageTag="v1")["services"].parameters["TaskAssignPublicIp"] == "ENABLED"
    assert env_stacks(files, "prod", ImageTag="v1")["services"].parameters["TaskAssignPublicIp"] == "DISABLED"


def test_root_conditions_decide_which_nested_stacks_exist(files: dict[str, str]) -> None:
    assert not {"services", "dns", "records"} & set(env_stacks(files, "prod"))
    assert {"services", "dns", "records"} <= set(env_stacks(files, "prod", ImageTag="v1", DomainName="example.com"))


def test_waf_and_redis_nodes_follow_their_parameters(files: dict[str, str]) -> None:
    prod = env_stacks(files, "prod")
    assert {"WebAcl", "WebAclAssociation", "WafLogGroup", "WafLogging"} <= set(prod["loadbalancer"].resources())
    assert not set(env_stacks(files, "prod", WafEnabled="false")["loadbalancer"].resources("AWS::WAFv2::WebACL"))
    rg = prod["cache"].template["Resources"]["RedisReplicationGroup"]["Properties"]
    assert (rg["NumCacheClusters"], rg["MultiAZEnabled"], rg["CacheNodeType"]) == ("2", True, "cache.t3.medium")
    dev_rg = env_stacks(files, "dev")["cache"].template["Resources"]["RedisReplicationGroup"]["Properties"]
    assert (dev_rg["NumCacheClusters"], dev_rg["MultiAZEnabled"]) == ("1", False)


def test_without_a_domain_the_certificate_is_empty_with_one_it_comes_from_the_dns_stack(files: dict[str, str]) -> None:
    assert env_stacks(files, "prod")["loadbalancer"].parameters["CertificateArn"] == ""
    with_domain = env_stacks(files, "prod", DomainName="example.com")["loadbalancer"].parameters["CertificateArn"]
    assert with_domain == Unknown("DnsStack.Outputs.CertificateArn")


def test_region_decides_mapped_conditions(files: dict[str, str]) -> None:
    osaka = env_stacks(files, "prod", region="ap-northeast-3")["loadbalancer"]
    assert osaka.conditions["ElbAccountDelivers"] is True
    policy = osaka.template["Resources"]["AlbLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"AWS": "arn:aws:iam::383597477331:root"}
    assert env_stacks(files, "prod", region="ap-southeast-4")["loadbalancer"].conditions["ElbAccountDelivers"] is False


def test_resolving_is_pure(files: dict[str, str]) -> None:
    before = copy.deepcopy(files)
    first = env_stacks(files, "staging", ImageTag="v1")
    second = env_stacks(files, "staging", ImageTag="v1")
    assert files == before
    assert json.dumps({k: v.template for k, v in first.items()}, sort_keys=True) == json.dumps(
        {k: v.template for k, v in second.items()}, sort_keys=True
    )
