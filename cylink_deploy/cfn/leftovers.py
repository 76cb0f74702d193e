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
from cylink_deploy.preflight.resolve import resolve

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_logs import CloudWatchLogsClient

# Stateful types whose name the templates fix, with the property that names them.
NAMED = {"AWS::Logs::LogGroup": "LogGroupName", "AWS::ECR::Repository": "RepositoryName"}


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
    found = []
    for stack in resolve(files, parameters, region=region).values():
        for resource_type, prop in NAMED.items():
            for body in stack.resources(resource_type).values():
                name = body.get("Properties", {}).get(prop)
                if isinstance(name, str):
                    found.append(Leftover(resource_type, name))
    return sorted(set(found), key=lambda x: (x.resource_type, x.name))


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


def owner(cfn: CloudFormationClient, candidates: list[str], name_prefix: str) -> str | None:
    """The live stack among ``candidates`` (the other environments' stacks) that uses ``name_prefix``: its
    resources are not leftovers, and must never be offered for deletion."""
    for candidate in candidates:
        try:
            described = cfn.describe_stacks(StackName=candidate)["Stacks"][0]
        except ClientError as exc:
            if error_code(exc) == "ValidationError":  # no such stack
                continue
            raise
        values = {p["ParameterKey"]: p.get("ParameterValue") for p in described.get("Parameters", [])}
        if described["StackStatus"] != "DELETE_COMPLETE" and values.get("NamePrefix") == name_prefix:
            return candidate
    return None


def in_use(stack: str, found: list[Leftover], owner: str, name_prefix: str) -> StackStateError:
    """The names belong to a live stack: a second environment needs a NamePrefix of its own."""
    names = ", ".join(x.name for x in found)
    return StackStateError(
        f"creating {stack} would collide with {names}, which live stack {owner} uses (NamePrefix {name_prefix}): "
        f"give {stack} a NamePrefix of its own (--parameter NamePrefix=... or its parameter file)"
    )


def refusal(stack: str, found: list[Leftover], region: str) -> StackStateError:
    """One line: what is in the way, how to keep its data, and how to remove it."""
    names = ", ".join(f"{x.name}" for x in found)
    commands = "; ".join(x.delete_command(region) for x in found)
    return StackStateError(
        f"creating {stack} would collide with {len(found)} retained resource(s) an earlier stack left: {names}. "
        "Keep their data: deploy with another --parameter NamePrefix=...; or remove them (their logs/images go): "
        f"{commands}"
    )
