"""The delete job: show what deletion keeps, refuse while anything would stop the delete half-way
(termination protection, the ALB's deletion protection, ...: cfn/deletion.py), delete as the role that
created the stack, following every stack's events as a deploy does (the live view on a terminal)."""

from __future__ import annotations

import shlex
import time

from cylink_deploy import aws, polling
from cylink_deploy.cfn import deletion
from cylink_deploy.cfn import events as stack_events
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.events import ROOT
from cylink_deploy.errors import Aborted, DeploymentFailed, StackStateError
from cylink_deploy.jobs.model import DeleteRequest, Result, Status
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs import deploy as follow
from cylink_deploy.jobs.views import RetainedResources, RootCause


def _refuse_blockers(request: DeleteRequest, clients: aws.Clients, termination_protection: bool) -> None:
    """Every protection and obstacle, checked before anything is deleted, each with what lifts it: a delete
    that stops half-way leaves the environment without services and DNS yet not gone (DELETE_FAILED)."""
    stack = request.stack
    found: list[deletion.Blocker] = []
    # a protected stack cannot be deleted: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
    if termination_protection:
        lift = ["aws", "cloudformation", "update-termination-protection", "--no-enable-termination-protection"]
        lift += ["--stack-name", stack, "--region", clients.region]
        found.append(
            deletion.Blocker(f"{stack} has termination protection", f"lift it deliberately with {shlex.join(lift)}")
        )
    target = ["--stack-name", request.stack_name] if request.stack_name else []

    def deploy(setting: str) -> str:
        return shlex.join(["python", "deploy.py", "--env", request.env, *target, "--parameter", setting])

    found += deletion.blockers(clients, stack, deploy)
    if found:
        raise StackStateError(
            f"{stack} cannot be deleted in one go, nothing was deleted: " + "; ".join(str(b) for b in found)
        )


def delete(
    request: DeleteRequest, clients: aws.Clients, reporter: Reporter, sleep: polling.Sleep = time.sleep
) -> Result:
    """Delete the stack after showing what deletion keeps; refuses, naming what lifts each, while anything
    would stop the delete half-way."""
    cfn, stack = clients.cloudformation, request.stack
    aws.account_id(clients.sts)
    status = st.wait_settled(cfn, stack, sleep)
    described = st.describe(cfn, stack) if status else None
    if described is None:
        reporter.step(f"Stack {stack} does not exist: nothing to delete")
        result = Result(Status.NOTHING_TO_DELETE, stack)
        reporter.result(result.document())
        return result
    _refuse_blockers(request, clients, bool(described.get("EnableTerminationProtection")))
    kept = st.retained_resources(cfn, stack)
    reporter.step(f"Deleting {stack} ({status}) and all its nested stacks")
    reporter.show(RetainedResources(kept))
    if not reporter.confirm(f"Delete stack {stack}?"):
        raise Aborted("nothing was changed (answered no)")
    operation = follow.before_sending(cfn, stack, described["StackId"], len(st.resource_summaries(cfn, stack)))
    reporter.sent("DeleteStack")
    st.start_delete(cfn, operation.stack_id, described.get("RoleARN"))  # delete as the role that created it
    final = follow.follow_operation(cfn, operation, {ROOT: operation.progress.total}, reporter, sleep)
    if final != "DELETE_COMPLETE":
        cause = stack_events.root_cause(operation.progress.events)
        if cause:
            reporter.show(RootCause(cause, operation.progress.stack_path(cause)))
        raise DeploymentFailed(f"delete of {stack} ended {final}: see its events in the console")
    reporter.step(f"{stack} deleted; {len(kept)} retained resource(s) remain")
    result = Result(Status.DELETED, stack, retained=kept)
    reporter.result(result.document())
    return result
