"""Termination protection and stack policies per environment, from ``policies/protection.yaml``.

A stack policy on the root does not reach resources inside nested stacks, so the same policy is set on
every nested stack too. Applied after each successful or no-op deploy, so existing stacks catch up.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput

CONFIG = Path(__file__).resolve().parent.parent / "policies" / "protection.yaml"


@dataclass(frozen=True)
class Protection:
    termination: bool = False
    stack_policy: str | None = None  # JSON text


def for_env(env: str, config: Path = CONFIG) -> Protection:
    """The environment's protection (none when it is not listed)."""
    entry = (yaml.safe_load(config.read_text()) or {}).get(env) or {}
    unknown = set(entry) - {"termination_protection", "stack_policy"}
    if unknown:
        raise BadInput(f"{config}: {env}: unknown key(s) {', '.join(sorted(unknown))}; allowed: termination_protection, stack_policy")
    policy = None
    if entry.get("stack_policy"):
        path = config.parent.parent / entry["stack_policy"]
        if not path.is_file():
            raise BadInput(f"{config}: {env}: stack_policy {entry['stack_policy']} does not exist")
        policy = path.read_text()
    return Protection(bool(entry.get("termination_protection", False)), policy)


def nested_stacks(cfn: Any, stack: str) -> list[str]:
    """Physical IDs of every nested stack under ``stack`` (depth first)."""
    found: list[str] = []
    kwargs: dict[str, Any] = {"StackName": stack}
    while True:
        page = cfn.list_stack_resources(**kwargs)
        for res in page.get("StackResourceSummaries", []):
            if res["ResourceType"] == "AWS::CloudFormation::Stack" and res.get("PhysicalResourceId"):
                found.append(res["PhysicalResourceId"])
                found += nested_stacks(cfn, res["PhysicalResourceId"])
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def apply(cfn: Any, stack: str, protection: Protection) -> list[str]:
    """Enable termination protection and set the stack policy; returns what was done, for the report."""
    done = []
    if protection.termination:
        cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=True)
        done.append("termination protection on")
    if protection.stack_policy:
        targets = [stack, *nested_stacks(cfn, stack)]
        for target in targets:
            cfn.set_stack_policy(StackName=target, StackPolicyBody=protection.stack_policy)
        done.append(f"stack policy on {len(targets)} stack(s)")
    return done
