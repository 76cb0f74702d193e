"""An environment has one identity (issue 20): a stack records its environment and NamePrefix, every command on
a stack refuses another environment's stack before anything else, a NamePrefix sticks, and a deploy never takes
over names another live stack owns. Pure and Stubber tests; tests/test_environments_local.py walks the same on
the emulator."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy import aws, cli
from cylink_deploy.cfn import identity
from cylink_deploy.commands.registry import REGISTRY
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.jobs import build as build_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import DeployRequest
from cylink_deploy.preflight import params
from templates_src import render

from . import stubbed
from .conftest import REPO
from .recording import RecordingReporter

REGION = stubbed.REGION
NOW = "2026-12-01T00:00:00Z"
HEAD = "template-file-path: build/root.json\n"
FILES = render.render()
ROOT_PARAMETERS = __import__("json").loads(FILES[render.ROOT_FILE])["Parameters"]


def stack(name: str, env: str | None, prefix: str | None = "cylink", status: str = "UPDATE_COMPLETE") -> dict:
    recorded = {"EnvironmentName": env, "NamePrefix": prefix}
    return {
        "StackName": name,
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/{name}/1",
        "StackStatus": status,
        "CreationTime": NOW,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in recorded.items() if v is not None],
    }


def cfn_answering(*stacks: dict) -> Any:
    """A CloudFormation client that answers describe_stacks once per given stack, in order, and nothing else."""
    cfn = stubbed.SESSION.client("cloudformation", region_name=REGION)
    stub = Stubber(cfn)
    for s in stacks:
        stub.add_response("describe_stacks", {"Stacks": [s]}, {"StackName": s["StackName"]})
    stub.activate()
    return cfn


def test_a_stack_that_records_another_environment_is_refused_naming_both():
    with pytest.raises(StackStateError) as refused:
        identity.require_env(cfn_answering(stack("cylink-dev", "dev")), "cylink-dev", "staging")
    message = str(refused.value)
    assert message.startswith("stack cylink-dev is environment dev (its EnvironmentName), not --env staging")
    assert "use --env dev" in message and refused.value.exit_code == 4
    found = identity.require_env(cfn_answering(stack("cylink-dev", "dev")), "cylink-dev", "dev")
    assert found is not None and (found.env, found.prefix) == ("dev", "cylink")


def test_a_missing_stack_or_one_without_a_record_passes():
    cfn = stubbed.SESSION.client("cloudformation", region_name=REGION)
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cylink-qa does not exist")
        assert identity.require_env(cfn, "cylink-qa", "qa") is None
    old = identity.require_env(cfn_answering(stack("cylink-old", None, None)), "cylink-old", "dev")
    assert old is not None and old.env is None  # a stack from before EnvironmentName: nothing to compare


# Every command that names one environment's stack, with the arguments it needs besides --env/--stack-name.
ARGUMENTS = {
    "deploy": ["--yes"],
    "execute": ["--yes", "cylink-dev-20261201-000000-abcd"],
    "release": ["--yes", "--image-tag", "1.1.0"],
    "delete": ["--yes"],
    "status": [],
    "logs": ["backend"],
    "drift": [],
    "rotate-redis-auth": ["--yes"],
    "doctor": [],
    "event": ["--list"],
    "loadtest": ["--users", "10"],
}


def test_the_list_of_commands_on_a_stack_is_complete():
    """A new command that takes --env gets the check through Context.clients; it must be listed here too."""
    assert {c.name for c in REGISTRY if "target" in c.flags} == set(ARGUMENTS)


@pytest.mark.parametrize("command", sorted(ARGUMENTS))
def test_every_command_refuses_another_environments_stack_before_anything_else(command, monkeypatch, capsys):
    """deploy --env staging --stack-name cylink-dev made a change set that turned dev into staging. The only
    call answered is the one DescribeStacks: any other call (a write) fails the test."""
    prepared = SimpleNamespace(close=lambda: None)
    monkeypatch.setattr(build_job, "prepare", lambda *a, **k: prepared)  # no build, no lint process
    cfn = cfn_answering(stack("cylink-dev", "dev"))
    monkeypatch.setattr(aws, "make_clients", lambda session, endpoint_url=None: stubbed.clients(cfn))
    code = cli.main([command, "--env", "staging", "--stack-name", "cylink-dev", *ARGUMENTS[command]])
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.startswith("error: stack cylink-dev is environment dev (its EnvironmentName), not --env staging")


def test_the_environment_name_is_always_the_env(tmp_path: Path):
    """The stack records EnvironmentName as its environment: a file saying otherwise is bad input; a file that
    leaves it out gets --env (never the template's default, dev)."""
    path = tmp_path / "qa.yaml"
    path.write_text(f"{HEAD}parameters:\n  EnvironmentName: dev\n")
    with pytest.raises(BadInput, match=r"EnvironmentName dev is not --env qa: set EnvironmentName: qa"):
        params.resolve("qa", path, ROOT_PARAMETERS, deploying=False)
    with pytest.raises(BadInput, match=r"^--parameter: EnvironmentName staging is not --env dev"):
        params.resolve("dev", REPO / "params" / "dev.yaml", ROOT_PARAMETERS, {"EnvironmentName": "staging"})
    path.write_text(f"{HEAD}parameters:\n  RedisNodeCount: '2'\n")
    assert params.resolve("qa", path, ROOT_PARAMETERS, deploying=False).parameters["EnvironmentName"] == "qa"


# --- NamePrefix sticks --------------------------------------------------------------------------------------


def prepared_for(env: str, overrides: dict[str, str] | None = None) -> Any:
    deployment = params.resolve(env, REPO / "params" / f"{env}.yaml", ROOT_PARAMETERS, overrides, deploying=False)
    return SimpleNamespace(build=SimpleNamespace(files=FILES), deployment=deployment)


def current(env: str, prefix: str) -> identity.Identity:
    return identity.Identity(f"cylink-{env}", env, prefix, {"EnvironmentName": env, "NamePrefix": prefix})


def test_a_deploy_without_the_override_keeps_the_stacks_prefix():
    """cylink-qa2 deployed with --parameter NamePrefix=cylinkqa2, then a plain deploy: it switched back to the
    file's prefix and took over dev's cluster and topic."""
    reporter = RecordingReporter()
    request = DeployRequest("dev", "cylink-qa2")
    parameters = deploy_job._name_prefix(request, prepared_for("dev"), current("dev", "cylinkqa2"), REGION, reporter)
    assert parameters["NamePrefix"] == "cylinkqa2"
    assert "NamePrefix cylinkqa2 kept: cylink-qa2 was created with it" in reporter.text()
    assert "says cylink" in reporter.text()


def test_changing_the_prefix_of_a_stack_is_refused_naming_what_it_would_replace():
    request = DeployRequest("dev", "cylink-qa2", overrides={"NamePrefix": "cylink"})
    prepared = prepared_for("dev", {"NamePrefix": "cylink"})
    with pytest.raises(StackStateError) as refused:
        deploy_job._name_prefix(request, prepared, current("dev", "cylinkqa2"), REGION, RecordingReporter())
    message = str(refused.value)
    assert message.startswith("--parameter NamePrefix=cylink: cylink-qa2 has NamePrefix cylinkqa2")
    assert "cylinkqa2-" in message and " -> cylink-" in message
    # the same line for deploy and release (which has no such flag): the deploy that renames, to copy
    rename = "python deploy.py deploy --env dev --stack-name cylink-qa2 --parameter NamePrefix=cylink"
    assert f"rename on purpose with {rename} --allow-name-prefix-change" in message
    allowed = DeployRequest("dev", "cylink-qa2", overrides={"NamePrefix": "cylink"}, allow_name_prefix_change=True)
    reporter = RecordingReporter()
    kept = deploy_job._name_prefix(allowed, prepared, current("dev", "cylinkqa2"), REGION, reporter)
    assert kept["NamePrefix"] == "cylink" and "NamePrefix cylinkqa2 -> cylink" in reporter.text()


def test_a_new_stack_takes_the_files_prefix():
    prepared = prepared_for("staging")
    parameters = deploy_job._name_prefix(DeployRequest("staging"), prepared, None, REGION, RecordingReporter())
    assert parameters["NamePrefix"] == prepared.deployment.parameters["NamePrefix"]


def test_renames_pairs_each_named_resource_with_its_new_name():
    before = identity.named(FILES, {"NamePrefix": "cylink"}, REGION)
    after = identity.named(FILES, {"NamePrefix": "cyl2"}, REGION)
    pairs = dict(identity.renames(before, after))
    assert pairs["cylink-cluster"] == "cyl2-cluster" and pairs["cylink/backend"] == "cyl2/backend"
    assert identity.renames(before, before) == []


# --- names another live stack owns ----------------------------------------------------------------------------


def shipped_names(env: str) -> tuple[str, list[identity.Named]]:
    deployment = prepared_for(env).deployment
    return deployment.parameters["NamePrefix"], identity.named(FILES, deployment.parameters, REGION)


def test_the_shipped_environments_share_no_name_so_they_coexist_in_one_account():
    names = {env: shipped_names(env) for env in ("dev", "staging", "prod")}
    assert len({prefix for prefix, _ in names.values()}) == 3
    assert names["dev"][0] == "cylink"  # dev keeps the guide's names
    for env, (prefix, mine) in names.items():
        others = {other: names[other] for other in names if other != env}
        assert identity.collisions(mine, prefix, others) == {}, env
    kinds = {n.resource_type for n in names["prod"][1]}
    assert {"AWS::ECS::Cluster", "AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::WAFv2::WebACL"} <= kinds


def test_an_update_onto_another_stacks_names_collides_naming_them():
    prefix, dev = shipped_names("dev")
    qa2 = identity.named(FILES, {"NamePrefix": "cylink", "EnvironmentName": "dev"}, REGION)
    clashes = identity.collisions(qa2, "cylink", {"cylink-dev": (prefix, dev)})
    assert "cylink-cluster" in clashes["cylink-dev"] and "cylink-alarms" in clashes["cylink-dev"]
    who = {"cylink-dev": identity.Identity("cylink-dev", "dev", "cylink", {})}
    message = str(identity.collision_error("cylink-qa2", clashes, who))
    assert message.startswith("cylink-qa2 would take over names that live stack cylink-dev (environment dev")
    assert "delete" not in message  # another environment's data is never offered for deletion
    extending = identity.named(FILES, {"NamePrefix": "cylink-qa"}, REGION)
    assert identity.collisions(extending, "cylink-qa", {"cylink-dev": (prefix, dev)}) == {}


def test_live_stacks_are_the_other_root_stacks_and_those_this_role_may_not_see():
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    def summary(name: str, status: str = "UPDATE_COMPLETE", **extra: str) -> dict:
        return {"StackName": name, "StackStatus": status, "CreationTime": NOW, **extra}

    summaries = [
        summary("cylink-dev"),
        summary("cylink-dev-ClusterStack-1AB2"),  # nested (the emulator sets no ParentId)
        summary("cylink-qa-NetworkStack-3CD4", ParentId="arn:x"),
        summary("cylink-old", "DELETE_COMPLETE"),
        summary("cylink-failed", "ROLLBACK_COMPLETE"),  # a failed first create holds nothing
        summary("cylink-staging"),
        summary("cylink-prod"),
        summary("someone-elses"),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("list_stacks", {"StackSummaries": summaries}, {})
        staging = {"Stacks": [stack("cylink-staging", "staging", "cs")]}
        stub.add_response("describe_stacks", staging, {"StackName": "cylink-staging"})
        stub.add_client_error("describe_stacks", "AccessDenied", "not authorized", 403)
        found, hidden = identity.live_stacks(cfn, "cylink-dev")
    assert [(s.stack, s.env, s.prefix) for s in found] == [("cylink-staging", "staging", "cs")]
    assert hidden == ["cylink-prod"]


def test_names_of_a_live_stack_ignore_masked_and_unknown_parameters():
    other = identity.Identity("cylink-x", "dev", "cx", {"NamePrefix": "cx", "AlarmEmail": "****", "Gone": "1"})
    names = {n.name for n in identity.names_of(other, FILES, ROOT_PARAMETERS, REGION)}
    assert "cx-cluster" in names and "cx-alarms" in names


def test_status_reads_only_the_stacks_own_alarms():
    """status --env dev (prefix cylink) exited 1 for cylink-qa-alb-5xx, another environment's alarm, found by the
    name prefix 'cylink-'. It now asks for the alarms its stack holds, by name."""
    from cylink_deploy.ops import status

    cw = stubbed.SESSION.client("cloudwatch", region_name=REGION)
    names = [f"cylink-alarm-{i:03}" for i in range(101)]
    types = ["MetricAlarm", "CompositeAlarm"]
    with Stubber(cw) as stub:
        firing = {"AlarmName": "cylink-alarm-100", "StateValue": "ALARM", "StateReason": "x"}
        asked = {"StateValue": "ALARM", "AlarmTypes": types}
        stub.add_response("describe_alarms", {"MetricAlarms": []}, {"AlarmNames": names[:100], **asked})
        stub.add_response("describe_alarms", {"MetricAlarms": [firing]}, {"AlarmNames": names[100:], **asked})
        assert status.alarms_in_alarm(cw, names) == [{"name": "cylink-alarm-100", "reason": "x"}]
    assert status.alarms_in_alarm(cw, []) == []  # no alarms of its own: no call at all
