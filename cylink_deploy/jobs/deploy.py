"""The deploy tool's jobs as library calls: one function per job, a typed request in, a typed result out.

Nothing here parses flags or prints: progress and the one question a job may ask go through a
``Reporter``; failures are named errors (``errors.py``) that the CLI maps to exit codes. A Python caller
(CI, a notebook, a test) runs a deploy with ``deploy(DeployRequest(env="dev"), clients, reporter, project)``.

Order of a deploy: validate parameters -> build + cfn-lint (background) -> (first AWS call)
credentials -> stack state -> upload -> change set -> show -> ask -> execute -> follow -> outputs.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias

from botocore.exceptions import ClientError

from cylink_deploy import aws, polling
from cylink_deploy.cfn import artifacts, changesets, delegation, ecs_verdict, identity, images, leftovers, protection
from cylink_deploy.cfn import bootstrap as boot
from cylink_deploy.cfn import changes as ch
from cylink_deploy.cfn import events as stack_events
from cylink_deploy.cfn import stacks as st
from cylink_deploy.cfn.changes import ChangeSetNode
from cylink_deploy.errors import Aborted, BadInput, DeploymentFailed, NoChanges, StackStateError, UnsafeChange
from cylink_deploy.jobs.build import Prepared, prepare, require_lint_clean
from cylink_deploy.jobs.model import DeployRequest, ExecuteRequest, Result, Status
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs.views import (
    ChangeSets,
    NewZone,
    Outputs,
    Refused,
    Following,
    ReleaseRolledBack,
    Review,
    RootCause,
    Settled,
    StackEvent,
    Waiting,
)
from cylink_deploy.preflight import params, resolve
from cylink_deploy.project import Project
from templates_src import render

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import CreateChangeSetOutputTypeDef, StackEventTypeDef
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_route53 import Route53Client

# Reporter.sent marks before the stack changes (what Ctrl-C leaves behind: cli.AFTER_SENT)
UPLOAD = "templates upload"  # the artifacts bucket (created on first use) and the templates in it
CREATE = "CreateChangeSet"  # a change set may exist from here: it changes nothing until executed
CLOCK_SKEW = timedelta(seconds=2)  # events up to this much older than our clock still belong to the operation


def settle(cfn: CloudFormationClient, stack: str, reporter: Reporter, sleep: polling.Sleep) -> st.Plan:
    """Wait out other operations, clean up a failed first create (with consent), and plan."""
    status = st.wait_settled(
        cfn,
        stack,
        sleep,
        lambda s: reporter.detail(f"  {stack} is {s}: waiting for it to finish (not starting a second operation)"),
    )
    decision = st.plan(status, stack)
    if status == "REVIEW_IN_PROGRESS":
        pending = changesets.pending_change_sets(cfn, stack)
        if pending:  # somebody's review: never delete it from under them
            name = pending[0]
            delete = ["aws", "cloudformation", "delete-change-set", "--stack-name", stack, "--change-set-name", name]
            raise StackStateError(
                f"stack {stack} has change set {name} under review: execute it (python deploy.py execute --env "
                f"ENV {shlex.quote(name)}) or delete it ({shlex.join(delete)}), then deploy again"
            )
    if decision.clean_up_first:
        reporter.warn(
            f"stack {stack} is {status}: {decision.why_clean_up}; it holds no resources and must be deleted before "
            "creating again"
        )
        if not reporter.confirm(f"Delete the empty stack {stack}?"):
            raise Aborted("nothing was changed (answered no)")
        reporter.sent("DeleteStack")
        final = st.delete_and_wait(cfn, stack, sleep)
        if final != "DELETE_COMPLETE":
            raise DeploymentFailed(f"could not delete {stack} ({final}): see its events in the console")
    return decision


def _show(
    cfn: CloudFormationClient,
    change_set_id: str,
    allowed: frozenset[str],
    reporter: Reporter,
    known: frozenset[str] | None = None,
) -> tuple[list[ChangeSetNode], list[ch.Row], list[str]]:
    """Show the change set tree and which stateful replacements/removals it would be refused for
    (including what a removed nested stack would take with it); returns the nodes, the refused rows and the
    ``--allow-replacement`` names that are no resource at all (``known``: the templates' stateful resources)."""
    nodes = changesets.describe_tree(cfn, change_set_id)
    reporter.show(ChangeSets(nodes))
    inside = changesets.stateful_inside_removed(cfn, nodes)
    refused = ch.unsafe(nodes, allowed, inside)
    reporter.show(Refused(refused))
    unknown = ch.unknown_allowances(nodes, allowed, known, inside) if known is not None else []
    losing = sorted({r.path for r in [*ch.all_rows(nodes), *inside] if r.loses_data})
    for name in ch.unused_allowances(nodes, allowed, inside):
        if name not in unknown:
            reporter.warn(
                f"--allow-replacement {name}: this change set replaces or removes no stateful resource of that name "
                f"(it replaces or removes: {', '.join(losing) or 'none'})"
            )
    return nodes, refused, unknown


def stateful_paths(files: Mapping[str, str], parameters: Mapping[str, str], region: str) -> frozenset[str]:
    """Every stateful resource the templates deploy with these parameters, as Stack/LogicalId."""
    stacks = resolve.resolve(files, parameters, region=region)
    return frozenset(
        logical_id if path == resolve.ROOT else f"{path}/{logical_id}"
        for path, stack in stacks.items()
        for logical_id, body in stack.resources().items()
        if body.get("Type") in ch.STATEFUL_TYPES
    )


def guard_reviews(
    cfn: CloudFormationClient, stack: str, reporter: Reporter, executing: bool, supersede: bool, own: str = ""
) -> None:
    """Executing a change set makes every other change set of the stack obsolete: CloudFormation deletes them
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html).
    Someone's reviewed change set is never made obsolete silently: refused unless ``supersede``."""
    others = [name for name in changesets.pending_change_sets(cfn, stack) if name != own]
    if not others:
        return
    names = ", ".join(others)
    if not executing:
        reporter.warn(
            f"{stack} already has change set(s) under review: {names}; executing one makes the others obsolete"
        )
    elif not supersede:
        raise StackStateError(
            f"{stack} has change set(s) under review: {names}; executing would make them obsolete (CloudFormation "
            "deletes a stack's other change sets): execute or delete them first, or pass --supersede"
        )
    else:
        reporter.warn(f"--supersede: executing makes the change set(s) under review obsolete: {names}")


def _protect(cfn: CloudFormationClient, project: Project, env: str, stack: str, reporter: Reporter) -> None:
    """The environment's termination protection and stack policy (policies/protection.yaml)."""
    done = protection.apply(cfn, stack, protection.for_env(env, project.policies_dir / protection.CONFIG_FILE))
    if done:
        reporter.step(f"Protection for {env}: " + ", ".join(done))


Watch: TypeAlias = "Callable[[list[StackEventTypeDef]], None]"  # after every poll, with the events so far


def execute_and_follow(
    cfn: CloudFormationClient,
    stack: str,
    change_set_id: str,
    stack_id: str,
    total: int,
    reporter: Reporter,
    sleep: polling.Sleep,
    clock: Callable[[], datetime] = polling.now,
    watch: Watch | None = None,
    ecs: ECSClient | None = None,
    route53: Route53Client | None = None,
    nodes: list[ChangeSetNode] | None = None,
    created: Mapping[str, int] | None = None,
) -> None:
    """Execute and stream events of every stack; a failure names its root cause (and, for a release ECS
    rolled back, what ECS saw). ``watch`` sees the events after every poll (a release shows the ECS
    rollout beside them: ``rollout.RolloutWatch``); ``nodes`` (the change set tree) gives each stack's total,
    ``created`` the totals of nested stacks a create makes (no change set of their own: ``template_totals``)."""
    operation = before_sending(cfn, stack, stack_id, total, clock)
    reporter.sent("ExecuteChangeSet")
    changesets.execute_change_set(cfn, change_set_id)
    totals = {**(created or {}), stack_events.ROOT: total} | {_logical(n.path): len(ch.rows(n)) for n in nodes or []}
    zones: set[str] = set()

    def new_zone(event: StackEventTypeDef) -> None:
        zone = delegation.created_zone(event)
        if zone and route53 is not None and zone not in zones:  # once: while the certificate waits for it
            zones.add(zone)
            show_delegation(route53, zone, reporter)

    status = follow_operation(cfn, operation, totals, reporter, sleep, new_zone, watch)
    progress = operation.progress
    if status not in st.SUCCESS:
        cause = stack_events.root_cause(progress.events)
        if cause:
            reporter.show(RootCause(cause, operation.progress.stack_path(cause)))
        rollback = ecs_verdict.release_rollback(cause, status)
        if rollback:  # ECS itself refused the release (deployment alarm or circuit breaker): say what ECS saw
            said = ecs_verdict.ecs_failure_events(ecs, rollback.service_arn) if ecs is not None else []
            reporter.show(ReleaseRolledBack(rollback, tuple(said)))
        raise DeploymentFailed(
            f"stack {stack} ended {status}" + (f" (root cause: {cause.get('LogicalResourceId')})" if cause else "")
        )


@dataclass
class Operation:
    """A stack operation about to be sent: when, the events and nested stacks that predate it, its progress."""

    stack: str
    stack_id: str  # the ARN: a deleted stack is described by it only
    started: datetime
    known: set[str]
    existing: dict[str, str]  # nested stack ID -> its path below the root
    progress: stack_events.Progress


def before_sending(
    cfn: CloudFormationClient, stack: str, stack_id: str, total: int, clock: Callable[[], datetime] = polling.now
) -> Operation:
    """What following an operation needs to know from before it was sent (call, then send)."""
    started = clock()
    known = stack_events.existing_event_ids(cfn, stack_id)
    existing = {n.physical_id: n.path for n in st.nested_stacks(cfn, stack_id)}
    progress = stack_events.Progress(stack_id, total, paths=stack_events.stack_paths(stack_id, existing))
    return Operation(stack, stack_id, started, known, existing, progress)


def follow_operation(
    cfn: CloudFormationClient,
    operation: Operation,
    totals: Mapping[str, int],
    reporter: Reporter,
    sleep: polling.Sleep,
    also: Callable[[StackEventTypeDef], None] | None = None,
    watch: Watch | None = None,
) -> str:
    """Show the operation's events (``Following``, a ``StackEvent`` each, ``Settled``) until the root settles;
    ``also`` sees each event after it was shown. Returns the root's final status."""
    op, progress = operation, operation.progress
    reporter.show(Following(op.stack, op.started, dict(totals)))

    def on_event(event: StackEventTypeDef) -> None:
        if progress.record(event):
            reporter.show(StackEvent(event, str(progress), op.started, progress.stack_path(event)))
            if also is not None:
                also(event)

    on_poll = (lambda: watch(progress.events)) if watch else None
    since = op.started - CLOCK_SKEW
    status = stack_events.follow(cfn, op.stack_id, since, on_event, sleep, op.known, [*op.existing], on_poll)
    reporter.show(Settled(op.stack, status))
    return status


def template_totals(files: Mapping[str, str]) -> dict[str, int]:
    """Logical path of each nested stack -> the resources its template declares, from the built templates
    (the root's TemplateURL ends in the child's file name): a create's totals, where no nested change set
    counts them (conditional resources are counted too: an upper bound)."""
    root = json.loads(files[render.ROOT_FILE])
    totals = {}
    for logical, resource in root.get("Resources", {}).items():
        if resource.get("Type") == stack_events.STACK:
            names = re.findall(r"[\w-]+\.json", json.dumps(resource.get("Properties", {}).get("TemplateURL", "")))
            if names and names[-1] in files:
                totals[_logical(logical)] = len(json.loads(files[names[-1]]).get("Resources", {}))
    return totals


def _logical(path: str) -> str:
    """A change set node's path ("" for the root, "KeysStack") as a logical stack path (root/KeysStack)."""
    return f"{stack_events.ROOT}/{path}" if path else stack_events.ROOT


def show_delegation(route53: Route53Client, zone: str, reporter: Reporter) -> None:
    """A new zone's name servers, or (no permission, a throttle) the command that reads them: never a reason to
    stop following the stack."""
    try:
        reporter.show(NewZone(delegation.delegation(route53, zone)))
    except ClientError as exc:
        reporter.warn(
            f"could not read the new zone's name servers ({aws.error_code(exc)}): run aws route53 get-hosted-zone "
            f"--id {zone} and set them at the registrar now (the certificate waits for the delegation)"
        )


def ensure_bootstrap(clients: aws.Clients, account: str, reporter: Reporter, update: bool = False) -> tuple[str, str]:
    """The artifacts bucket and the CloudFormation service role (created on first use)."""
    bucket = artifacts.bucket_name(account, clients.region)
    if artifacts.ensure_bucket(clients.s3, bucket, clients.region, account):
        reporter.step(f"Created artifacts bucket {bucket} (encrypted, versioned, private, TLS-only)")
    role_arn, created = boot.service_role(clients.iam, account, bucket, update)
    if created:
        reporter.step(f"Created CloudFormation service role {role_arn}: change sets run as it")
    return bucket, role_arn


def _finish(cfn: CloudFormationClient, result: Result, reporter: Reporter) -> Result:
    result.outputs = st.outputs(cfn, result.stack)
    reporter.show(Outputs(result.outputs))
    reporter.result(result.document())
    return result


def execute_command(env: str, change_set: str, stack_name: str | None, region: str, profile: str | None) -> str:
    """The command that executes a reviewed change set, with every option that chose where it lives."""
    parts = ["python", "deploy.py", "execute", "--env", env, change_set]
    if stack_name:
        parts += ["--stack-name", stack_name]
    parts += ["--region", region]
    if profile:
        parts += ["--profile", profile]
    return shlex.join(parts)  # pasted into a shell: a profile named x$(...) stays a name (shlex.quote)


def deploy(
    request: DeployRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    prepared: Prepared | None = None,
    sleep: polling.Sleep = time.sleep,
    watch: Watch | None = None,
) -> Result:
    """Create a change set, show it, and (unless review only) execute it after confirmation."""
    prepared = prepared or prepare(request, project, reporter)
    try:
        return _deploy(request, clients, reporter, project, prepared, sleep, watch)
    finally:
        prepared.close()


def _deploy(
    request: DeployRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    prepared: Prepared,
    sleep: polling.Sleep,
    watch: Watch | None = None,
) -> Result:
    cfn, stack = clients.cloudformation, request.stack
    unsupported = resolve.unmapped_region(prepared.build.files, clients.region)
    if unsupported:  # before any AWS call: CloudFormation would fail at Fn::FindInMap half-way through the create
        raise BadInput(unsupported)
    account = aws.account_id(clients.sts)  # first AWS call: proves the credentials
    require_lint_clean(reporter, prepared)  # before anything in AWS can change
    for warning in prepared.deployment.warnings:
        reporter.warn(warning)
    reporter.step(f"Account {account}, region {clients.region}, stack {stack}")
    decision = settle(cfn, stack, reporter, sleep)
    current = identity.require_env(cfn, stack, request.env) if decision.change_set_type == "UPDATE" else None
    parameters = _name_prefix(request, prepared, current, clients.region, reporter)
    _before_change_set(request, clients, reporter, prepared, parameters, decision.change_set_type)
    created, result = _create(
        request, clients, reporter, project, prepared, parameters, account, decision.change_set_type
    )
    try:
        changesets.wait_change_set(cfn, created["Id"], sleep)
    except NoChanges:
        changesets.delete_change_set(cfn, created["Id"])
        reporter.step(
            f"No changes: the templates and parameters of {stack} are unchanged (empty change set "
            f"{result.change_set_name} deleted; a deploy does not revert drift: see 'deploy.py drift')"
        )
        result.status = Status.NO_CHANGES
        _protect(cfn, project, request.env, stack, reporter)
        return _finish(cfn, result, reporter)
    reporter.step(f"Change set {result.change_set_name} ({decision.change_set_type})")
    known = stateful_paths(prepared.build.files, prepared.deployment.parameters, clients.region)
    result.nodes, result.refused, unknown = _show(cfn, created["Id"], request.allow_replacement, reporter, known)
    if unknown:  # a typo would otherwise pass as "allowed nothing" while the real name stays refused
        changesets.delete_change_set(cfn, created["Id"])
        raise BadInput(
            f"--allow-replacement {', '.join(unknown)}: no such resource in this change set nor stateful resource in "
            f"the templates (stateful: {', '.join(sorted(known))}); change set {result.change_set_name} deleted"
        )
    _refuse_unsafe(cfn, request, result, created["Id"])
    if not request.execute:
        reporter.show(Review(_review_fields(request, clients, created, str(result.change_set_name))))
        reporter.result(result.document())
        return result
    if not reporter.confirm(f"Execute change set {result.change_set_name} on {stack}?"):
        changesets.delete_change_set(cfn, created["Id"])  # declined: leave nothing executable behind
        raise Aborted(f"nothing was changed (answered no); change set {result.change_set_name} deleted")
    total = len(ch.rows(result.nodes[0]))
    execute_and_follow(
        cfn,
        stack,
        created["Id"],
        created["StackId"],
        total,
        reporter,
        sleep,
        watch=watch,
        ecs=clients.ecs,
        route53=clients.route53,
        nodes=result.nodes,
        created=template_totals(prepared.build.files) if decision.change_set_type == "CREATE" else None,
    )
    reporter.step(f"{stack} deployed")
    result.status = Status.DEPLOYED
    _protect(cfn, project, request.env, stack, reporter)
    return _finish(cfn, result, reporter)


def _before_change_set(
    request: DeployRequest,
    clients: aws.Clients,
    reporter: Reporter,
    prepared: Prepared,
    parameters: dict[str, str],
    kind: st.ChangeSetKind,
) -> None:
    """What refuses a deploy before its change set exists: names another live stack owns, leftovers in the way of a
    create, someone's change
    set under review, an image tag that is not in both repositories."""
    if kind == "UPDATE":  # what the running stack alone refuses, before the account-wide name comparison
        _refuse_redis_flip(clients.cloudformation, request, prepared)
    _refuse_collisions(clients, prepared, request.stack, parameters, kind, reporter)
    if kind == "UPDATE":
        guard_reviews(clients.cloudformation, request.stack, reporter, request.execute, request.supersede)
    if request.image_tag and not request.images_checked:
        check_image_tag(clients, request.stack, request.image_tag, kind, reporter)


def check_image_tag(
    clients: aws.Clients, stack: str, tag: str, kind: st.ChangeSetKind, reporter: Reporter
) -> dict[str, str]:
    """``deploy --image-tag``: the tag must be in both repositories, the check ``release`` runs (cfn.images).
    A create makes the repositories, so nothing can be in them yet: said, not refused (the emulator runs no
    images; on AWS the services start once the tag is pushed, or the circuit breaker rolls the create back)."""
    if kind == "CREATE":
        reporter.warn(
            f"--image-tag {tag}: this deploy creates the ECR repositories, so the tag cannot be in them yet; on AWS "
            "deploy without --image-tag first, push both images, then release"
        )
        return {}
    repos = images.repositories(st.outputs(clients.cloudformation, stack), stack)
    digests = images.require_images(clients.ecr, repos, tag)
    reporter.step(
        f"Image tag {tag} is in both repositories: " + ", ".join(f"{k} {v[:19]}..." for k, v in sorted(digests.items()))
    )
    return digests


def _prefix(prepared: Prepared, parameters: dict[str, str]) -> str:
    """The NamePrefix these parameters give (the root template's default when not given)."""
    defaults = json.loads(prepared.build.files[render.ROOT_FILE])["Parameters"]
    return parameters.get(identity.PREFIX_PARAMETER) or str(defaults[identity.PREFIX_PARAMETER].get("Default"))


def _name_prefix(
    request: DeployRequest, prepared: Prepared, current: identity.Identity | None, region: str, reporter: Reporter
) -> dict[str, str]:
    """The parameters to deploy: a stack keeps the NamePrefix it was created with. Every physical name comes from
    it, so a new prefix is a new cluster, topic, alarms, repositories...: only an explicit --parameter
    NamePrefix with --allow-name-prefix-change changes it (a parameter file edited later never does)."""
    parameters = dict(prepared.deployment.parameters)
    wanted = _prefix(prepared, parameters)
    if current is None or not current.prefix or current.prefix == wanted:
        return parameters
    kept = {**parameters, identity.PREFIX_PARAMETER: current.prefix}
    if identity.PREFIX_PARAMETER not in request.overrides:
        reporter.step(
            f"NamePrefix {current.prefix} kept: {request.stack} was created with it ({prepared.deployment.source} "
            f"says {wanted}; a stack's names never change by themselves)"
        )
        return kept
    if request.allow_name_prefix_change:
        reporter.warn(f"NamePrefix {current.prefix} -> {wanted}: every named resource of {request.stack} is renamed")
        return parameters
    files = prepared.build.files
    renamed = identity.renames(identity.named(files, kept, region), identity.named(files, parameters, region))
    shown = ", ".join(f"{a} -> {b}" for a, b in renamed[:4]) + (", ..." if len(renamed) > 4 else "")
    stack = ["--stack-name", request.stack_name] if request.stack_name else []
    rename = ["python", "deploy.py", "deploy", "--env", request.env, *stack, "--parameter", f"NamePrefix={wanted}"]
    raise StackStateError(
        f"--parameter NamePrefix={wanted}: {request.stack} has NamePrefix {current.prefix}, and changing it replaces "
        f"{len(renamed)} named resources ({shown}); nothing was changed. Leave out --parameter NamePrefix to keep "
        f"{current.prefix}, or rename on purpose with {shlex.join(rename)} --allow-name-prefix-change (release "
        "never renames; stateful ones also need --allow-replacement)"
    )


def _refuse_collisions(
    clients: aws.Clients,
    prepared: Prepared,
    stack: str,
    parameters: dict[str, str],
    kind: st.ChangeSetKind,
    reporter: Reporter,
) -> None:
    """Names another live stack owns (cluster, topic, alarms, repositories, log groups, WAF...) are refused on
    create and update alike; a create whose fixed names an earlier, deleted stack left behind (log groups,
    repositories) fails now, in one line, rather than half-way through. Names a live stack owns are never
    offered for deletion."""
    files, region = prepared.build.files, clients.region
    mine = identity.named(files, parameters, region)
    root = json.loads(files[render.ROOT_FILE])["Parameters"]
    live, hidden = identity.live_stacks(clients.cloudformation, stack)
    for name in hidden:
        reporter.warn(f"{name}: this role may not describe it, so its names were not compared with {stack}'s")
    others = {o.stack: o for o in live}
    theirs = {name: (str(o.prefix), identity.names_of(o, files, root, region)) for name, o in others.items()}
    clashes = identity.collisions(mine, _prefix(prepared, parameters), theirs)
    if clashes:
        raise identity.collision_error(stack, clashes, others)
    if kind == "CREATE":
        found = leftovers.existing(clients.logs, clients.ecr, leftovers.retained(mine))
        if found:
            raise leftovers.refusal(stack, found, region)


def _refuse_redis_flip(cfn: CloudFormationClient, request: DeployRequest, prepared: Prepared) -> None:
    """Adding the first Redis replica (or removing the last) together with the failover switch: refused before a
    change set, with the two deploys that do it (``changes.redis_refusal``)."""
    running = st.describe(cfn, request.stack)
    found = running.get("Parameters", []) if running else []
    previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found}
    defaults = json.loads(prepared.build.files[render.ROOT_FILE])["Parameters"]
    new = {name: str(spec.get("Default", "")) for name, spec in defaults.items()} | prepared.deployment.parameters
    refusal = ch.redis_refusal(previous, new, request.env)
    if refusal:
        raise refusal


