"""Change sets under review are never made obsolete silently, and an image tag is checked in ECR by the one
check deploy and release share (issue 20, item 4); an --allow-replacement name that is no resource at all is
refused once the change set is known (item 6). botocore's Stubber answers as the API reference documents."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy.cfn import changes, images
from cylink_deploy.errors import StackStateError
from cylink_deploy.jobs import deploy as deploy_job
from cylink_deploy.preflight import params
from templates_src import render

from . import stubbed
from .recording import RecordingReporter

REGION = stubbed.REGION
ROOT_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/cylink-dev/aaaa"
REVIEWED = "cylink-dev-20261128-101500-3f9a1c"


def client(service: str) -> Any:
    """A client of ``service`` (named at run time: the stubs type only literal names)."""
    session: Any = stubbed.SESSION
    return session.client(service, region_name=REGION)


def under_review(*names: str, status: str = "AVAILABLE") -> dict:
    return {
        "Summaries": [
            {"ChangeSetName": n, "ExecutionStatus": status, "Status": "CREATE_COMPLETE", "StackName": "cylink-dev"}
            for n in names
        ]
    }


def guard(summaries: dict, executing: bool, supersede: bool = False, own: str = "") -> RecordingReporter:
    cfn = client("cloudformation")
    reporter = RecordingReporter()
    with Stubber(cfn) as stub:
        stub.add_response("list_change_sets", summaries, {"StackName": "cylink-dev"})
        deploy_job.guard_reviews(cfn, "cylink-dev", reporter, executing, supersede, own)
        stub.assert_no_pending_responses()
    return reporter


def test_executing_while_someone_reviews_a_change_set_is_refused_naming_it():
    """CloudFormation deletes a stack's other change sets when one is executed: the CI plan's change set would
    be gone when its reviewer approves (execute exits 4 later)."""
    with pytest.raises(StackStateError) as err:
        guard(under_review(REVIEWED), executing=True)
    assert str(err.value) == (
        f"cylink-dev has change set(s) under review: {REVIEWED}; executing would make them obsolete (CloudFormation "
        "deletes a stack's other change sets): execute or delete them first, or pass --supersede"
    )
    assert err.value.exit_code == 4


def test_supersede_executes_anyway_and_says_what_it_makes_obsolete():
    reporter = guard(under_review(REVIEWED, "cylink-dev-2"), executing=True, supersede=True)
    assert reporter.of("warn") == [
        f"--supersede: executing makes the change set(s) under review obsolete: {REVIEWED}, cylink-dev-2"
    ]


def test_a_review_only_deploy_beside_another_review_is_said_not_refused():
    reporter = guard(under_review(REVIEWED), executing=False)
    assert reporter.of("warn") == [
        f"cylink-dev already has change set(s) under review: {REVIEWED}; executing one makes the others obsolete"
    ]


def test_the_change_set_being_executed_and_finished_ones_are_not_someone_elses_review():
    assert guard(under_review(REVIEWED), executing=True, own=REVIEWED).calls == []
    assert guard(under_review(REVIEWED, status="EXECUTE_COMPLETE"), executing=True).calls == []
    assert guard(under_review(REVIEWED, status="OBSOLETE"), executing=True).calls == []


def outputs() -> dict:
    uri = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/cylink"
    return {
        "Stacks": [
            {
                "StackName": "cylink-dev",
                "StackId": ROOT_ID,
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": "2026-11-28T10:00:00Z",
                "Outputs": [
                    {"OutputKey": "BackendRepositoryUri", "OutputValue": f"{uri}/backend"},
                    {"OutputKey": "FrontendRepositoryUri", "OutputValue": f"{uri}/frontend"},
                ],
            }
        ]
    }


def test_deploy_image_tag_on_an_update_is_refused_when_a_repository_lacks_the_tag():
    """deploy --image-tag does-not-exist planned and deployed a tag in no repository (only the circuit breaker
    would stop it, minutes later); now it is release's check, exit 2, before any change set."""
    cfn, ecr = client("cloudformation"), client("ecr")
    with Stubber(cfn) as cfn_stub, Stubber(ecr) as ecr_stub:
        cfn_stub.add_response("describe_stacks", outputs(), {"StackName": "cylink-dev"})
        ecr_stub.add_client_error(
            "describe_images",
            "ImageNotFoundException",
            "The image with imageId {imageTag:'does-not-exist'} does not exist",
            expected_params={"repositoryName": "cylink/backend", "imageIds": [{"imageTag": "does-not-exist"}]},
        )
        with pytest.raises(images.ImageMissing) as err:
            deploy_job.check_image_tag(
                stubbed.clients(cfn, ecr=ecr), "cylink-dev", "does-not-exist", "UPDATE", RecordingReporter()
            )
        cfn_stub.assert_no_pending_responses()
        ecr_stub.assert_no_pending_responses()
    assert str(err.value).startswith("image tag does-not-exist is not in repository cylink/backend: push it first")
    assert err.value.exit_code == 2


