"""``deploy.py rotate-redis-auth``: a new Redis AUTH token, with the backend connected throughout.

The token lives in two places: the replication group (which accepts it) and the Secrets Manager secret
``RedisAuthSecret`` (which the template resolves as AWSCURRENT for the group's ``AuthToken``, and which ECS
injects as REDIS_AUTH_TOKEN when a task *starts*). Order, so that every task always holds a valid token:

1. the new token is stored as AWSPENDING (AWSCURRENT, what tasks read, is still the old one);
2. ModifyReplicationGroup ROTATE: Redis accepts the old *and* the new token; wait until available;
3. AWSCURRENT moves to the new version (tasks started from now on read the new token, which works);
4. the services that read the secret get a new deployment; wait until it has completed (old tasks
   drain while still holding the old, still valid, token);
5. ModifyReplicationGroup SET: only the new token works; wait until available; AWSPENDING is removed.

AWSPENDING marks an unfinished rotation: a rerun reuses its token (never a third one) and skips the
steps already done (once AWSCURRENT holds it, ROTATE and the promotion are done). The template's
reference is unversioned (AWSCURRENT), so the next deploy keeps the rotated token:
``templates_src.cache.AUTH_TOKEN_REFERENCE``.
"""

from __future__ import annotations

import secrets
import shlex
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cylink_deploy import aws, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import Aborted, DeployError, StackStateError
from cylink_deploy.jobs.model import StackRequest, missing_stack
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs.views import Waiting
from cylink_deploy.ops import rollout
from templates_src.cache import AUTH_TOKEN_REFERENCE  # noqa: F401  (the template's side of the agreement: AWSCURRENT)
from templates_src.common import SERVICES

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elasticache import ElastiCacheClient
    from mypy_boto3_elasticache.type_defs import ReplicationGroupTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient

Sleep = Callable[[float], None]
SECRET_ID, GROUP_ID = "RedisAuthSecret", "RedisReplicationGroup"  # logical IDs in the cache stack
SECRET_TYPE, GROUP_TYPE = "AWS::SecretsManager::Secret", "AWS::ElastiCache::ReplicationGroup"
SECRET_PARAM = "RedisAuthSecretArn"  # services that take this as an ECS secret must restart on the new token
TOKEN_LENGTH = 64  # as the template generates it
TOKEN_ALPHABET = string.ascii_letters + string.digits  # AUTH forbids @ " / and spaces; keep it to the template's
GROUP_TIMEOUT = 3600.0  # seconds: an AUTH change is applied node by node
ROLLOUT_TIMEOUT = 1800.0


class RotationIncomplete(DeployError):
    """The rotation stopped part-way (exit 1): the message says what is valid now and how to finish."""


RotateRequest = StackRequest


@dataclass(frozen=True)
class Target:
    """What the rotation touches, all found from the stack."""

    stack: str
    group_id: str
    secret_arn: str
    cluster: str
    services: dict[str, str]  # service (backend) -> ECS service name, for those that read the token


@dataclass
class Result:
    stack: str
    group_id: str
    secret_arn: str
    version_id: str  # the secret version that holds the new token (never the token itself)
    services: list[str]
    resumed: bool
    steps: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "status": "ROTATED",
            "stackName": self.stack,
            "replicationGroupId": self.group_id,
            "secretArn": self.secret_arn,
            "versionId": self.version_id,
            "redeployed": self.services,
            "resumed": self.resumed,
            "steps": self.steps,
        }


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def find_target(clients: aws.Clients, request: RotateRequest) -> Target:
    """The stack's replication group, secret and the services that read it; refused unless all are there."""
    from cylink_deploy.ops.status import resources_of

    cfn, stack = clients.cloudformation, request.stack
    described = st.describe(cfn, stack)
    if described is None:
        raise StackStateError(missing_stack(stack, request.env, request.stack_name, clients.region))
    if described["StackStatus"] not in st.UPDATABLE:
        raise StackStateError(
            f"stack {stack} is {described['StackStatus']}: rotate only when it is settled "
            f"({shlex.join(['python', 'deploy.py', 'status', '--env', request.env])})"
        )
    found = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources_of(cfn, stack, {SECRET_TYPE, GROUP_TYPE})
    }
    for logical_id in (GROUP_ID, SECRET_ID):
        if logical_id not in found:
            raise StackStateError(f"stack {stack} has no {logical_id}: deploy the current templates first")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    readers = {svc.name for svc in SERVICES if any(param == SECRET_PARAM for _, param in svc.secrets)}
    services = {k: v for k, v in rollout.service_names(outputs).items() if k in readers}
    return Target(stack, found[GROUP_ID], found[SECRET_ID], outputs.get("ClusterName", ""), services)


def group_state(elasticache: ElastiCacheClient, group_id: str) -> ReplicationGroupTypeDef:
    try:
        return elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    except elasticache.exceptions.ReplicationGroupNotFoundFault:
        raise StackStateError(
            f"Redis replication group {group_id} does not exist (deleted by hand?): redeploy the stack"
        ) from None


