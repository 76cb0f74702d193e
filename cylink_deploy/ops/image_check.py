"""``release`` checks each pushed image against its task definition before anything rolls.

The task definitions (``templates_src/services.py``, from ``templates_src.common.SERVICES``) map the service's
port, run the container as user ``1000:1000`` on a read-only root filesystem, and give it a scratch volume at
each writable path. On Fargate such a volume is created root-owned unless the image declares the same path as
a ``VOLUME`` (whose ownership the Dockerfile sets): without it, user 1000 cannot write ``/tmp`` or
``.next/cache`` (github.com/aws/containers-roadmap/issues/938; ECS Developer Guide, "Fargate task storage:
bind mounts"). A release whose images miss any of that fails only once tasks start -- so the image's config is
read from ECR (the manifest with BatchGetImage, then the config blob through GetDownloadUrlForLayer: the ECR
API reference, https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetImage.html and
API_GetDownloadUrlForLayer.html) and compared first; each gap is one line, and the release is refused unless
``--skip-image-check``. An image whose config cannot be read is said as "not checked", never as a pass.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from cylink_deploy import aws
from cylink_deploy.errors import BadInput
from cylink_deploy.jobs.reporter import Reporter
from templates_src.common import APP_USER, AppService

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

    from cylink_deploy.ops.release import Repository

# Single-image manifests, and the lists/indexes a multi-platform or attested build (buildx) pushes instead.
MANIFESTS = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
INDEXES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
PLATFORM = {"os": "linux", "architecture": "amd64"}  # the task definitions' RuntimePlatform (X86_64)
APP_UID = APP_USER.split(":", 1)[0]
# The official Node.js images' uid-1000 user (templates_src.common.APP_USER names it): a USER given by name
# cannot be mapped to a uid without the image's /etc/passwd, so only this one is known.
USER_NAMES = {"node": "1000"}
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # an image config is a few kilobytes
FETCH_TIMEOUT = 30

Fetch = Callable[[str], bytes]


class ImageMismatch(BadInput):
    """An image does not do what its task definition expects (exit 2): nothing was changed."""


class Unreadable(Exception):
    """The image's config could not be read: the check says "not checked"."""


def fetch_url(url: str) -> bytes:
    """The blob behind ECR's download URL (a pre-signed HTTPS URL on AWS); plain HTTP only to this machine."""
    parts = urlsplit(url)
    loopback = parts.hostname == "localhost" or _is_loopback(parts.hostname or "")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise Unreadable(f"ECR's download URL is not HTTPS ({parts.scheme}://{parts.hostname})")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310 (scheme checked above)
        return bytes(answer.read(MAX_CONFIG_BYTES + 1))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImageConfig:
    """What the image's config says about the container (the OCI image config's ``config``)."""

    ports: frozenset[str]  # "3001/tcp"
    user: str
    volumes: frozenset[str]

    @classmethod
    def from_blob(cls, blob: dict[str, Any]) -> ImageConfig:
        config = blob.get("config") or {}
        return cls(
            frozenset(config.get("ExposedPorts") or {}),
            str(config.get("User") or ""),
            frozenset(p.rstrip("/") or "/" for p in config.get("Volumes") or {}),
        )


def _manifest(ecr: ECRClient, repository: str, image_id: ImageIdentifierTypeDef) -> tuple[str, dict[str, Any]]:
    """(media type, manifest) of one image."""
    answer = ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[image_id],
        acceptedMediaTypes=[*MANIFESTS, *INDEXES],
    )
    if not answer.get("images"):
        failure = (answer.get("failures") or [{}])[0]
        raise Unreadable(f"BatchGetImage: {failure.get('failureCode', 'no image')} {failure.get('failureReason', '')}")
    image = answer["images"][0]
    manifest = json.loads(image.get("imageManifest", "{}"))
    return str(image.get("imageManifestMediaType") or manifest.get("mediaType", "")), manifest


def image_config(ecr: ECRClient, repository: str, tag: str, fetch: Fetch = fetch_url) -> ImageConfig:
    """The config of ``repository:tag`` (for a multi-platform index: its linux/amd64 image)."""
    try:
        media_type, manifest = _manifest(ecr, repository, {"imageTag": tag})
        if media_type in INDEXES:
            entry = next(
                (
                    m
                    for m in manifest.get("manifests", [])
                    if all(m.get("platform", {}).get(k) == v for k, v in PLATFORM.items())
                ),
                None,
            )
            if entry is None:
                raise Unreadable("the image index has no linux/amd64 image (build with --platform linux/amd64)")
            media_type, manifest = _manifest(ecr, repository, {"imageDigest": entry["digest"]})
        digest = str((manifest.get("config") or {}).get("digest", ""))
        if media_type not in MANIFESTS or not digest.startswith("sha256:"):
            raise Unreadable(f"unexpected manifest type {media_type or '(none)'}")
        url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=digest)["downloadUrl"]
    except ClientError as exc:
        raise Unreadable(f"{aws.error_code(exc)} on {exc.operation_name}") from None
    try:
        blob = fetch(url)
    except OSError as exc:
        raise Unreadable(f"the config blob could not be fetched ({type(exc).__name__})") from None
    if len(blob) > MAX_CONFIG_BYTES or "sha256:" + hashlib.sha256(blob).hexdigest() != digest:
        raise Unreadable("the config blob does not match its digest")
    return ImageConfig.from_blob(json.loads(blob))


def gaps(svc: AppService, config: ImageConfig) -> list[str]:
    """Pure: what the image lacks that the service's task definition relies on, one line each."""
    found = []
    if f"{svc.port}/tcp" not in config.ports:
        found.append(f"exposes no port {svc.port} (the task definition maps {svc.port}): add EXPOSE {svc.port}")
    uid = config.user.split(":", 1)[0]
    if USER_NAMES.get(uid, uid) != APP_UID:
        found.append(
            f"runs as user {config.user or 'root (no USER)'}, the task definition as {APP_USER}: add USER {APP_UID} "
            "and give that user the app's files"
        )
    for path in svc.writable_paths:
        if path not in config.volumes:
            found.append(
                f"declares no VOLUME {path}: on Fargate the task's volume there is root-owned and user {APP_UID} "
                f"cannot write it (read-only root filesystem): chown {path} to {APP_UID}, then VOLUME {path}"
            )
    return found


def check_images(
    ecr: ECRClient, repos: Sequence[Repository], tag: str, reporter: Reporter, fetch: Fetch = fetch_url
) -> None:
    """Refuse the release when an image does not fit its task definition (each gap a warning line above)."""
    found = []
    for repo in repos:
        try:
            config = image_config(ecr, repo.name, tag, fetch)
        except Unreadable as why:
            reporter.warn(f"{repo.name}:{tag} not checked against the {repo.service.name} task definition: {why}")
            continue
        found += [f"{repo.service.name} image {repo.name}:{tag} {gap}" for gap in gaps(repo.service, config)]
    for line in found:
        reporter.warn(line)
    if found:
        raise ImageMismatch(
            f"release {tag} refused: {len(found)} gap(s) between the images and their task definitions (listed "
            "above): fix the images and push a new tag, or pass --skip-image-check if you know better"
        )