def test_deploy_image_tag_in_both_repositories_is_reported_with_its_digests():
    cfn, ecr = client("cloudformation"), client("ecr")
    reporter = RecordingReporter()
    with Stubber(cfn) as cfn_stub, Stubber(ecr) as ecr_stub:
        cfn_stub.add_response("describe_stacks", outputs(), {"StackName": "cylink-dev"})
        for svc, digest in (("backend", "a"), ("frontend", "b")):
            ecr_stub.add_response(
                "describe_images",
                {"imageDetails": [{"imageDigest": f"sha256:{digest * 64}", "imageTags": ["1.1.0"]}]},
                {"repositoryName": f"cylink/{svc}", "imageIds": [{"imageTag": "1.1.0"}]},
            )
        digests = deploy_job.check_image_tag(stubbed.clients(cfn, ecr=ecr), "cylink-dev", "1.1.0", "UPDATE", reporter)
    assert digests == {"backend": "sha256:" + "a" * 64, "frontend": "sha256:" + "b" * 64}
    assert reporter.of("step") == [
        "Image tag 1.1.0 is in both repositories: backend sha256:aaaaaaaaaaaa..., frontend sha256:bbbbbbbbbbbb..."
    ]


def test_a_create_with_an_image_tag_is_warned_that_the_repositories_are_new():
    reporter = RecordingReporter()
    assert deploy_job.check_image_tag(stubbed.clients(), "cylink-dev", "1.0.0", "CREATE", reporter) == {}
    (warning,) = reporter.of("warn")
    assert "this deploy creates the ECR repositories" in warning


def test_a_release_does_not_check_twice():
    """release checks (or builds, pushes and verifies) the tag itself; its deploy request says so."""
    from cylink_deploy.ops.release import ReleaseRequest

    request = ReleaseRequest("dev", "1.1.0", supersede=True).deploy_request()
    assert request.images_checked and request.supersede and request.image_tag == "1.1.0"


@pytest.fixture(scope="module")
def dev_known(project) -> frozenset[str]:
    files = render.render()
    root = json.loads(files[render.ROOT_FILE])["Parameters"]
    deployment = params.resolve("dev", project.params_dir / "dev.yaml", root)
    return deploy_job.stateful_paths(files, deployment.parameters, REGION)


def test_the_stateful_resources_of_the_templates_are_known_by_path(dev_known):
    known = dev_known
    assert {"CacheStack/RedisReplicationGroup", "RegistryStack/BackendRepository", "KeysStack/DataKey"} <= known
    assert "CacheStack/RedisSubnetGroup" not in known  # holds no data
    assert "DnsStack/HostedZone" not in known  # dev has no domain: the DNS stack is not deployed