def stages(secretsmanager: SecretsManagerClient, secret_arn: str) -> dict[str, str]:
    """Stage -> version ID of the secret (refused when the secret is gone or scheduled for deletion)."""
    try:
        described = secretsmanager.describe_secret(SecretId=secret_arn)
    except secretsmanager.exceptions.ResourceNotFoundException:
        raise StackStateError(f"secret {secret_arn} does not exist (deleted by hand?): redeploy the stack") from None
    if described.get("DeletedDate"):
        raise StackStateError(
            f"secret {secret_arn} is scheduled for deletion: restore it (aws secretsmanager restore-secret) first"
        )
    return {stage: version for version, names in described.get("VersionIdsToStages", {}).items() for stage in names}


def preflight(clients: aws.Clients, target: Target) -> dict[str, str]:
    """Refuse a group that is not available or has no AUTH, and services in the middle of a deployment."""
    group = group_state(clients.elasticache, target.group_id)
    if group.get("Status") != "available":
        raise StackStateError(f"Redis {target.group_id} is {group.get('Status')}: wait until it is available and retry")
    if not group.get("AuthTokenEnabled") or not group.get("TransitEncryptionEnabled"):
        raise StackStateError(
            f"Redis {target.group_id} has no AUTH token with in-transit encryption: there is nothing to rotate"
        )
    found = stages(clients.secretsmanager, target.secret_arn)
    if "AWSCURRENT" not in found:
        raise StackStateError(f"secret {target.secret_arn} has no AWSCURRENT version: restore it before rotating")
    if target.services:
        states = rollout.describe_services(clients.ecs, target.cluster, target.services)
        busy = [s for s in states if not s.healthy]
        if len(states) < len(target.services):
            raise StackStateError(
                f"services {', '.join(sorted(target.services.values()))} not all found in {target.cluster}: redeploy "
                "the stack"
            )
        if busy:
            raise StackStateError(
                f"{busy[0].name} is not steady ({busy[0].line()}): wait for its deployment to finish and retry"
            )
    return found


def wait_available(elasticache: ElastiCacheClient, group_id: str, sleep: Sleep, timeout: float | None = None) -> bool:
    """True once the group is ``available`` again after a modification; False on timeout."""
    timeout = GROUP_TIMEOUT if timeout is None else timeout
    waited = 0.0
    for delay in polling.backoff(5.0, 1.5, 30.0):
        sleep(delay)
        waited += delay
        if group_state(elasticache, group_id).get("Status") == "available":
            return True
        if waited >= timeout:
            return False
    return False  # pragma: no cover  (backoff never ends)


def wait_services(
    ecs: ECSClient, cluster: str, names: dict[str, str], reporter: Reporter, sleep: Sleep, timeout: float | None = None
) -> str | None:
    """None once every service's new deployment has completed; else why not (failed, timed out)."""
    timeout = ROLLOUT_TIMEOUT if timeout is None else timeout
    waited, last = 0.0, dict[str, str]()
    reporter.show(Waiting(f"Waiting for the new deployment of {', '.join(sorted(names))}"))
    for delay in polling.backoff(5.0, 1.5, 15.0):
        sleep(delay)
        waited += delay
        states = rollout.describe_services(ecs, cluster, names)
        for s in states:
            if last.get(s.name) != s.line():
                reporter.show(s)
                last[s.name] = s.line()
        failed = [s for s in states if s.rollout == "FAILED"]
        if failed:
            return f"{failed[0].name} deployment FAILED ({failed[0].rollout_reason or 'see deploy.py logs'})"
        if len(states) == len(names) and all(s.healthy and s.rollout in ("COMPLETED", "") for s in states):
            return None
        if waited >= timeout:
            return f"the new deployment did not complete within {int(timeout // 60)} minutes"
    return None  # pragma: no cover


def again_command(request: RotateRequest) -> str:
    """The command that resumes this rotation (printed when a step stops it), as shell words."""
    stack = ["--stack-name", request.stack_name] if request.stack_name else []
    return shlex.join(["python", "deploy.py", "rotate-redis-auth", "--env", request.env, *stack])


def rotate_redis_auth(
    request: RotateRequest, clients: aws.Clients, reporter: Reporter, sleep: Sleep = time.sleep
) -> Result:
    """Rotate the AUTH token as the module docstring describes; refuses before any change unless confirmed."""
    aws.account_id(clients.sts)
    target = find_target(clients, request)
    found = preflight(clients, target)
    pending = found.get("AWSPENDING")
    again = again_command(request)
    services = sorted(target.services.values())
    reporter.step(
        f"Rotating the AUTH token of Redis {target.group_id} (stack {target.stack}); then redeploying: "
        f"{', '.join(services) or 'no service'}"
    )
    if pending is not None:
        reporter.warn(
            f"an earlier rotation did not finish (version {pending} is AWSPENDING): finishing it with that token"
        )
    if not reporter.confirm("Rotate the Redis AUTH token now?"):
        raise Aborted("declined: nothing was changed")
    reporter.sent("rotation")  # from here an interruption leaves a rotation part-way (the next run finishes it)
    result = Result(target.stack, target.group_id, target.secret_arn, pending or "", services, pending is not None)
    token, pending_id = _pending_token(clients, target, pending, result, reporter)
    if pending != found["AWSCURRENT"]:  # not yet promoted by an earlier run
        _rotate(clients, target, token, pending_id, found["AWSCURRENT"], again, result, reporter, sleep)
    if target.services:
        _redeploy(clients, target, services, request.env, again, result, reporter, sleep)
    _set(clients, target, token, pending_id, again, result, reporter, sleep)
    reporter.result(result.document())
    return result


