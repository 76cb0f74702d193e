"""Record the AWS calls deploy.py really makes, and ask an IAM policy whether it allows each of them.

``record(monkeypatch)`` wraps ``aws.make_clients`` so every client it creates (any command, any run)
reports (service, operation, params) through botocore's ``provide-client-params`` event, the hook that
sees the caller's parameters before serialisation; it fires for paginators, waiters and stubbed clients
alike. ``requests(call)`` turns one call into what IAM evaluates: the action (the service's IAM prefix +
the operation, except the few listed in ``RENAMED``), the resource ARN (``*`` where the action has no
resource-level permission), the condition context, and the permissions the service checks on the caller's
behalf (``IMPLIED``: a change set passes its role; Secrets Manager uses the KMS key). A new command is
covered by running it under ``record`` and adding its operations here when their resource is not a plain
name: an unmapped operation is an error, never a silent ``*``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cylink_deploy import aws

from . import iameval

PREFIX = {"elbv2": "elasticloadbalancing"}  # botocore service name -> IAM action prefix where they differ
# operation -> IAM action where the name differs (S3's list/head operations are authorised as these)
RENAMED = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
}
# IAM actions without resource-level permissions (the Service Authorization Reference lists no resource type)
NO_RESOURCE = {
    "sts:GetCallerIdentity",
    "cloudformation:ListStacks",
    "cloudformation:DescribeStackDriftDetectionStatus",
    "cloudformation:ValidateTemplate",
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "cloudwatch:DescribeAlarms",
    "logs:DescribeLogGroups",
}


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name (cloudformation, s3, elbv2, ...)
    operation: str  # API operation (CreateChangeSet)
    params: dict[str, Any]
    region: str

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("TemplateBody", "Body", "SecretString", "AuthToken")}
        return f"{self.service}.{self.operation}({shown})"


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict[str, str]
    call: Call


class Recorder:
    """Collects every call made through the clients it is attached to, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def attach(self, clients: aws.Clients) -> aws.Clients:
        for value in vars(clients).values():
            if hasattr(value, "meta") and hasattr(value.meta, "events"):
                value.meta.events.register("provide-client-params.*.*", self._hook(value.meta.region_name))
        return clients

    def _hook(self, region: str) -> Callable[..., None]:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append(Call(model.service_model.service_name, model.name, copy.deepcopy(params), region))

        return record

    def operations(self) -> list[str]:
        return [f"{c.service}.{c.operation}" for c in self.calls]


def record(monkeypatch: Any) -> Recorder:
    """Attach a recorder to every client set ``aws.make_clients`` builds from now on (until the test ends)."""
    recorder = Recorder()
    real = aws.make_clients
    monkeypatch.setattr(aws, "make_clients", lambda *a, **k: recorder.attach(real(*a, **k)))
    return recorder


# --- calls -> IAM requests ------------------------------------------------------------------------


def _stack_arn(region: str, account: str, stack: str) -> str:
    return (
        stack
        if stack.startswith("arn:")
        else f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/00000000-0000-0000-0000-000000000000"
    )


def _resources(action: str, p: dict[str, Any], region: str, account: str) -> list[str]:
    service = action.split(":")[0]
    if action in NO_RESOURCE:
        return ["*"]
    if service == "cloudformation":
        change_set = p.get("ChangeSetName", "")
        if change_set.startswith("arn:"):
            return [change_set]
        if change_set:  # a change set named within its stack
            return [
                f"arn:aws:cloudformation:{region}:{account}:changeSet/{change_set}/00000000-0000-0000-0000-000000000000"
            ]
        return [_stack_arn(region, account, p["StackName"])]
    if service == "s3":
        return [f"arn:aws:s3:::{p['Bucket']}" + (f"/{p['Key']}" if "Key" in p else "")]
    if service == "iam":
        return [f"arn:aws:iam::{account}:role/{p['RoleName']}"]
    if service == "ecr":
        names = p.get("repositoryNames") or [p["repositoryName"]]
        return [f"arn:aws:ecr:{region}:{account}:repository/{name}" for name in names]
    if service == "logs":
        group = p.get("logGroupName") or p.get("logGroupNamePrefix")  # DescribeLogGroups: the prefix names the group
        return [f"arn:aws:logs:{region}:{account}:log-group:{group}:*"]
    if service == "elasticache":
        return [f"arn:aws:elasticache:{region}:{account}:replicationgroup:{p['ReplicationGroupId']}"]
    if service == "secretsmanager":
        secret = p["SecretId"]
        return [
            secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf"
        ]
    if service == "ecs":
        cluster = p["cluster"].rsplit("/", 1)[-1]
        if action == "ecs:DescribeServices":
            return [f"arn:aws:ecs:{region}:{account}:service/{cluster}/{s.rsplit('/', 1)[-1]}" for s in p["services"]]
        if action == "ecs:UpdateService":
            return [f"arn:aws:ecs:{region}:{account}:service/{cluster}/{p['service'].rsplit('/', 1)[-1]}"]
        if action == "ecs:DescribeTasks":
            return [
                t if t.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:task/{cluster}/{t}" for t in p["tasks"]
            ]
    raise KeyError(f"{action}: no resource mapping (add one to tests/awscalls.py)")


def _context(action: str, p: dict[str, Any], region: str, account: str) -> dict[str, str]:
    if action.startswith("s3:"):  # the bucket's owner: the emulator has one account, this one
        return {"s3:ResourceAccount": account}
    if action == "cloudformation:CreateChangeSet":  # the condition keys CloudFormation sets from the request
        keys = {"RoleARN": "cloudformation:RoleArn", "TemplateURL": "cloudformation:TemplateUrl"}
        return {key: p[param] for param, key in keys.items() if param in p}
    if action == "ecs:ListTasks":
        return {"ecs:cluster": f"arn:aws:ecs:{region}:{account}:cluster/{p['cluster'].rsplit('/', 1)[-1]}"}
    return {}


def _implied(call: Call, account: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Permissions a service checks on the caller's behalf during the call."""
    if call.service == "cloudformation" and call.params.get("RoleARN"):
        yield "iam:PassRole", call.params["RoleARN"], {"iam:PassedToService": "cloudformation.amazonaws.com"}
    if call.service == "secretsmanager" and call.operation in ("PutSecretValue", "GetSecretValue"):
        key = f"arn:aws:kms:{call.region}:{account}:key/11111111-2222-3333-4444-555555555555"
        via = {"kms:ViaService": f"secretsmanager.{call.region}.amazonaws.com"}
        yield "kms:Decrypt", key, via
        if call.operation == "PutSecretValue":
            yield "kms:GenerateDataKey", key, via


def requests(call: Call, account: str) -> list[Request]:
    """What IAM evaluates for one call."""
    prefix = PREFIX.get(call.service, call.service)
    action = f"{prefix}:{call.operation}"
    action = RENAMED.get(action, action)
    out = [
        Request(action, r, _context(action, call.params, call.region, account), call)
        for r in _resources(action, call.params, call.region, account)
    ]
    out += [Request(a, r, c, call) for a, r, c in _implied(call, account)]
    return out


def denied(policy: dict[str, Any] | str, calls: list[Call], account: str) -> list[str]:
    """Each call (once per distinct action and resource) the policy does not allow, named."""
    out, seen = [], set()
    for call in calls:
        for req in requests(call, account):
            key = (req.action, req.resource, tuple(sorted(req.context.items())))
            if key in seen:
                continue
            seen.add(key)
            if not iameval.allowed(policy, req.action, req.resource, req.context):
                out.append(f"{req.action} on {req.resource} (from {call})")
    return out
