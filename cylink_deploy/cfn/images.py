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


def recent_tags(ecr: ECRClient, repository: str) -> list[str]:
    """The repository's tags, the newest push first (DescribeImages' ``imagePushedAt``:
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html); untagged images have none."""
    details = [
        d
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository)
        for d in page["imageDetails"]
    ]
    details.sort(key=lambda d: d["imagePushedAt"], reverse=True)
    return [tag for d in details for tag in d.get("imageTags", [])]


def rollback_targets(ecr: ECRClient, repos: Sequence[Repository], limit: int = 5) -> list[str]:
    """Tags in every repository, the newest first: what ``release --rollback-to`` can go back to."""
    shared = recent_tags(ecr, repos[0].name)
    for repo in repos[1:]:
        there = set(recent_tags(ecr, repo.name))
        shared = [t for t in shared if t in there]
    return shared[:limit]


def require_images(ecr: ECRClient, repos: Sequence[Repository], tag: str, rollback: bool = False) -> dict[str, str]:
    """Service -> digest of ``tag``; the first repository without it stops the deploy or release. A rollback
    (``--rollback-to``, which never builds) is told the tags it can go back to instead of how to push."""
    digests = {}
    for repo in repos:
        digest = image_digest(ecr, repo.name, tag)
        if digest is None:
            raise ImageMissing(
                _missing_rollback(ecr, repos, repo, tag)
                if rollback
                else (
                    f"image tag {tag} is not in repository {repo.name}: push it first "
                    f"({shlex.join(['docker', 'push', f'{repo.uri}:{tag}'])}), "
                    f"or build and push both with release --build"
                )
            )
        digests[repo.service.name] = digest
    return digests


def _missing_rollback(ecr: ECRClient, repos: Sequence[Repository], repo: Repository, tag: str) -> str:
    targets = rollback_targets(ecr, repos)
    what = (
        f"tags in both repositories, newest first: {', '.join(targets)} (give one of them to --rollback-to)"
        if targets
        else "no tag is in both repositories: release a new one with release --image-tag TAG --build"
    )
    return f"--rollback-to {tag}: that tag is not in repository {repo.name}; {what}"
