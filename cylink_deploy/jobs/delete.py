"""The delete job: show what deletion keeps, refuse while termination protection is on, delete as the
role that created the stack."""

from __future__ import annotations

import shlex
import time

from cylink_deploy import aws, polling
from cylink_deploy.cfn import stacks as st
from cylink_deploy.errors import Aborted, DeploymentFailed, StackStateError
from cylink_deploy.jobs.model import DeleteRequest, Result, Status
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs.views import RetainedResources


def delete(
    request: DeleteRequest, clients: aws.Clients, reporter: Reporter, sleep: polling.Sleep = time.sleep
) -> Result:
    """Delete the stack after showing what deletion keeps; refuses while termination protection is on."""
    cfn, stack = clients.cloudformation, request.stack
    aws.account_id(clients.sts)
    status = st.wait_settled(cfn, stack, sleep)
    described = st.describe(cfn, stack) if status else None
    if described is None:
        reporter.step(f"Stack {stack} does not exist: nothing to delete")
        result = Result(Status.NOTHING_TO_DELETE, stack)
        reporter.result(result.document())
        return result
    if described.get("EnableTerminationProtection"):
        lift = ["aws", "cloudformation", "update-termination-protection", "--no-enable-termination-protection"]
        lift += ["--stack-name", stack, "--region", clients.region]
        raise StackStateError(f"{stack} has termination protection: lift it deliberately with {shlex.join(lift)}")
    kept = st.retained_resources(cfn, stack)
    reporter.step(f"Deleting {stack} ({status}) and all its nested stacks")
    reporter.show(RetainedResources(kept))
    if not reporter.confirm(f"Delete stack {stack}?"):
        raise Aborted("nothing was changed (answered no)")
    reporter.sent("DeleteStack")
    final = st.delete_and_wait(cfn, stack, sleep, described.get("RoleARN"))  # delete as the role that created it
    if final != "DELETE_COMPLETE":
        raise DeploymentFailed(f"delete of {stack} ended {final}: see its events in the console")
    reporter.step(f"{stack} deleted; {len(kept)} retained resource(s) remain")
    result = Result(Status.DELETED, stack, retained=kept)
    reporter.result(result.document())
    return result
