"""The image tag a deploy or release asks the services to run, checked in both ECR repositories first.

One check for ``deploy --image-tag`` and ``release`` (and so for the GitHub plan job, which runs ``deploy
--no-execute --image-tag``): a tag that is in no repository would otherwise be planned and executed, and only
the ECS deployment circuit breaker would stop it, minutes later. Steps take the ECR client and return data.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cylink_deploy import aws
from cylink_deploy.errors import BadInput, StackStateError
from templates_src.common import SERVICES, AppService

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


class ImageMissing(BadInput):
    """The tag is not in a repository (exit 2): nothing was changed."""


@dataclass(frozen=True)
class Repository:
    service: AppService
    name: str  # cyl/backend
    uri: str  # 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/cyl/backend


def repositories(outputs: dict[str, str], stack: str) -> list[Repository]:
    """Both image repositories, from the root stack's outputs."""
    repos = []
    for svc in SERVICES:
        uri = outputs.get(f"{svc.title}RepositoryUri")
        if not uri:
            raise StackStateError(
                f"stack {stack} has no output {svc.title}RepositoryUri: deploy the current templates first"
            )
        repos.append(Repository(svc, uri.split("/", 1)[1], uri))
    return repos


def image_digest(ecr: ECRClient, repository: str, tag: str) -> str | None:
    """The digest the tag names in the repository, or None when the tag is not there
    (DescribeImages: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html)."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ecr.exceptions.ClientError as exc:
        if aws.error_code(exc) == "ImageNotFoundException":
            return None
        if aws.error_code(exc) == "RepositoryNotFoundException":
            raise StackStateError(
                f"repository {repository} does not exist (deleted by hand?): redeploy the stack to recreate it"
            ) from None
        raise
    return str(details[0]["imageDigest"]) if details else None


def require_images(ecr: ECRClient, repos: Sequence[Repository], tag: str) -> dict[str, str]:
    """Service -> digest of ``tag``; the first repository without it stops the deploy or release."""
    digests = {}
    for repo in repos:
        digest = image_digest(ecr, repo.name, tag)
        if digest is None:
            raise ImageMissing(
                f"image tag {tag} is not in repository {repo.name}: push it first "
                f"({shlex.join(['docker', 'push', f'{repo.uri}:{tag}'])}), "
                f"or build and push both with release --build"
            )
        digests[repo.service.name] = digest
    return digests
