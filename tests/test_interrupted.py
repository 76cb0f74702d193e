"""What Ctrl-C says is what is true at that point (issue 23, item 4): before a change set exists nothing in AWS
changed (a release interrupted in its ECR check once spoke of a change set that did not exist); once one may
exist, that it changes nothing until executed; images already pushed by release --build stay in ECR. The jobs
run with Stubber clients and mark what they send (``Reporter.sent``); ``cli.interrupted`` turns the mark into
the line ``cli.run`` prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy import cli
from cylink_deploy.cfn import artifacts, changesets, images
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.jobs.model import DeployRequest
from cylink_deploy.ops import release
from cylink_deploy.output.human import HumanReporter

from . import stubbed

URI = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/cylink"
OUTPUTS = {"BackendRepositoryUri": f"{URI}/backend", "FrontendRepositoryUri": f"{URI}/frontend"}
STACK: dict[str, Any] = {
    "StackName": "cylink-dev",
    "StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-dev/aaaa",
    "StackStatus": "UPDATE_COMPLETE",
    "CreationTime": "2026-11-28T10:00:00Z",
    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()],
}


def client(service: str) -> Any:
    session: Any = stubbed.SESSION
    return session.client(service, region_name=stubbed.REGION)


def reporter() -> HumanReporter:
    return HumanReporter(out=open(os.devnull, "w"))  # noqa: SIM115  # closed with the test process


def ctrl_c(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_during_releases_ecr_check_says_nothing_changed_and_names_no_change_set(monkeypatch):
    monkeypatch.setattr(images, "image_digest", ctrl_c)
    said = reporter()
    cfn, sts = client("cloudformation"), client("sts")
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub:
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::1:user/x"})
        cfn_stub.add_response("describe_stacks", {"Stacks": [STACK]}, {"StackName": "cylink-dev"})
        with pytest.raises(KeyboardInterrupt):
            release.release(
                release.ReleaseRequest("dev", "1.1.0", supersede=True),
                stubbed.clients(cfn, sts=sts),
                said,
                None,  # type: ignore[arg-type]  # interrupted long before the deploy
            )
    line = cli.interrupted(said.in_flight, "release")
    assert line == "nothing was executed and nothing changed in AWS (no change set was created): nothing to clean up"


def _create(monkeypatch, project, upload: Any, create: Any) -> HumanReporter:
    """deploy's upload-and-create step, with the bucket, the upload and CreateChangeSet replaced."""
    monkeypatch.setattr(deploy_job, "ensure_bootstrap", lambda *a, **k: ("bucket", "role"))
    monkeypatch.setattr(artifacts, "upload", upload)
    monkeypatch.setattr(changesets, "create_change_set", create)
    said = reporter()
    prepared: Any = SimpleNamespace(build=SimpleNamespace(files={}), deployment=SimpleNamespace(tags={}))
    with pytest.raises(KeyboardInterrupt):
        deploy_job._create(DeployRequest("dev"), stubbed.clients(), said, project, prepared, {}, "1", "CREATE")
    return said


def test_ctrl_c_while_templates_upload_says_no_change_set_was_created(monkeypatch, project):
    said = _create(monkeypatch, project, ctrl_c, ctrl_c)
    line = cli.interrupted(said.in_flight, "deploy")
    assert line.startswith("nothing was executed and no change set was created; templates uploaded to the artifacts")
    assert line.endswith("stay for the next deploy: nothing to clean up")


def test_ctrl_c_once_create_change_set_is_sent_says_what_it_says_today(monkeypatch, project):
    uploaded = SimpleNamespace(uploaded=[], root_key="root.json")
    said = _create(monkeypatch, project, lambda *a, **k: uploaded, ctrl_c)
    line = cli.interrupted(said.in_flight, "deploy")
    assert line == "nothing was executed (a change set left behind changes nothing until executed)"


def test_ctrl_c_while_release_build_pushes_says_pushed_images_stay_in_ecr():
    def docker_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if argv[1] == "push":
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(argv, 0, "", "")

    ecr = client("ecr")
    said = reporter()
    repos = images.repositories(OUTPUTS, "cylink-dev")
    with Stubber(ecr) as stub:
        for repo in repos:
            stub.add_client_error(
                "describe_images",
                "ImageNotFoundException",
                expected_params={"repositoryName": repo.name, "imageIds": [{"imageTag": "1.1.0"}]},
            )
        token = {"authorizationToken": "QVdTOnNlY3JldA==", "proxyEndpoint": f"https://{URI.split('/')[0]}"}
        stub.add_response("get_authorization_token", {"authorizationData": [token]})
        with pytest.raises(KeyboardInterrupt):
            release.build_and_push(
                ecr,
                release.Docker(docker_run, "docker"),
                repos,
                "1.1.0",
                release.BuildSpec({"backend": Path("."), "frontend": Path(".")}),
                "",
                said,
            )
    line = cli.interrupted(said.in_flight, "release")
    assert line.startswith("nothing was executed and no change set was created; an image pushed so far stays in ECR")


def test_ctrl_c_while_a_failed_first_create_is_deleted_says_the_delete_continues(monkeypatch):
    """deploy deletes an empty ROLLBACK_COMPLETE stack (with consent) before creating it again: DeleteStack goes on."""
    from cylink_deploy.cfn import stacks as st

    monkeypatch.setattr(st, "wait_settled", lambda *a, **k: "ROLLBACK_COMPLETE")
    monkeypatch.setattr(st, "delete_and_wait", ctrl_c)
    said = HumanReporter(out=open(os.devnull, "w"), assume_yes=True)  # noqa: SIM115
    with pytest.raises(KeyboardInterrupt):
        deploy_job.settle(client("cloudformation"), "cylink-dev", said, lambda s: None)
    assert cli.interrupted(said.in_flight, "deploy") == cli.STACK_OPERATION
