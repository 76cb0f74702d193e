"""The artifacts bucket's owner is checked (issue 24, finding 3): its name is predictable, so another account
could create ``cylink-cfn-artifacts-<account>-<region>`` first, with a policy letting this account in, and
receive the templates. Every S3 call names the expected owner (``ExpectedBucketOwner``); S3 answers 403 when
the bucket's owner is another account (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html),
and deploy.py refuses in one line, exit 4, before anything is uploaded.

The emulator has one account, so the other account's bucket is played by botocore: a Stubber for the exact
requests, and a ``before-call`` hook that answers for the squatted bucket the way S3 does (200 to a request
without an expected owner, since the owner's policy lets us in; 403 to one naming this account)."""

from __future__ import annotations

import io
import json
import sys
import uuid

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.stub import Stubber

from cylink_deploy import aws
from cylink_deploy.cfn import artifacts, bootstrap
from cylink_deploy.cli import main
from cylink_deploy.errors import EXIT_STACK_STATE, StackStateError
from cylink_deploy.project import Project

from . import awscalls, iameval
from .conftest import project_copy

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"  # this account (moto's)
OTHER = "999988887777"  # the account that created the bucket first
BUCKET = artifacts.bucket_name(ACCOUNT, REGION)


def s3_client():
    return boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def test_a_bucket_of_another_account_is_refused_at_the_head_request_before_any_upload():
    """S3 answers 403 to HeadBucket with ExpectedBucketOwner when the owner differs: refused, exit 4, and no
    further request (the Stubber has none queued: a put_object would fail the test)."""
    s3 = s3_client()
    with Stubber(s3) as stub:
        stub.add_client_error(
            "head_bucket",
            service_error_code="403",
            service_message="Forbidden",
            http_status_code=403,
            expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT},
        )
        with pytest.raises(StackStateError) as raised:
            artifacts.ensure_bucket(s3, BUCKET, REGION, ACCOUNT)
        stub.assert_no_pending_responses()
    assert raised.value.exit_code == EXIT_STACK_STATE == 4
    message = str(raised.value)
    assert "\n" not in message and BUCKET in message and ACCOUNT in message and "not owned" in message


def test_a_bucket_taken_between_the_check_and_the_create_is_refused_too():
    s3 = s3_client()
    with Stubber(s3) as stub:
        stub.add_client_error(
            "head_bucket", "404", "Not Found", 404, expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT}
        )
        stub.add_client_error("create_bucket", "BucketAlreadyExists", "taken", 409)
        with pytest.raises(StackStateError, match="not owned by account 123456789012"):
            artifacts.ensure_bucket(s3, BUCKET, REGION, ACCOUNT)
        stub.assert_no_pending_responses()


def test_every_request_after_the_create_names_the_expected_owner():
    """Hardening and uploads: each request carries ExpectedBucketOwner (CreateBucket is the one S3 call
    that has no such parameter in botocore's model: it makes the bucket this account's)."""
    s3 = s3_client()
    owner = {"ExpectedBucketOwner": ACCOUNT}
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "404", "Not Found", 404, expected_params={"Bucket": BUCKET, **owner})
        stub.add_response(
            "create_bucket", {}, {"Bucket": BUCKET, "CreateBucketConfiguration": {"LocationConstraint": REGION}}
        )
        for operation in (
            "put_public_access_block",
            "put_bucket_encryption",
            "put_bucket_versioning",
            "put_bucket_policy",
            "put_bucket_lifecycle_configuration",
        ):
            stub.add_response(operation, {}, None)
        assert artifacts.ensure_bucket(s3, BUCKET, REGION, ACCOUNT) is True
        stub.add_client_error("head_object", "404", "Not Found", 404)
        stub.add_response("put_object", {}, None)
        artifacts.upload(s3, BUCKET, {"root.json": "{}"}, ACCOUNT, workers=1)
        stub.assert_no_pending_responses()
    model = s3.meta.service_model
    for name in (
        "HeadBucket",
        "PutPublicAccessBlock",
        "PutBucketEncryption",
        "PutBucketVersioning",
        "PutBucketPolicy",
        "PutBucketLifecycleConfiguration",
        "HeadObject",
        "PutObject",
    ):
        assert "ExpectedBucketOwner" in model.operation_model(name).input_shape.members, name
    assert "ExpectedBucketOwner" not in model.operation_model("CreateBucket").input_shape.members


