"""``release`` compares each pushed image's config with its task definition before anything rolls: ECR
answered by botocore's Stubber (shapes of the ECR API reference), the config blob served over HTTP on
127.0.0.1 as ECR's pre-signed download URL would serve it. On the emulator (moto stores no layers) the
check says "not checked": tests/test_day2_local.py's releases."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from cylink_deploy.ops import image_check, release
from cylink_deploy.ops.image_check import ImageConfig
from templates_src.common import BACKEND, FRONTEND

from .recording import RecordingReporter
from .stubbed import SESSION, clients

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX = "application/vnd.oci.image.index.v1+json"
GOOD: dict[str, Any] = {  # what the Dockerfile of docs/deviations.md's "What the images must do" gives the frontend
    "architecture": "amd64",
    "os": "linux",
    "config": {"ExposedPorts": {"3000/tcp": {}}, "User": "1000", "Volumes": {"/tmp": {}, "/app/.next/cache": {}}},
}


def digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


class Blobs(http.server.BaseHTTPRequestHandler):
    served: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.served.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def blob_server() -> Iterator[str]:
    """ECR's download URL, stood in for on loopback: returns the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blobs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def serve(base: str, config: dict[str, Any]) -> tuple[str, str]:
    """Serve ``config`` as a blob; returns (its digest, its URL)."""
    blob = json.dumps(config).encode()
    Blobs.served[f"/{digest(blob)}"] = blob
    return digest(blob), f"{base}/{digest(blob)}"


def manifest(config_digest: str) -> str:
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": {"digest": config_digest, "size": 1}})


def stub_image(stub: Stubber, repo: str, tag: str, config_digest: str, url: str, via_index: bool = False) -> None:
    image_digest = "sha256:" + "e" * 64
    if via_index:
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "arm64"}},
                {"digest": image_digest, "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": "sha256:" + "b" * 64, "platform": {"os": "unknown", "architecture": "unknown"}},
            ],
        }
        stub.add_response(
            "batch_get_image",
            {"images": [{"imageManifest": json.dumps(index), "imageManifestMediaType": INDEX}], "failures": []},
        )
    image_id = {"imageDigest": image_digest} if via_index else {"imageTag": tag}
    stub.add_response(
        "batch_get_image",
        {"images": [{"imageManifest": manifest(config_digest), "imageManifestMediaType": MANIFEST}], "failures": []},
        {
            "repositoryName": repo,
            "imageIds": [image_id],
            "acceptedMediaTypes": [*image_check.MANIFESTS, *image_check.INDEXES],
        },
    )
    stub.add_response(
        "get_download_url_for_layer",
        {"downloadUrl": url, "layerDigest": config_digest},
        {"repositoryName": repo, "layerDigest": config_digest},
    )


def test_an_image_that_fits_its_task_definition_has_no_gaps():
    assert image_check.gaps(FRONTEND, ImageConfig.from_blob(GOOD)) == []
    node = ImageConfig.from_blob({"config": {**GOOD["config"], "User": "node:node"}})
    assert image_check.gaps(FRONTEND, node) == []  # the official Node.js images' uid-1000 user


def test_each_gap_is_one_line_port_user_and_every_writable_path():
    bare = ImageConfig.from_blob({"config": {"ExposedPorts": {"80/tcp": {}}, "Volumes": {"/tmp/": {}}}})
    lines = image_check.gaps(FRONTEND, bare)
    assert lines == [
        "exposes no port 3000 (the task definition maps 3000): add EXPOSE 3000",
        "runs as user root (no USER), the task definition as 1000:1000: add USER 1000 and give that user the app's "
        "files",
        "declares no VOLUME /app/.next/cache: on Fargate the task's volume there is root-owned and user 1000 cannot "
        "write it (read-only root filesystem): chown /app/.next/cache to 1000, then VOLUME /app/.next/cache",
    ]
    assert image_check.gaps(BACKEND, ImageConfig.from_blob({"config": {"User": "0"}}))[1].startswith("runs as user 0")


def test_the_config_is_read_from_ecr_and_verified_against_its_digest(blob_server):
    ecr = SESSION.client("ecr")
    config_digest, url = serve(blob_server, GOOD)
    with Stubber(ecr) as stub:
        stub_image(stub, "cylink/frontend", "v2", config_digest, url)
        assert image_check.image_config(ecr, "cylink/frontend", "v2") == ImageConfig.from_blob(GOOD)
        stub.assert_no_pending_responses()
    with Stubber(ecr) as stub:  # a blob that is not the one the manifest names
        stub_image(stub, "cylink/frontend", "v2", "sha256:" + "0" * 64, url)
        with pytest.raises(image_check.Unreadable, match="does not match its digest"):
            image_check.image_config(ecr, "cylink/frontend", "v2")


def test_a_multi_platform_index_is_followed_to_its_linux_amd64_image(blob_server):
    ecr = SESSION.client("ecr")
    config_digest, url = serve(blob_server, GOOD)
    with Stubber(ecr) as stub:
        stub_image(stub, "cylink/frontend", "v2", config_digest, url, via_index=True)
        assert image_check.image_config(ecr, "cylink/frontend", "v2").user == "1000"
        stub.assert_no_pending_responses()


def test_a_download_url_that_is_not_https_is_refused_unless_it_is_this_machine():
    with pytest.raises(image_check.Unreadable, match="not HTTPS"):
        image_check.fetch_url("http://prod-ap-northeast-1-starport-layer-bucket.s3.amazonaws.com/x")


