"""How people see the stack jobs' views: the change set tables, refusals, stack events, the root cause
of a failure, a release ECS rolled back, what deletion keeps, the review fields and the outputs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cylink_deploy.cfn import changes as ch
from cylink_deploy.jobs.views import (
    ChangeSets,
    Following,
    NewZone,
    Outputs,
    Refused,
    ReleaseRolledBack,
    RetainedResources,
    Review,
    RootCause,
    Settled,
    StackEvent,
    Waiting,
)
from cylink_deploy.output.human import BOLD, RED, HumanReporter, formats

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef


@formats(ChangeSets)
def change_sets(out: HumanReporter, view: ChangeSets) -> None:
    """One table per stack; replacements and removals marked with '!' (and red on a terminal)."""
    total = 0
    for node in view.nodes:
        rows = ch.rows(node)
        params = ch.parameter_changes(node)
        total += len(rows)
        out.line()
        out.line(out.c(BOLD, f"{node.path or 'root stack'}: {len(rows)} change(s)"))
        if params:
            out.line("  parameters: " + "; ".join(f"{k}: {o} -> {n}" for k, o, n in params))
        if rows:
            body = [
                ["!" if r.destructive else "", r.action, r.logical_id, r.resource_type, r.replacement or "-", r.details]
                for r in rows
            ]
            out.table(
                ["", "Action", "Logical ID", "Type", "Replacement", "Changed"], body, [r.destructive for r in rows]
            )
    destructive = [r for r in ch.all_rows(view.nodes) if r.destructive]
    out.line()
    if destructive:
        out.warn(
            f"{len(destructive)} replacement(s)/removal(s): "
            + ", ".join(f"{r.stack}/{r.logical_id}" for r in destructive)
        )
    out.line(f"{total} change(s) in {len(view.nodes)} change set(s)")


@formats(Refused)
def refused(out: HumanReporter, view: Refused) -> None:
    """Stateful replacements/removals deploy.py refuses to execute."""
    for r in view.rows:
        what = "removed" if r.action == "Remove" else f"replaced (Replacement: {r.replacement})"
        out.line(out.c(RED, f"REFUSED  {r.path} ({r.resource_type}) would be {what}: its data would be lost"))
        out.line(f"         allow exactly this one with --allow-replacement {r.path}")


# A nested stack's own events that its parent's event for it says already, under the same logical path (the
# parent reports the nested stack as a resource: CREATE_IN_PROGRESS, CREATE_COMPLETE, ...). Its own failures and
# rollbacks are not in the parent's events, so they stay.
SAID_BY_THE_PARENT = re.compile(r"(CREATE|UPDATE|DELETE)_(IN_PROGRESS|COMPLETE)")


@formats(StackEvent)
def stack_event(out: HumanReporter, view: StackEvent) -> None:
    out.in_flight = out.in_flight or "stack operation"
    event = view.event
    status = event.get("ResourceStatus", "")
    nested_own = event["LogicalResourceId"] == event["StackName"] and "/" in view.stack_path
    if nested_own and SAID_BY_THE_PARENT.fullmatch(status):
        return
    elapsed = max(int((event["Timestamp"] - view.started).total_seconds()), 0) if event.get("Timestamp") else 0
    text = f"[{view.progress}] {elapsed // 60}:{elapsed % 60:02d} {event_path(event, view.stack_path)} {status}"
    if event.get("ResourceStatusReason"):  # as the console's Status reason column ("Resource creation Initiated")
        text += f": {event['ResourceStatusReason']}"
    out.line(out.c(RED, text) if status.endswith("FAILED") else text)


def event_path(event: StackEventTypeDef, stack_path: str) -> str:
    """Where the event happened, logically: ``root/KeysStack/DataKey`` for a resource, ``root/KeysStack`` for
    a stack's own event (its logical ID is its physical name); the physical stack name if no path is known."""
    stack, logical = stack_path or event.get("StackName", ""), event.get("LogicalResourceId", "")
    return stack if logical == event.get("StackName") and stack_path else f"{stack}/{logical}"


def nothing_more(out: HumanReporter, view: object) -> None:
    """The plain log: the events are the lines, and a wait is the silence before the next one."""


for _quiet in (Following, Settled, Waiting):
    formats(_quiet)(nothing_more)


@formats(NewZone)
def new_zone(out: HumanReporter, view: NewZone) -> None:
    """Once, while the certificate waits: without the delegation it never validates (ACM gives up after 72 h)."""
    d = view.delegation
    out.line()
    out.line(out.c(BOLD, f"Created hosted zone {d.domain} ({d.zone_id}): set these name servers at your registrar now"))
    for server in d.name_servers:
        out.line(f"  {server}")
    out.line(
        f"  The certificate validates only once public DNS delegates {d.domain} to them (check: dig NS {d.domain} "
        "+short); the deploy waits for it, at most 72 hours. If it fails, the zone is deleted with the rollback."
    )


@formats(RootCause)
def root_cause(out: HumanReporter, view: RootCause) -> None:
    event = view.event
    out.line()
    out.line(
        out.c(RED, "Root cause: ") + f"{event_path(event, view.stack_path)} ({event.get('ResourceType')}) "
        f"{event.get('ResourceStatus')}"
    )
    out.line(f"  {event.get('ResourceStatusReason') or 'no reason given'}")


@formats(RetainedResources)
def retained(out: HumanReporter, view: RetainedResources) -> None:
    if view.kept:
        out.line("These are kept (DeletionPolicy), and must be removed by hand if really unwanted:")
        out.table(
            ["Stack", "Logical ID", "Type", "Policy", "Physical ID (what stays)"],
            [[k.stack, k.logical_id, k.resource_type, k.policy, k.physical_id or "-"] for k in view.kept],
        )


@formats(Review)
def review(out: HumanReporter, view: Review) -> None:
    """Where to review a change set and how to execute it."""
    out.line()
    width = max(len(k) for k in view.fields) + 1
    for key, value in view.fields.items():
        out.line(f"{key + ':':<{width}} {value}")


@formats(ReleaseRolledBack)
def release_rolled_back(out: HumanReporter, view: ReleaseRolledBack) -> None:
    """A release ECS refused (deployment alarm or circuit breaker) and rolled back."""
    rollback = view.rollback
    out.line()
    out.line(
        out.c(RED, "Release rolled back: ")
        + f"ECS failed the new deployment of {rollback.stack}/{rollback.logical_id} and returned the service to "
        "its last completed deployment; the stack rolled back to the previous release."
    )
    for message in view.ecs_events:
        out.line(f"  ECS: {message}")
    out.line(
        "  Look at the alarms in ALARM on the dashboard (DashboardUrl) and the service's log group before "
        "releasing again."
    )


@formats(Outputs)
def outputs(out: HumanReporter, view: Outputs) -> None:
    out.line()
    out.line(out.c(BOLD, "Outputs"))
    out.table(["Key", "Value"], [[k, v] for k, v in sorted(view.outputs.items())])