def _pending_token(
    clients: aws.Clients, target: Target, pending: str | None, result: Result, reporter: Reporter
) -> tuple[str, str]:
    """The token to rotate to and its version: a new one stored as AWSPENDING, or the one an earlier run left."""
    sm = clients.secretsmanager
    if pending is not None:
        return sm.get_secret_value(SecretId=target.secret_arn, VersionStage="AWSPENDING")["SecretString"], pending
    token = new_token()
    version = sm.put_secret_value(
        SecretId=target.secret_arn,
        ClientRequestToken=str(uuid.uuid4()),
        SecretString=token,
        VersionStages=["AWSPENDING"],
    )["VersionId"]
    result.version_id = version
    result.steps.append("stored the new token as AWSPENDING")
    reporter.step(f"Stored the new token in the secret as AWSPENDING (version {version}); tasks still read the old one")
    return token, version


def _rotate(
    clients: aws.Clients,
    target: Target,
    token: str,
    pending: str,
    current: str,
    again: str,
    result: Result,
    reporter: Reporter,
    sleep: Sleep,
) -> None:
    """ROTATE (Redis accepts the old and the new token), then make the new token the secret's AWSCURRENT."""
    cache, sm = clients.elasticache, clients.secretsmanager
    cache.modify_replication_group(
        ReplicationGroupId=target.group_id, AuthToken=token, AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True
    )
    reporter.step(f"Redis {target.group_id}: ROTATE (old and new token both accepted); waiting until available")
    if not wait_available(cache, target.group_id, sleep):
        raise RotationIncomplete(
            f"Redis {target.group_id} did not become available after ROTATE: the old token still works (the new "
            "one may too), the secret still gives tasks the old token (the new one is AWSPENDING); once the group "
            f"is available, run '{again}' to finish with the same token"
        )
    result.steps.append("ROTATE: old and new token accepted")
    sm.update_secret_version_stage(
        SecretId=target.secret_arn, VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=current
    )
    result.steps.append("AWSCURRENT is the new token")
    reporter.step(
        "The secret's AWSCURRENT is now the new token (the old one is AWSPREVIOUS): tasks started from now on read it"
    )


def _redeploy(
    clients: aws.Clients,
    target: Target,
    services: list[str],
    env: str,
    again: str,
    result: Result,
    reporter: Reporter,
    sleep: Sleep,
) -> None:
    """A new deployment of every service that reads the token, waited out: tasks start with the new one."""
    for name in services:
        clients.ecs.update_service(cluster=target.cluster, service=name, forceNewDeployment=True)
    reporter.step(
        f"New deployment of {', '.join(services)} (tasks start with the new token); waiting until it has completed"
    )
    problem = wait_services(clients.ecs, target.cluster, target.services, reporter, sleep)
    if problem:
        raise RotationIncomplete(
            f"{problem}: Redis still accepts the old and the new token, and the secret gives the new one, so "
            f"nothing is disconnected; fix the service (python deploy.py status/logs --env {shlex.quote(env)}), "
            "then run "
            f"'{again}' to redeploy and finish (SET)"
        )
    result.steps.append("services redeployed with the new token")


def _set(
    clients: aws.Clients,
    target: Target,
    token: str,
    pending: str,
    again: str,
    result: Result,
    reporter: Reporter,
    sleep: Sleep,
) -> None:
    """SET: only the new token is accepted; the AWSPENDING label goes."""
    cache = clients.elasticache
    cache.modify_replication_group(
        ReplicationGroupId=target.group_id, AuthToken=token, AuthTokenUpdateStrategy="SET", ApplyImmediately=True
    )
    reporter.step(f"Redis {target.group_id}: SET (only the new token is accepted); waiting until available")
    if not wait_available(cache, target.group_id, sleep):
        raise RotationIncomplete(
            f"Redis {target.group_id} did not become available after SET: every task already uses the new token; "
            f"once the group is available, run '{again}' to confirm the SET and finish"
        )
    clients.secretsmanager.update_secret_version_stage(
        SecretId=target.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=pending
    )
    result.steps.append("SET: only the new token accepted; AWSPENDING removed")
    reporter.step(f"Done: Redis {target.group_id} accepts only the new token (secret version {pending})")