def test_an_allowance_naming_no_resource_at_all_is_unknown_and_a_known_unused_one_is_not(dev_known):
    known = dev_known
    node = changes.ChangeSetNode(
        "CacheStack",
        stubbed.described(),
        [{"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "RedisSubnetGroup"}}],
    )
    allowed = {"NoSuchId", "RedisReplicatonGroup", "RedisReplicationGroup", "RegistryStack/BackendRepository"}
    allowed |= {"RedisSubnetGroup"}  # in this change set: a resource, so merely unused
    assert changes.unknown_allowances([node], allowed, known) == ["NoSuchId", "RedisReplicatonGroup"]


def test_another_stacks_change_set_is_not_this_stacks_review():
    """The emulator's ListChangeSets answers with every stack's change sets; AWS names the stack in each."""
    other = under_review("cylink-staging-20261128-101500-aaaaaa")
    other["Summaries"][0]["StackName"] = "cylink-staging"
    assert guard(other, executing=True).calls == []


def test_a_release_refuses_beside_a_review_before_it_checks_builds_or_pushes_anything(project):
    """release --build would otherwise build and push both images, then be refused by the deploy."""
    from cylink_deploy.ops import release

    cfn, sts = client("cloudformation"), client("sts")
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub:
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::1:user/x"})
        cfn_stub.add_response("describe_stacks", outputs(), {"StackName": "cylink-dev"})
        cfn_stub.add_response("list_change_sets", under_review(REVIEWED), {"StackName": "cylink-dev"})
        with pytest.raises(StackStateError, match=f"under review: {REVIEWED}; executing would make them obsolete"):
            release.release(
                release.ReleaseRequest("dev", "1.1.0"), stubbed.clients(cfn, sts=sts), RecordingReporter(), project
            )  # the ECR client is unused: any call to it fails the test
        cfn_stub.assert_no_pending_responses()


def _pushed(*tags_by_minute: tuple[int, list[str]]) -> dict:
    """A DescribeImages page: images pushed at 10:MM with their tags (an untagged one has none)."""
    return {
        "imageDetails": [
            {"imageDigest": f"sha256:{m:064d}", "imagePushedAt": datetime(2026, 12, 1, 10, m, tzinfo=timezone.utc)}
            | ({"imageTags": tags} if tags else {})
            for m, tags in tags_by_minute
        ]
    }


def rollback_to_missing(tag: str, backend: dict, frontend: dict) -> str:
    """The message of ``release --rollback-to TAG`` when the backend repository lacks the tag."""
    from cylink_deploy.ops import release

    cfn, sts, ecr = client("cloudformation"), client("sts"), client("ecr")
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub, Stubber(ecr) as ecr_stub:
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::1:user/x"})
        cfn_stub.add_response("describe_stacks", outputs(), {"StackName": "cylink-dev"})
        ecr_stub.add_client_error(
            "describe_images",
            "ImageNotFoundException",
            expected_params={"repositoryName": "cylink/backend", "imageIds": [{"imageTag": tag}]},
        )
        for svc, page in (("backend", backend), ("frontend", frontend)):
            ecr_stub.add_response("describe_images", page, {"repositoryName": f"cylink/{svc}"})
        with pytest.raises(images.ImageMissing) as err:
            release.release(
                release.ReleaseRequest("dev", tag, rollback=True, supersede=True),
                stubbed.clients(cfn, sts=sts, ecr=ecr),
                RecordingReporter(),
                None,  # type: ignore[arg-type]  # refused before the deploy needs the project
            )
        ecr_stub.assert_no_pending_responses()
    assert err.value.exit_code == 2
    return str(err.value)


def test_a_rollback_to_a_missing_tag_lists_the_tags_it_can_go_back_to_not_build():
    """--rollback-to suggested release --build, which --rollback-to refuses: name the tags that exist."""
    message = rollback_to_missing(
        "0.9.0",
        _pushed((1, ["1.0.0"]), (5, []), (9, ["1.1.0", "latest-ci"]), (3, ["backend-only"])),
        _pushed((2, ["1.0.0"]), (8, ["1.1.0"])),
    )
    assert message == (
        "--rollback-to 0.9.0: that tag is not in repository cylink/backend; tags in both repositories, newest first: "
        "1.1.0, 1.0.0 (give one of them to --rollback-to)"
    )
    assert "--build" not in message


def test_a_rollback_with_no_tag_in_both_repositories_says_to_release_a_new_one():
    message = rollback_to_missing("0.9.0", _pushed((1, ["a"])), _pushed((1, ["b"])))
    assert message.endswith("no tag is in both repositories: release a new one with release --image-tag TAG --build")


class _Stop(Exception):
    """Raised in place of the deploy: the banner before it is what is tested."""


def _stop(*args: object, **kwargs: object) -> None:
    raise _Stop


@pytest.mark.parametrize(
    "rollback, says",
    [
        (True, "Rolling back from 1.1.0 to 1.0.0; in both repositories: backend sha256:aaaaaaaaaaaa..."),
        (False, "Releasing 1.0.0 (running now: 1.1.0); in both repositories: backend sha256:aaaaaaaaaaaa..."),
    ],
)
def test_the_release_banner_says_which_way_it_goes(monkeypatch, rollback, says):
    """A rollback's banner read "Rolling back 1.0.0": from what, to what?"""
    from cylink_deploy.ops import release

    described = outputs()
    described["Stacks"][0]["Parameters"] = [{"ParameterKey": "ImageTag", "ParameterValue": "1.1.0"}]
    cfn, sts, ecr = client("cloudformation"), client("sts"), client("ecr")
    reporter = RecordingReporter()
    monkeypatch.setattr(release.deploy_job, "deploy", _stop)
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub, Stubber(ecr) as ecr_stub:
        sts_stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::1:user/x"})
        cfn_stub.add_response("describe_stacks", described, {"StackName": "cylink-dev"})
        for svc, digest in (("backend", "a"), ("frontend", "b")):
            ecr_stub.add_response(
                "describe_images",
                {"imageDetails": [{"imageDigest": f"sha256:{digest * 64}", "imageTags": ["1.0.0"]}]},
                {"repositoryName": f"cylink/{svc}", "imageIds": [{"imageTag": "1.0.0"}]},
            )
        with pytest.raises(_Stop):
            release.release(
                release.ReleaseRequest("dev", "1.0.0", rollback=rollback, supersede=True, skip_image_check=True),
                stubbed.clients(cfn, sts=sts, ecr=ecr),
                reporter,
                None,  # type: ignore[arg-type]  # the deploy that would use it is replaced
            )
    (banner,) = [s for s in reporter.of("step") if "in both repositories" in s]
    assert banner.startswith(says), banner
    kinds = [kind for kind, _ in reporter.calls]  # ECR is asked under a spinner on a terminal, stopped by the banner
    assert kinds.index("waiting") < kinds.index("step"), kinds
