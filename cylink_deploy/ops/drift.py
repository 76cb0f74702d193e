"""``deploy.py drift``: drift detection on the root and every nested stack, with property-level differences.

Detections are started on every stack at once (CloudFormation runs them in parallel), then polled with
backoff; the drifted resources (MODIFIED or DELETED) of each stack are listed with each property's
expected -> actual value. Exit 1 when anything drifted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bex
from botocore.parsers import ResponseParserError

from cylink_deploy import aws, documents, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import AwsAccessError, DeployError, DeploymentFailed, StackStateError
from cylink_deploy.jobs.model import StackRequest
from cylink_deploy.jobs.reporter import Reporter

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import StackResourceDriftStatusType
    from mypy_boto3_cloudformation.type_defs import (
        DescribeStackDriftDetectionStatusOutputTypeDef,
        DescribeStackResourceDriftsInputTypeDef,
        DescribeStackResourceDriftsOutputTypeDef,
    )

DRIFTED: list[StackResourceDriftStatusType] = ["MODIFIED", "DELETED"]
TIMEOUT = 900.0


class Drifted(DeployError):
    """Resources differ from their templates (exit 1)."""


DriftRequest = StackRequest


@dataclass(frozen=True)
class Difference:
    path: str  # /Properties/...: the property path
    expected: str
    actual: str
    kind: str  # ADD, REMOVE, NOT_EQUAL


@dataclass(frozen=True)
class DriftedResource:
    stack: str  # "(root)" or the nested stack's path ("CacheStack")
    logical_id: str
    resource_type: str
    status: str  # MODIFIED, DELETED
    differences: list[Difference]


@dataclass
class DriftReport:
    stack: str
    checked: list[str] = field(default_factory=list)  # stack paths
    drifted: list[DriftedResource] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # "CacheStack: reason" when detection failed in part

    def document(self) -> dict[str, Any]:
        return {
            "stackName": self.stack,
            "checked": self.checked,
            "drifted": [_drifted(d) for d in self.drifted],
            "incomplete": self.incomplete,
            "inSync": not self.drifted,
        }


def _drifted(resource: DriftedResource) -> dict[str, Any]:
    fields = documents.fields(resource)
    return {"stackPath": fields.pop("stack"), **fields}


UNSUPPORTED = {"InvalidAction", "NotImplemented", "501", "500"}  # what an endpoint without the call answers


def start(cfn: CloudFormationClient, stacks: dict[str, str]) -> dict[str, str]:
    """Start a detection on each stack (path -> physical ID); returns path -> detection ID."""
    try:
        return {
            path: cfn.detect_stack_drift(StackName=physical)["StackDriftDetectionId"]
            for path, physical in stacks.items()
        }
    except (ResponseParserError, bex.ClientError) as exc:
        if isinstance(exc, bex.ClientError) and aws.error_code(exc) not in UNSUPPORTED:
            raise
        # moto answers DetectStackDrift with an error page: say so, rather than a parser error with exit 1
        # ("drifted")
        raise AwsAccessError(
            "this endpoint does not implement drift detection (the local emulator does not): run drift against AWS"
        ) from None


def wait(
    cfn: CloudFormationClient, detections: dict[str, str], sleep: Callable[[float], None], timeout: float = TIMEOUT
) -> dict[str, DescribeStackDriftDetectionStatusOutputTypeDef]:
    """Poll every detection until none is in progress; path -> final status description."""
    done: dict[str, DescribeStackDriftDetectionStatusOutputTypeDef] = {}
    waited = 0.0
    for delay in polling.backoff(cap=10.0):
        for path, detection in detections.items():
            if path not in done:
                described = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
                if described["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                    done[path] = described
        if len(done) == len(detections):
            return done
        if waited >= timeout:
            raise DeploymentFailed(
                f"drift detection still running after {waited:.0f} s on "
                f"{', '.join(sorted(set(detections) - set(done)))}: retry later"
            )
        sleep(delay)
        waited += delay
    return done  # unreachable


def drifted_resources(cfn: CloudFormationClient, path: str, physical: str) -> list[DriftedResource]:
    """Resources of one stack that drifted, with their property differences (all pages)."""
    found = []
    for page in _drift_pages(cfn, physical):
        for d in page.get("StackResourceDrifts", []):
            diffs = [
                Difference(
                    p["PropertyPath"], p.get("ExpectedValue", ""), p.get("ActualValue", ""), p.get("DifferenceType", "")
                )
                for p in d.get("PropertyDifferences", [])
            ]
            found.append(
                DriftedResource(path, d["LogicalResourceId"], d["ResourceType"], d["StackResourceDriftStatus"], diffs)
            )
    return found


def _drift_pages(cfn: CloudFormationClient, physical: str) -> Iterator[DescribeStackResourceDriftsOutputTypeDef]:
    """DescribeStackResourceDrifts page by page (boto3 has no paginator for it)."""
    kwargs: DescribeStackResourceDriftsInputTypeDef = {
        "StackName": physical,
        "StackResourceDriftStatusFilters": DRIFTED,
    }
    while True:
        page = cfn.describe_stack_resource_drifts(**kwargs)
        yield page
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def drift(
    request: DriftRequest, clients: aws.Clients, reporter: Reporter, sleep: Callable[[float], None] = time.sleep
) -> DriftReport:
    """Detect, wait, list; the report is shown and returned (``drifted`` empty when in sync)."""
    cfn, stack = clients.cloudformation, request.stack
    if st.describe(cfn, stack) is None:
        raise StackStateError(f"stack {stack} does not exist: nothing to compare")
    stacks = {"(root)": stack, **{n.path: n.physical_id for n in st.nested_stacks(cfn, stack)}}
    reporter.step(f"Detecting drift on {stack} and {len(stacks) - 1} nested stack(s)")
    results = wait(cfn, start(cfn, stacks), sleep)
    report = DriftReport(stack, list(stacks))
    for path, physical in stacks.items():
        result = results[path]
        if result["DetectionStatus"] == "DETECTION_FAILED":
            report.incomplete.append(f"{path}: {result.get('DetectionStatusReason', 'detection failed')}")
        if result.get("StackDriftStatus") == "DRIFTED" or result["DetectionStatus"] == "DETECTION_FAILED":
            report.drifted += drifted_resources(cfn, path, physical)
    reporter.show(report)
    reporter.result(report.document())
    return report
