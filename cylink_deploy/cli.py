"""Command line of ``deploy.py``: parse flags, run the steps in order, print through ``report``.

Order of a deploy: validate parameters -> build + cfn-lint -> (first AWS call) credentials -> stack
state -> upload -> change set -> show -> ask -> execute -> follow -> outputs.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, TextIO
from urllib.parse import quote

import botocore.exceptions as bex

from templates_src import render

from . import artifacts, aws, bootstrap, params, protection
from . import build as build_step
from . import changes as ch
from . import stack as st
from .errors import EXIT_OK, Aborted, BadInput, DeployError, DeploymentFailed, NoChanges, UnsafeChange
from .report import Printer

EPILOG = """exit codes:
  0  deployed, or no changes          1  deployment (or lint) failed
  2  bad flag / parameter file        3  credentials, region or permissions
  4  stack needs recovery first       5  declined at the prompt, or no TTY without --yes
  6  refused: the change set would replace or remove a stateful resource (see --allow-replacement)

examples:
  python deploy.py --env dev --local --yes --image-tag 1.0.0   # whole stack on the embedded emulator
  python deploy.py --env prod --no-execute                     # review in the console, then:
  python deploy.py --env prod --execute-change-set NAME
  python deploy.py --env prod --image-tag v1.1.0               # release (guide section 12)
