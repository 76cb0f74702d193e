"""The workflow as a library: typed requests in, typed results out, everything reported through a
Reporter. No argparse, no stdout: a CI job or a notebook drives it exactly like this."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.stub import Stubber

from cylink_deploy import aws, polling
from cylink_deploy.cfn import artifacts, changesets
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.errors import Aborted, StackStateError
from cylink_deploy.jobs import delete as delete_job
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs import model
from cylink_deploy.jobs.model import DeleteRequest, DeployRequest, Status
from cylink_deploy.preflight import build as build_step

from .stubbed import clients as stubbed_clients
from .recording import RecordingReporter

REGION = "ap-northeast-1"


@pytest.fixture
def clients(emulator):
    return aws.make_clients(aws.make_session(REGION, None, FAKE_CREDENTIALS, env={}), emulator.endpoint)


def request(**kw):
    tag = uuid.uuid4().hex[:6]
    return DeployRequest("dev", f"cylink-w{tag}", {"NamePrefix": f"cyw{tag}"}, **kw)


def no_sleep(seconds: float) -> None:
    pass


def test_a_deploy_returns_a_typed_result_and_reports_each_step(clients, project):
    reporter = RecordingReporter(answers=[True])
    result = deploy_job.deploy(request(), clients, reporter, project, sleep=no_sleep)
    assert result.status is Status.DEPLOYED
    assert result.change_set_name and result.change_set_name.startswith(result.stack + "-")
    assert result.change_set_id and result.change_set_id.startswith("arn:aws:cloudformation:")
    files = build_step.build(project.build_dir).files
    keys = {
        o["Key"] for o in clients.s3.list_objects_v2(Bucket=f"cylink-cfn-artifacts-123456789012-{REGION}")["Contents"]
    }
    assert result.uploaded is not None and set(result.uploaded) <= set(
        files
    )  # the emulator is shared: templates another test uploaded are not uploaded again
    assert {artifacts.object_key(name, text) for name, text in files.items()} <= keys
    assert result.outputs["SiteUrl"].startswith("http://")
    assert [n.path for n in result.nodes][0] == "" and result.refused == []
    assert reporter.of("confirm") == [f"Execute change set {result.change_set_name} on {result.stack}?"]
    assert reporter.of("outputs") == [result.outputs]
    assert any(progress.startswith(" 8/8 |") for _, progress in reporter.of("event"))
    assert reporter.documents == [result.document()] and result.document()["status"] == "DEPLOYED"


def test_review_only_stops_before_executing_and_names_the_command_that_executes_it(clients, project):
    reporter = RecordingReporter()
    req = request(execute=False)
    result = deploy_job.deploy(req, clients, reporter, project, sleep=no_sleep)
    assert result.status is Status.REVIEW and reporter.of("confirm") == []
    (fields,) = reporter.of("review")
    assert (
        fields["Execute it"]
        == f"python deploy.py execute --env dev {result.change_set_name} --stack-name {req.stack} --region {REGION}"
    )
    cfn = clients.cloudformation
    assert cfn.describe_change_set(ChangeSetName=result.change_set_id)["ExecutionStatus"] == "AVAILABLE"


def test_declining_deletes_the_change_set_so_nothing_executable_is_left(clients, project):
    reporter = RecordingReporter(answers=[False])
    req = request()
    with pytest.raises(Aborted, match="answered no"):
        deploy_job.deploy(req, clients, reporter, project, sleep=no_sleep)
    (cs_name,) = [s.split()[2] for s in reporter.of("step") if s.startswith("Change set ")]
    cfn = clients.cloudformation
    with pytest.raises(cfn.exceptions.ClientError):  # AWS: ChangeSetNotFound; moto: ValidationError
        cfn.describe_change_set(StackName=req.stack, ChangeSetName=cs_name)


def test_two_change_set_names_of_the_same_second_never_collide():
    at = polling.now()
    assert changesets.change_set_name("cylink-dev", at) != changesets.change_set_name("cylink-dev", at)


def stubbed(cfn_responses):
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    sts_stub = Stubber(sts)
    sts_stub.add_response(
        "get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "x"}
    )
    stub = Stubber(cfn)
    for method, response, params in cfn_responses:
        if isinstance(response, Exception):
            stub.add_client_error(method, "ValidationError", str(response), expected_params=params)
        else:
            stub.add_response(method, response, params)
    return stubbed_clients(cfn, sts=sts), stub, sts_stub


def test_deleting_a_stack_that_does_not_exist_is_a_result_not_an_error():
    missing = Exception("Stack with id cylink-dev does not exist")
    clients, stub, sts_stub = stubbed([("describe_stacks", missing, {"StackName": "cylink-dev"})])
    with stub, sts_stub:
        result = delete_job.delete(DeleteRequest("dev"), clients, RecordingReporter(), no_sleep)
    assert result.status is Status.NOTHING_TO_DELETE


def test_delete_refuses_while_termination_protection_is_on_and_deletes_nothing():
    desc = {
        "Stacks": [
            {
                "StackName": "cylink-prod",
                "StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/a",
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": polling.now(),
                "EnableTerminationProtection": True,
            }
        ]
    }
    clients, stub, sts_stub = stubbed(
        [
            ("describe_stacks", desc, {"StackName": "cylink-prod"}),
            ("describe_stacks", desc, {"StackName": "cylink-prod"}),
            # every other obstacle is looked for too (cfn/deletion.py): here the stack holds nothing
            (
                "get_template",
                {"TemplateBody": '{"Resources": {}}'},
                {"StackName": "cylink-prod", "TemplateStage": "Processed"},
            ),
            ("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": "cylink-prod"}),
        ]
    )
    with (
        stub,
        sts_stub,
        pytest.raises(StackStateError, match="update-termination-protection --no-enable-termination-protection"),
    ):
        delete_job.delete(DeleteRequest("prod"), clients, RecordingReporter(), no_sleep)
    stub.assert_no_pending_responses()


def test_execute_refuses_a_change_set_of_another_stack():
    other = {
        "ChangeSetId": "arn:aws:cloudformation:ap-northeast-1:123456789012:changeSet/x/1",
        "ChangeSetName": "x",
        "StackName": "cylink-prod",
        "StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-prod/a",
        "ExecutionStatus": "AVAILABLE",
        "Status": "CREATE_COMPLETE",
    }
    clients, stub, sts_stub = stubbed(
        [("describe_change_set", other, {"StackName": "cylink-dev", "ChangeSetName": other["ChangeSetId"]})]
    )
    with (
        stub,
        sts_stub,
        pytest.raises(
            StackStateError, match="belongs to stack cylink-prod, not cylink-dev: pass --stack-name cylink-prod"
        ),
    ):
        deploy_job.execute(
            model.ExecuteRequest("dev", other["ChangeSetId"]),
            clients,
            RecordingReporter(),
            None,  # type: ignore[arg-type]  # no project: refused before it is read
            no_sleep,
        )