def _squatted(bucket: str, sent: list[tuple[str, str | None]]):
    """S3 as it answers for a bucket that OTHER owns and whose policy lets this account in."""

    def answer(model, params, **_):
        if f"/{bucket}" not in params["url"] and f"//{bucket}." not in params["url"]:
            return None
        expected = params["headers"].get("x-amz-expected-bucket-owner")
        sent.append((model.name, expected))
        if expected is not None and expected != OTHER:
            code = "403" if model.name.startswith("Head") else "AccessDenied"
            return AWSResponse(params["url"], 403, HTTPHeaders(), None), {
                "Error": {"Code": code, "Message": "Access Denied"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    return answer


def test_deploy_refuses_a_squatted_artifacts_bucket_in_one_line_with_exit_4(emulator, monkeypatch, tmp_path, capsys):
    """The finding end to end: deploy against the emulator, with the artifacts bucket owned by another
    account. Before the fix the templates went there (PutObject to the squatted bucket); now nothing does."""
    from cylink_deploy.emulator import FAKE_CREDENTIALS

    for key, value in (
        ("AWS_ENDPOINT_URL", emulator.endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"]),
        ("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"]),
    ):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sent: list[tuple[str, str | None]] = []
    real = aws.make_clients

    def squatted_clients(*a, **k):
        clients = real(*a, **k)
        clients.s3.meta.events.register("before-call.s3.*", _squatted(BUCKET, sent))
        return clients

    monkeypatch.setattr(aws, "make_clients", squatted_clients)
    recorder = awscalls.record(monkeypatch)
    root = project_copy(tmp_path)
    stack = f"cylink-squat{uuid.uuid4().hex[:6]}"
    old, sys.stderr = sys.stderr, io.StringIO()
    try:
        code = main(
            ["deploy", "--env", "dev", "--stack-name", stack, "--yes", "--image-tag", "1.0.0"],
            stdin=io.StringIO(""),
            sleep=lambda s: None,
            project=Project(root, build_override=root / "build"),
            out=io.StringIO(),
        )
    finally:
        err, sys.stderr = sys.stderr.getvalue(), old
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 4, err
    assert len(errors) == 1 and f"{BUCKET} is not owned by account {ACCOUNT}" in errors[0], err
    assert "PutObject" not in [name for name, _ in sent]  # no template reached the other account's bucket
    assert all(owner == ACCOUNT for _, owner in sent), sent
    assert "cloudformation.CreateChangeSet" not in recorder.operations()


@pytest.mark.parametrize(
    ("policy", "action", "resource"),
    [
        ("deployer", "s3:PutObject", f"arn:aws:s3:::{BUCKET}/templates/root-0123456789ab.json"),
        ("deployer", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/templates/root-0123456789ab.json"),
        ("deployer", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        ("service role", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/templates/root-0123456789ab.json"),
        ("service role", "s3:PutBucketPolicy", "arn:aws:s3:::cylink-prod-loadbalancerstack-1a2b-alblogbucket-3c4d"),
        ("service role", "s3:DeleteObject", "arn:aws:s3:::cylink-prod-loadbalancerstack-1a2b-alblogbucket-3c4d/x"),
    ],
)
def test_the_policies_allow_s3_only_in_buckets_this_account_owns(policy, action, resource):
    """s3:ResourceAccount is the bucket owner's account (S3's condition keys, Service Authorization Reference:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)."""
    documents = {
        "deployer": lambda: bootstrap.deployer_policy(ACCOUNT, REGION, BUCKET),
        "service role": lambda: bootstrap.role_policy(ACCOUNT, BUCKET),
    }
    document = json.loads(documents[policy]().to_json())
    assert iameval.allowed(document, action, resource, {"s3:ResourceAccount": ACCOUNT})
    assert not iameval.allowed(document, action, resource, {"s3:ResourceAccount": OTHER})