def _create(
    request: DeployRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    prepared: Prepared,
    parameters: dict[str, str],
    account: str,
    change_set_type: st.ChangeSetKind,
) -> tuple[CreateChangeSetOutputTypeDef, Result]:
    """Upload the templates (content-addressed: unchanged ones stay) and create the change set."""
    reporter.sent(UPLOAD)  # the artifacts bucket and the templates: nothing that changes the stack
    bucket, role_arn = ensure_bootstrap(clients, account, reporter)
    files = prepared.build.files
    reporter.show(Waiting(f"Uploading templates to s3://{bucket}/{artifacts.KEY_PREFIX}"))
    up = artifacts.upload(clients.s3, bucket, files, account)
    reporter.step(
        f"Templates in s3://{bucket}/{artifacts.KEY_PREFIX}: {len(up.uploaded)} uploaded, "
        f"{len(files) - len(up.uploaded)} already there"
    )
    name = changesets.change_set_name(request.stack)
    placement = {"TemplatesBucket": bucket, "TemplatesKeyPrefix": artifacts.KEY_PREFIX}
    deployed = st.deployed_parameters(clients.cloudformation, request.stack) if change_set_type == "UPDATE" else None
    reporter.sent(CREATE)  # from here a change set may exist (it changes nothing until executed)
    created = changesets.create_change_set(
        clients.cloudformation,
        request.stack,
        name,
        change_set_type,
        artifacts.s3_url(bucket, clients.region, up.root_key),
        {**parameters, **placement},
        prepared.deployment.tags,
        f"deploy.py --env {request.env} from {project.git_commit()}",
        changesets.keepable(params.KEEP_PREVIOUS, deployed),
        role_arn,
    )
    return created, Result(Status.REVIEW, request.stack, name, created["Id"], uploaded=up.uploaded)