"""
STACK_NAME = re.compile(r"^cylink-[a-z0-9-]{1,100}$")
KEEP_PREVIOUS = ("ImageTag",)  # a release's state, not configuration: omitted means "keep what runs"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy.py",
        description="Build, lint and deploy Cylink's nested CloudFormation stacks through reviewed change sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--env", help="environment: reads params/ENV.yaml, deploys stack cylink-ENV")
    p.add_argument("--stack-name", help="override the stack name (default cylink-ENV)")
    p.add_argument("--build-only", action="store_true", help="render templates into build/ and cfn-lint them (and params); no AWS calls")
    p.add_argument("--region", help=f"AWS region (default: AWS_REGION / profile / {aws.DEFAULT_REGION})")
    p.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE / default chain)")
    p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", help="override a parameter of the file (repeatable)")
    p.add_argument("--image-tag", metavar="TAG", help="image tag both services run (a new tag rolls the services)")
    p.add_argument("--no-execute", action="store_true", help="stop after showing the change set; print its name, ARN and console URL")
    p.add_argument("--execute-change-set", metavar="NAME", help="execute a reviewed change set (checked AVAILABLE and shown again)")
    p.add_argument("--delete", action="store_true", help="delete the stack after showing what is deleted and what is retained")
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="(administrator, once per account/region) create or update the artifacts bucket and the CloudFormation "
        "service role, and print the deployer's least-privilege policy",
    )
    p.add_argument(
        "--allow-replacement",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="allow replacing/removing exactly this stateful resource (logical ID or Stack/LogicalId; repeatable)",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not prompt (CI)")
    p.add_argument("--json", action="store_true", help="print the change-set summary and outputs as JSON on stdout (humans: stderr)")
    p.add_argument("--local", action="store_true", help="deploy to an embedded AWS emulator on 127.0.0.1 for this run")
    p.add_argument("--serve-local", action="store_true", help="run the emulator in the foreground until Ctrl-C")
    p.add_argument("--port", type=int, default=None, help="port for --serve-local (default 4566)")
    return p


def check_flags(args: argparse.Namespace) -> None:
    """Impossible combinations, before anything else happens."""
    if args.serve_local:
        if args.env or args.local or args.build_only:
            raise BadInput("--serve-local runs only the emulator: use it alone (optionally with --port)")
        if args.port is not None and not 1024 <= args.port <= 65535:
            raise BadInput(f"--port {args.port}: use a free port between 1024 and 65535 (default 4566)")
        return
    if args.port is not None:
        raise BadInput("--port applies only to --serve-local")
    if args.stack_name is not None and not STACK_NAME.match(args.stack_name):
        raise BadInput(f"--stack-name {args.stack_name!r}: use cylink-<lower-case letters, digits, hyphens> (the service role and deployer policy cover cylink-* stacks)")
    if args.build_only:
        return
    if not args.env:
        raise BadInput("give --env ENV (e.g. --env dev), or --build-only, or --serve-local")
    modes = [
        name
        for name, on in (("--no-execute", args.no_execute), ("--execute-change-set", args.execute_change_set), ("--delete", args.delete), ("--bootstrap", args.bootstrap))
        if on
    ]
    if len(modes) > 1:
        raise BadInput(f"{' and '.join(modes)} cannot be combined")
    if args.allow_replacement and args.delete:
        raise BadInput("--allow-replacement applies to change sets, not to --delete")
    if (args.delete or args.execute_change_set or args.bootstrap) and (args.parameter or args.image_tag):
        raise BadInput(f"{modes[0]} takes no --parameter/--image-tag: those shape a new change set")
    if args.local and (args.delete or args.execute_change_set):
        raise BadInput(f"--local starts an empty emulator: for {modes[0]} run 'deploy.py --serve-local' and set AWS_ENDPOINT_URL")


@dataclass
class Context:
    """What every command needs: where to deploy, how to talk, how to ask."""

    args: argparse.Namespace
    printer: Printer
    stdin: TextIO
    sleep: Callable[[float], None]

    @property
    def stack(self) -> str:
        return self.args.stack_name or f"cylink-{self.args.env}"

    def require_prompt_possible(self) -> None:
        """Refuse rather than hang: no TTY and no --yes means nobody can answer."""
        if not self.args.yes and not self.stdin.isatty():
            raise Aborted("no terminal to confirm on: pass --yes (CI), or review first with --no-execute")

    def confirm(self, question: str) -> None:
        if self.args.yes:
            return
        self.printer.line(f"{question} [y/N] ")
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("nothing was changed (answered no)")


def run_build(env: str | None, printer: Printer) -> int:
    """Render and lint; every lint match is an error (warnings included)."""
    result = build_step.build()
    printer.line(f"Synthesised {len(result.files)} templates in {result.synth_seconds * 1000:.0f} ms -> {build_step.BUILD_DIR}")
    start = time.perf_counter()
    param_files = [params.env_file(build_step.PARAMS_DIR, env)] if env else sorted(build_step.PARAMS_DIR.glob("*.yaml"))
    problems = build_step.lint(result.paths, param_files)
    printer.line(f"cfn-lint: {len(result.paths)} templates, {len(param_files)} parameter files in {time.perf_counter() - start:.1f} s")
    for line in problems:
        printer.line(f"  {line}")
    if problems:
        raise DeploymentFailed(f"cfn-lint found {len(problems)} problem(s): fix them before deploying")
    return EXIT_OK


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=build_step.REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=build_step.REPO, capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "no git commit"


def console_url(region: str, stack_id: str, change_set_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/changesets/changes?stackId={quote(stack_id, safe='')}&changeSetId={quote(change_set_id, safe='')}"
    )


@dataclass
class Prepared:
    """What needs no AWS: validated parameters, built templates, and cfn-lint under way."""

    deployment: params.Deployment
    build: build_step.Build
    param_file: Path
    lint: build_step.BackgroundLint


def prepare(ctx: Context) -> Prepared:
    """Validate parameters and build (bad input stops here), then start cfn-lint in the background."""
    args = ctx.args
    param_file = params.env_file(build_step.PARAMS_DIR, args.env)
    result = build_step.build()
    root_parameters = json.loads(result.files[render.ROOT_FILE])["Parameters"]
    deployment = params.resolve(args.env, param_file, root_parameters, params.parse_overrides(args.parameter), args.image_tag)
    lint = build_step.BackgroundLint(result.paths, [param_file], build_step.BUILD_DIR / ".lint-ok")
    return Prepared(deployment, result, param_file, lint)


def require_lint_clean(ctx: Context, prepared: Prepared) -> None:
    """Wait for cfn-lint; any problem stops the deploy before anything in AWS changes."""
    problems = prepared.lint.result()
    for line in problems:
        ctx.printer.line(f"  {line}")
    if problems:
        raise DeploymentFailed(f"cfn-lint found {len(problems)} problem(s) in the templates or {prepared.param_file}: fix them before deploying")
    how = "cached result for identical input" if prepared.lint.cached else f"{time.perf_counter() - prepared.lint.started:.1f} s"
    ctx.printer.step(f"Built {len(prepared.build.files)} templates ({prepared.build.synth_seconds * 1000:.0f} ms), cfn-lint clean ({how})")


def settle(ctx: Context, cfn: Any) -> st.Plan:
    """Wait out other operations, clean up a failed first create (with consent), and plan."""
    status = st.wait_settled(cfn, ctx.stack, ctx.sleep, lambda s: ctx.printer.line(f"    {ctx.stack} is {s}: waiting for it to finish (not starting a second operation)"))
    decision = st.plan(status, ctx.stack)
    if decision.clean_up_first:
        why = "a change set was created but never executed" if status == "REVIEW_IN_PROGRESS" else "its first create failed and rolled back"
        ctx.printer.warn(f"stack {ctx.stack} is {status}: {why}; it holds no resources and must be deleted before creating again")
        ctx.confirm(f"Delete the empty stack {ctx.stack}?")
        final = st.delete_and_wait(cfn, ctx.stack, ctx.sleep)
        if final != "DELETE_COMPLETE":
            raise DeploymentFailed(f"could not delete {ctx.stack} ({final}): see its events in the console")
    return decision


def show_change_set(ctx: Context, cfn: Any, change_set_id: str) -> tuple[list[st.ChangeSetNode], list[ch.Row]]:
    """Show the change set tree and which stateful replacements/removals it would be refused for."""
    nodes = st.describe_tree(cfn, change_set_id)
    ctx.printer.change_sets(nodes)
    refused = ch.unsafe(nodes, set(ctx.args.allow_replacement))
    ctx.printer.refused(refused)
    unused = set(ctx.args.allow_replacement) - {key for r in ch.all_rows(nodes) if r.loses_data for key in (r.logical_id, r.path)}
    for name in sorted(unused):  # most likely a typo: say so rather than let it pass silently
        ctx.printer.warn(f"--allow-replacement {name}: this change set replaces or removes no stateful resource of that name")
    return nodes, refused


def refusal(refused: list[ch.Row]) -> UnsafeChange:
    names = ", ".join(r.path for r in refused)
    flags = " ".join(f"--allow-replacement {r.path}" for r in refused)
    return UnsafeChange(f"refusing to replace or remove stateful resource(s) {names}: if that data may go, rerun with {flags}")


def protect(ctx: Context, cfn: Any) -> None:
    """The environment's termination protection and stack policy (policies/protection.yaml)."""
    done = protection.apply(cfn, ctx.stack, protection.for_env(ctx.args.env))
    if done:
        ctx.printer.step(f"Protection for {ctx.args.env}: " + ", ".join(done))


