"""Termination protection and stack policies per environment, from ``policies/protection.yaml``.

A stack policy on the root does not reach resources inside nested stacks, so the same policy is set on
every nested stack too. Applied after each successful or no-op deploy, so existing stacks catch up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from cylink_deploy.cfn.stacks import nested_stacks
from cylink_deploy.errors import BadInput

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

CONFIG_FILE = "protection.yaml"  # in the package's policies/ directory (Project.policies_dir)


@dataclass(frozen=True)
class Protection:
    termination: bool = False
    stack_policy: str | None = None  # JSON text


def for_env(env: str, config: Path) -> Protection:
    """The environment's protection from ``config`` (policies/protection.yaml); none when not listed."""
    entry = (yaml.safe_load(config.read_text()) or {}).get(env) or {}
    unknown = set(entry) - {"termination_protection", "stack_policy"}
    if unknown:
        raise BadInput(
            f"{config}: {env}: unknown key(s) {', '.join(sorted(unknown))}; allowed: termination_protection, "
            "stack_policy"
        )
    policy = None
    if entry.get("stack_policy"):
        path = config.parent.parent / entry["stack_policy"]
        if not path.is_file():
            raise BadInput(f"{config}: {env}: stack_policy {entry['stack_policy']} does not exist")
        policy = path.read_text()
    return Protection(bool(entry.get("termination_protection", False)), policy)


def apply(cfn: CloudFormationClient, stack: str, protection: Protection) -> list[str]:
    """Enable termination protection and set the stack policy; returns what was done, for the report."""
    done = []
    if protection.termination:
        cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=True)
        done.append("termination protection on")
    if protection.stack_policy:
        targets = [stack, *(n.physical_id for n in nested_stacks(cfn, stack))]
        for target in targets:
            cfn.set_stack_policy(StackName=target, StackPolicyBody=protection.stack_policy)
        done.append(f"stack policy on {len(targets)} stack(s)")
    return done