def described_stack() -> dict[str, Any]:
    outputs = {f"{s.title}RepositoryUri": f"{REGISTRY}/cylink/{s.name}" for s in (BACKEND, FRONTEND)}
    return {
        "Stacks": [
            {
                "StackName": "cylink-prod",
                "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cylink-prod/1",
                "CreationTime": "2026-12-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                "Parameters": [{"ParameterKey": "ImageTag", "ParameterValue": "v1"}],
            }
        ]
    }


def stub_release_start(sts: Stubber, cfn: Stubber, ecr: Stubber) -> None:
    sts.add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/x", "UserId": "x"}
    )
    cfn.add_response("describe_stacks", described_stack(), {"StackName": "cylink-prod"})
    cfn.add_response("list_change_sets", {"Summaries": []}, {"StackName": "cylink-prod"})  # nobody's review
    for svc in (BACKEND, FRONTEND):
        ecr.add_response(
            "describe_images",
            {"imageDetails": [{"imageDigest": "sha256:" + "d" * 64}]},
            {"repositoryName": f"cylink/{svc.name}", "imageIds": [{"imageTag": "v2"}]},
        )


def test_release_refuses_images_with_gaps_before_any_change_set(blob_server, monkeypatch, project):
    cfn, sts, ecr = SESSION.client("cloudformation"), SESSION.client("sts"), SESSION.client("ecr")
    monkeypatch.setattr(release.deploy_job, "deploy", lambda *a, **k: pytest.fail("deployed despite the gaps"))
    backend_digest, backend_url = serve(blob_server, {"config": {**GOOD["config"], "ExposedPorts": {"3001/tcp": {}}}})
    frontend_digest, frontend_url = serve(blob_server, {"config": {"ExposedPorts": {"3000/tcp": {}}, "User": "1000"}})
    reporter = RecordingReporter()
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub, Stubber(ecr) as ecr_stub:
        stub_release_start(sts_stub, cfn_stub, ecr_stub)
        stub_image(ecr_stub, "cylink/backend", "v2", backend_digest, backend_url)
        stub_image(ecr_stub, "cylink/frontend", "v2", frontend_digest, frontend_url)
        with pytest.raises(image_check.ImageMismatch) as refused:
            release.release(release.ReleaseRequest("prod", "v2"), clients(cfn, sts=sts, ecr=ecr), reporter, project)
    assert str(refused.value).startswith("release v2 refused: 2 gap(s) between the images and their task definitions")
    assert refused.value.exit_code == 2 and "--skip-image-check" in str(refused.value)
    warned = [w for w in reporter.of("warn") if "declares no VOLUME" in w]
    assert warned == [
        "frontend image cylink/frontend:v2 declares no VOLUME /tmp: on Fargate the task's volume there is root-owned "
        "and user 1000 cannot write it (read-only root filesystem): chown /tmp to 1000, then VOLUME /tmp",
        "frontend image cylink/frontend:v2 declares no VOLUME /app/.next/cache: on Fargate the task's volume there is "
        "root-owned and user 1000 cannot write it (read-only root filesystem): chown /app/.next/cache to 1000, then "
        "VOLUME /app/.next/cache",
    ]


def test_skip_image_check_releases_anyway_and_says_so(monkeypatch, project):
    cfn, sts, ecr = SESSION.client("cloudformation"), SESSION.client("sts"), SESSION.client("ecr")
    deployed: list[str] = []
    monkeypatch.setattr(release.deploy_job, "deploy", lambda request, *a, **k: deployed.append(request.image_tag))
    reporter = RecordingReporter()
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub, Stubber(ecr) as ecr_stub:
        stub_release_start(sts_stub, cfn_stub, ecr_stub)  # no BatchGetImage stubbed: any call fails the test
        request = release.ReleaseRequest("prod", "v2", skip_image_check=True)
        release.release(request, clients(cfn, sts=sts, ecr=ecr), reporter, project)
    assert deployed == ["v2"]
    assert any("--skip-image-check" in w for w in reporter.of("warn"))


def test_an_image_whose_config_cannot_be_read_is_not_checked_and_released(monkeypatch, project):
    cfn, sts, ecr = SESSION.client("cloudformation"), SESSION.client("sts"), SESSION.client("ecr")
    deployed: list[str] = []
    monkeypatch.setattr(release.deploy_job, "deploy", lambda request, *a, **k: deployed.append(request.image_tag))
    reporter = RecordingReporter()
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub, Stubber(ecr) as ecr_stub:
        stub_release_start(sts_stub, cfn_stub, ecr_stub)
        for _ in (BACKEND, FRONTEND):
            ecr_stub.add_response("batch_get_image", {"images": [{"imageManifest": manifest("sha256:" + "c" * 64)}]})
            ecr_stub.add_client_error("get_download_url_for_layer", "LayersNotFoundException", http_status_code=400)
        release.release(release.ReleaseRequest("prod", "v2"), clients(cfn, sts=sts, ecr=ecr), reporter, project)
    assert deployed == ["v2"]
    why = "LayersNotFoundException on GetDownloadUrlForLayer"
    assert [w for w in reporter.of("warn") if "not checked" in w] == [
        f"cylink/backend:v2 not checked against the backend task definition: {why}",
        f"cylink/frontend:v2 not checked against the frontend task definition: {why}",
    ]