def execute_and_follow(ctx: Context, cfn: Any, change_set_id: str, stack_id: str, total: int) -> None:
    """Execute and stream events. Progress: the root's changes done / total, and resources done in all stacks."""
    since = st.now() - timedelta(seconds=2)  # tolerate clock skew; older events are known by ID below
    known = st.existing_event_ids(cfn, stack_id)
    st.execute_change_set(cfn, change_set_id)
    root_done: set[str] = set()
    resources_done: set[tuple[str, str]] = set()
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("ResourceStatus") == "REVIEW_IN_PROGRESS":
            return  # from creating the change set, not from executing it
        events.append(event)
        logical, own_stack = event.get("LogicalResourceId", ""), event.get("StackName", "")
        if event.get("ResourceStatus", "").endswith("_COMPLETE") and logical != own_stack:
            resources_done.add((event.get("StackId", ""), logical))
            if event.get("StackId") == stack_id:
                root_done.add(logical)
        ctx.printer.event(event, f"{len(root_done):>2}/{total} | {len(resources_done):>3} resources", since)

    status = st.follow(cfn, stack_id, since, on_event, ctx.sleep, known)
    if status not in st.SUCCESS:
        cause = st.root_cause(events)
        if cause:
            ctx.printer.root_cause(cause)
        raise DeploymentFailed(f"stack {ctx.stack} ended {status}" + (f" (root cause: {cause.get('LogicalResourceId')})" if cause else ""))


def finish(ctx: Context, cfn: Any, document: dict[str, Any]) -> int:
    outputs = st.outputs(cfn, ctx.stack)
    ctx.printer.outputs(outputs)
    document["outputs"] = outputs
    ctx.printer.emit_json(document)
    return EXIT_OK