def _refuse_unsafe(cfn: CloudFormationClient, request: DeployRequest, result: Result, change_set_id: str) -> None:
    """Removing the services needs --remove-services; a stateful replacement or removal is never executed
    (and the change set is deleted, so nobody executes it from the console by mistake)."""
    if ch.removes_services(result.nodes) and not request.remove_services:
        changesets.delete_change_set(cfn, change_set_id)
        raise UnsafeChange(
            f"change set {result.change_set_name} would remove the services ({ch.SERVICES_STACK}): nothing was "
            "changed; give --image-tag TAG, or --remove-services if the site really should stop"
        )
    if result.refused and request.execute:
        changesets.delete_change_set(cfn, change_set_id)
        raise ch.refusal(result.refused)


def _review_fields(
    request: DeployRequest, clients: aws.Clients, created: CreateChangeSetOutputTypeDef, name: str
) -> dict[str, str]:
    """Where a reviewer finds the change set, and the exact command that executes it."""
    return {
        "Change set name": name,
        "Change set ARN": created["Id"],
        "Review it": changesets.console_url(clients.region, created["StackId"], created["Id"]),
        "Execute it": execute_command(request.env, name, request.stack_name, clients.region, clients.profile),
    }


def execute(
    request: ExecuteRequest,
    clients: aws.Clients,
    reporter: Reporter,
    project: Project,
    sleep: polling.Sleep = time.sleep,
) -> Result:
    """Execute a reviewed change set of this stack, after checking it is still executable and safe."""
    cfn, stack = clients.cloudformation, request.stack
    aws.account_id(clients.sts)
    cs = changesets.find_change_set(cfn, stack, request.change_set)
    made_for = {p["ParameterKey"]: p.get("ParameterValue") for p in cs.get("Parameters", [])}.get("EnvironmentName")
    if made_for and made_for != request.env:  # --env picks the protection applied afterwards: it must match
        raise BadInput(
            f"change set {cs['ChangeSetName']} was made for --env {made_for}, not {request.env}: "
            f"execute it with --env {made_for}"
        )
    guard_reviews(cfn, stack, reporter, True, request.supersede, cs["ChangeSetName"])
    reporter.step(f"Change set {cs['ChangeSetName']} ({cs.get('Description', '')})")
    nodes, refused, _ = _show(cfn, cs["ChangeSetId"], request.allow_replacement, reporter)
    if refused:  # deleted, as deploy does: nobody executes a refused change set from the console by mistake
        changesets.delete_change_set(cfn, cs["ChangeSetId"])
        raise UnsafeChange(
            f"{ch.refusal(refused)} (change set {cs['ChangeSetName']} deleted: create it again with deploy "
            "--no-execute and those flags)"
        )
    if not reporter.confirm(f"Execute change set {cs['ChangeSetName']} on {stack}?"):
        raise Aborted(
            f"nothing was changed (answered no); change set {cs['ChangeSetName']} is still there to execute later"
        )
    execute_and_follow(
        cfn,
        stack,
        cs["ChangeSetId"],
        cs["StackId"],
        len(ch.rows(nodes[0])),
        reporter,
        sleep,
        ecs=clients.ecs,
        route53=clients.route53,
        nodes=nodes,
    )
    reporter.step(f"{stack} deployed")
    _protect(cfn, project, request.env, stack, reporter)
    # nothing uploaded: the reviewed change set's templates went up with deploy --no-execute
    done = Result(Status.DEPLOYED, stack, cs["ChangeSetName"], cs["ChangeSetId"], nodes, uploaded=[])
    return _finish(cfn, done, reporter)
