"""Retained resources with fixed names that an earlier stack left behind.

Log groups and ECR repositories keep their data when a stack is deleted (DeletionPolicy), and their
names come from ``NamePrefix``: a new stack of the same environment would fail half-way with "already
exists". Before a create, the names the stack will use are computed from the resolved templates and
looked up, so the user hears what to do before anything is created.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from cylink_deploy.aws import error_code
from cylink_deploy.errors import StackStateError
from cylink_deploy.cfn.identity import Named, named

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_logs import CloudWatchLogsClient

# Stateful types whose name the templates fix and that a delete keeps.
NAMED = ("AWS::Logs::LogGroup", "AWS::ECR::Repository")


@dataclass(frozen=True)
class Leftover:
    resource_type: str
    name: str

    def delete_command(self, region: str) -> str:
        """The command that removes it, in the region the stack would be created in."""
        if self.resource_type == "AWS::ECR::Repository":
            return shlex.join(
                ["aws", "ecr", "delete-repository", "--repository-name", self.name, "--force", "--region", region]
            )
        return shlex.join(["aws", "logs", "delete-log-group", "--log-group-name", self.name, "--region", region])


def planned(files: Mapping[str, str], parameters: Mapping[str, str], region: str) -> list[Leftover]:
    """Every fixed name of a retained type the stack would create with these parameters."""
    return retained(named(files, parameters, region))


def retained(names: list[Named]) -> list[Leftover]:
    """Pure: those of ``names`` whose type a delete keeps (log groups, repositories)."""
    return sorted({Leftover(n.resource_type, n.name) for n in names if n.resource_type in NAMED}, key=_order)


def _order(item: Leftover) -> tuple[str, str]:
    return item.resource_type, item.name


def existing(logs: CloudWatchLogsClient, ecr: ECRClient, wanted: list[Leftover]) -> list[Leftover]:
    """Those of ``wanted`` that exist already."""
    found = []
    for item in wanted:
        if item.resource_type == "AWS::ECR::Repository":
            try:
                ecr.describe_repositories(repositoryNames=[item.name])
            except ClientError as exc:
                if error_code(exc) != "RepositoryNotFoundException":
                    raise
                continue
            found.append(item)
        else:
            groups = logs.describe_log_groups(logGroupNamePrefix=item.name).get("logGroups", [])
            if any(g["logGroupName"] == item.name for g in groups):
                found.append(item)
    return found


def refusal(stack: str, found: list[Leftover], region: str) -> StackStateError:
    """One line: what is in the way, how to keep its data, and how to remove it."""
    names = ", ".join(f"{x.name}" for x in found)
    commands = "; ".join(x.delete_command(region) for x in found)
    return StackStateError(
        f"creating {stack} would collide with {len(found)} retained resource(s) an earlier stack left: {names}. "
        "Keep their data: deploy with another --parameter NamePrefix=...; or remove them (their logs/images go): "
        f"{commands}"
    )