def cmd_deploy(ctx: Context, clients: aws.Clients, prepared: Prepared | None = None) -> int:
    args, printer, cfn = ctx.args, ctx.printer, clients.cloudformation
    prepared = prepared or prepare(ctx)
    deployment, result = prepared.deployment, prepared.build
    account = aws.account_id(clients.sts)  # first AWS call: proves the credentials
    require_lint_clean(ctx, prepared)  # before anything in AWS can change
    printer.step(f"Account {account}, region {clients.region}, stack {ctx.stack}")
    decision = settle(ctx, cfn)
    bucket, role_arn = ensure_bootstrap(ctx, clients, account)
    up = artifacts.upload(clients.s3, bucket, result.files)
    printer.step(f"Templates in s3://{bucket}/{artifacts.KEY_PREFIX}: {len(up.uploaded)} uploaded, {len(result.files) - len(up.uploaded)} already there")
    name = f"{ctx.stack}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    placement = {"TemplatesBucket": bucket, "TemplatesKeyPrefix": artifacts.KEY_PREFIX}
    created = st.create_change_set(
        cfn,
        ctx.stack,
        name,
        decision.change_set_type,
        artifacts.s3_url(bucket, clients.region, up.root_key),
        {**deployment.parameters, **placement},
        deployment.tags,
        f"deploy.py --env {args.env} from {git_commit()}",
        KEEP_PREVIOUS,
        role_arn,
    )
    document: dict[str, Any] = {"stack": ctx.stack, "changeSetName": name, "changeSetId": created["Id"], "uploaded": up.uploaded}
    try:
        st.wait_change_set(cfn, created["Id"], ctx.sleep)
    except NoChanges:
        st.delete_change_set(cfn, created["Id"])
        printer.step(f"No changes: {ctx.stack} already matches (empty change set {name} deleted)")
        document["status"] = "NO_CHANGES"
        protect(ctx, cfn)
        return finish(ctx, cfn, document)
    printer.step(f"Change set {name} ({decision.change_set_type})")
    nodes, refused = show_change_set(ctx, cfn, created["Id"])
    document.update(ch.summary(nodes))
    document["refused"] = [r.path for r in refused]
    if refused and not args.no_execute:
        st.delete_change_set(cfn, created["Id"])  # nobody executes it from the console by mistake
        raise refusal(refused)
    if args.no_execute:
        printer.line()
        printer.line(f"Change set name: {name}")
        printer.line(f"Change set ARN:  {created['Id']}")
        printer.line(f"Review it:       {console_url(clients.region, created['StackId'], created['Id'])}")
        printer.line(f"Execute it:      python deploy.py --env {args.env} --execute-change-set {name}")
        document["status"] = "REVIEW"
        printer.emit_json(document)
        return EXIT_OK
    ctx.confirm(f"Execute change set {name} on {ctx.stack}?")
    execute_and_follow(ctx, cfn, created["Id"], created["StackId"], len(ch.rows(nodes[0])))
    printer.step(f"{ctx.stack} deployed")
    document["status"] = "DEPLOYED"
    protect(ctx, cfn)
    return finish(ctx, cfn, document)


def ensure_bootstrap(ctx: Context, clients: aws.Clients, account: str, update: bool = False) -> tuple[str, str]:
    """The artifacts bucket and the CloudFormation service role (created on first use)."""
    bucket = artifacts.bucket_name(account, clients.region)
    if artifacts.ensure_bucket(clients.s3, bucket, clients.region):
        ctx.printer.step(f"Created artifacts bucket {bucket} (encrypted, versioned, private, TLS-only)")
    role_arn, created = bootstrap.service_role(clients.iam, account, bucket, update)
    if created:
        ctx.printer.step(f"Created CloudFormation service role {role_arn}: change sets run as it")
    return bucket, role_arn


def cmd_bootstrap(ctx: Context, clients: aws.Clients) -> int:
    account = aws.account_id(clients.sts)
    bucket, role_arn = ensure_bootstrap(ctx, clients, account, update=True)
    ctx.printer.step(f"Bootstrapped account {account} in {clients.region}: bucket {bucket}, service role {role_arn} (policy updated)")
    ctx.printer.line("Deployers now need only this policy (see README 'Deployer permissions'):")
    ctx.printer.line(bootstrap.as_json(bootstrap.deployer_policy(account, clients.region, bucket)))
    ctx.printer.emit_json({"bucket": bucket, "serviceRoleArn": role_arn})
    return EXIT_OK


def cmd_execute(ctx: Context, clients: aws.Clients) -> int:
    cfn = clients.cloudformation
    ctx.require_prompt_possible()
    aws.account_id(clients.sts)
    cs = st.find_change_set(cfn, ctx.stack, ctx.args.execute_change_set)
    ctx.printer.step(f"Change set {cs['ChangeSetName']} ({cs.get('Description', '')})")
    nodes, refused = show_change_set(ctx, cfn, cs["ChangeSetId"])
    if refused:
        raise refusal(refused)
    ctx.confirm(f"Execute change set {cs['ChangeSetName']} on {ctx.stack}?")
    execute_and_follow(ctx, cfn, cs["ChangeSetId"], cs["StackId"], len(ch.rows(nodes[0])))
    ctx.printer.step(f"{ctx.stack} deployed")
    protect(ctx, cfn)
    return finish(ctx, cfn, {"stack": ctx.stack, "changeSetId": cs["ChangeSetId"], "status": "DEPLOYED", **ch.summary(nodes)})


def cmd_delete(ctx: Context, clients: aws.Clients) -> int:
    cfn, printer = clients.cloudformation, ctx.printer
    ctx.require_prompt_possible()
    aws.account_id(clients.sts)
    status = st.wait_settled(cfn, ctx.stack, ctx.sleep)
    if status is None:
        printer.step(f"Stack {ctx.stack} does not exist: nothing to delete")
        return EXIT_OK
    described = cfn.describe_stacks(StackName=ctx.stack)["Stacks"][0]
    if described.get("EnableTerminationProtection"):
        raise st.StackStateError(
            f"{ctx.stack} has termination protection: lift it deliberately with "
            f"aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {ctx.stack}"
        )
    kept = st.retained_resources(cfn, ctx.stack)
    printer.step(f"Deleting {ctx.stack} ({status}) and all its nested stacks")
    if kept:
        printer.line("These are kept (DeletionPolicy), and must be removed by hand if really unwanted:")
        printer.table(["Stack", "Logical ID", "Type", "Policy"], [list(k) for k in kept])
    ctx.confirm(f"Delete stack {ctx.stack}?")
    role_arn = described.get("RoleARN")  # delete as the role that created it
    final = st.delete_and_wait(cfn, ctx.stack, ctx.sleep, role_arn)
    if final != "DELETE_COMPLETE":
        raise DeploymentFailed(f"delete of {ctx.stack} ended {final}: see its events in the console")
    printer.step(f"{ctx.stack} deleted; {len(kept)} retained resource(s) remain")
    printer.emit_json({"stack": ctx.stack, "status": "DELETED", "retained": [list(k) for k in kept]})
    return EXIT_OK


def run_aws(ctx: Context) -> int:
    args = ctx.args
    command: Callable[[Context, aws.Clients], int]
    prepared = None
    if args.bootstrap or args.delete or args.execute_change_set:
        command = cmd_bootstrap if args.bootstrap else cmd_delete if args.delete else cmd_execute
    else:
        prepared = prepare(ctx)  # bad input stops here, before any AWS call; lint starts in the background
        if not args.no_execute:
            ctx.require_prompt_possible()
        command = functools.partial(cmd_deploy, prepared=prepared)
    try:
        if args.local:
            from .emulator import FAKE_CREDENTIALS, Emulator

            with Emulator() as emulator:
                ctx.printer.step(f"Local AWS emulator on {emulator.endpoint} (moto, fake credentials)")
                session = aws.make_session(args.region, None, FAKE_CREDENTIALS)
                return command(ctx, aws.make_clients(session, emulator.endpoint))
        return command(ctx, aws.make_clients(aws.make_session(args.region, args.profile)))
    finally:
        if prepared is not None:
            prepared.lint.close()


def serve(args: argparse.Namespace, printer: Printer) -> int:
    from .emulator import DEFAULT_PORT, serve_forever

    def announce(endpoint: str) -> None:
        printer.step(f"AWS emulator listening on {endpoint} (Ctrl-C to stop). In another shell:")
        printer.line(f"    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        printer.line("    python deploy.py --env dev --yes --image-tag 1.0.0")
        printer.line(f"    aws --endpoint-url {endpoint} cloudformation describe-stacks")

    serve_forever(args.port or DEFAULT_PORT, announce)
    return EXIT_OK


def main(argv: list[str] | None = None, stdin: TextIO | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    args = parser().parse_args(argv)
    printer = Printer(json_mode=args.json)
    ctx = Context(args, printer, stdin or sys.stdin, sleep)
    try:
        check_flags(args)
        if args.serve_local:
            return serve(args, printer)
        if args.build_only:
            return run_build(args.env, printer)
        return run_aws(ctx)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (bex.BotoCoreError, bex.ClientError) as exc:
        translated = aws.translate(exc)
        if translated is None:
            print(f"error: AWS call failed: {exc}", file=sys.stderr)
            return DeploymentFailed.exit_code
        print(f"error: {translated}", file=sys.stderr)
        return translated.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; an operation already started in CloudFormation continues (check the console)", file=sys.stderr)
        return Aborted.exit_code


