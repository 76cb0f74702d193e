"""The GitHub Actions workflows (.github/workflows): actionlint clean, third-party actions pinned to commit
SHAs, OIDC permissions only where a job assumes the role, the deploy steps calling only documented deploy.py
commands — and the deploy workflow's own scripts run, plan -> summary -> execute, against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from cylink_deploy.commands import registry
from cylink_deploy.commands.legacy import normalize
from cylink_deploy.emulator import FAKE_CREDENTIALS
from cylink_deploy.output import summary

from .conftest import REPO, credentials, image_manifest, project_copy
from .docspages import page

WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
README = (REPO / "README.md").read_text()
COMMANDS_PAGE = page("commands")
CI_PAGE = page("ci")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def steps(document: dict[str, Any]):
    for job_id, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def actionlint(*paths: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint comes with the dev extras (setup.cfg): pip install -e '.[dev]'"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, paths)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.slow
def test_both_workflows_exist_and_actionlint_is_clean():
    assert {p.name for p in workflow_files()} >= {"ci.yml", "deploy.yml"}
    proc = actionlint(*workflow_files())
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = (
        (WORKFLOWS / "deploy.yml")
        .read_text()
        .replace("needs.plan.outputs.change-set-id", "needs.plan.outputs.change-set-arn")
    )
    (tmp_path / "broken.yml").write_text(broken)
    proc = actionlint(tmp_path / "broken.yml", cwd=tmp_path)
    assert proc.returncode == 1 and "change-set-arn" in proc.stdout


def test_every_third_party_action_is_pinned_to_a_full_commit_sha_with_its_tag_in_a_comment():
    for path in workflow_files():
        text = path.read_text()
        for _, _, step in steps(load(path.name)):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a 40-hex commit SHA"
            assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+$", text, re.M), (
                f"{path.name}: {uses} needs its release tag in a comment"
            )


def test_the_oidc_token_is_granted_only_to_jobs_that_assume_the_role():
    for path in workflow_files():
        document = load(path.name)
        assert document["permissions"] == {"contents": "read"}, path.name
        for job_id, job in document["jobs"].items():
            assumes = any(
                str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
                for s in job.get("steps", [])
            )
            granted = job.get("permissions", {}).get("id-token") == "write"
            assert assumes == granted, (
                f"{path.name}:{job_id}: id-token: write exactly where configure-aws-credentials runs"
            )
            for step in job.get("steps", []):
                with_ = step.get("with", {})
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(with_), (
                    f"{path.name}:{job_id}: no long-lived keys"
                )


def test_the_deploy_workflow_plans_then_waits_for_the_environment_then_executes_that_change_set():
    document = load("deploy.yml")
    assert set(document["on"]) == {"push", "workflow_dispatch"}
    assert document["on"]["push"] == {"tags": ["v*"]}
    assert document["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "staging", "prod"]
    plan, execute = document["jobs"]["plan"], document["jobs"]["execute"]
    assert "environment" not in plan  # its token's sub is the ref: the role trusts it through --github-ref
    assert execute["needs"] == "plan" and execute["if"] == "needs.plan.outputs.status == 'REVIEW'"
    assert execute["environment"] == "${{ needs.plan.outputs.environment }}"  # the approval gate
    (step,) = [s for s in execute["steps"] if "deploy.py execute" in s.get("run", "")]
    assert step["env"]["CHANGE_SET_ID"] == "${{ needs.plan.outputs.change-set-id }}"
    assert document["concurrency"]["cancel-in-progress"] is False


CONTEXT_PATH = re.compile(r"\b(?:github|inputs|vars)\.[A-Za-z0-9_.-]*[A-Za-z0-9_]")


def evaluate(text: str, context: dict[str, str]) -> str:
    """The workflow's ``${{ }}`` expressions as GitHub evaluates those it uses here (contexts, string
    literals, ``==``, ``&&``, ``||``): ``&&``/``||`` give one of their operands, a missing context value is
    empty and empty is false, so ``a && b || c`` is ``b`` when ``a`` holds and ``b`` is not empty, else ``c``.
    https://docs.github.com/en/actions/reference/workflows-and-actions/expressions#operators"""

    def one(match: re.Match[str]) -> str:
        python = CONTEXT_PATH.sub(lambda m: repr(context.get(m.group(0), "")), match.group(1))
        python = python.replace("&&", " and ").replace("||", " or ")
        return str(eval(python, {"__builtins__": {}}))  # only the literals and operators above are left

    return EXPRESSION.sub(one, text)


def deploy_run(context: dict[str, str]) -> dict[str, str]:
    """What a run of the deploy workflow gets for this event: its environment, image tag, concurrency group."""
    document = load("deploy.yml")
    return {
        "environment": evaluate(document["env"]["DEPLOY_ENV"], context),
        "image-tag": evaluate(document["env"]["IMAGE_TAG"], context),
        "group": evaluate(document["concurrency"]["group"], context),
    }


def test_a_release_tag_push_deploys_prod_with_the_image_of_that_tag():
    pushed = deploy_run({"github.event_name": "push", "github.ref_name": "v1.1.0", "github.ref": "refs/tags/v1.1.0"})
    assert pushed == {"environment": "prod", "image-tag": "v1.1.0", "group": "deploy-prod"}
    by_hand = {"github.event_name": "workflow_dispatch", "github.ref_name": "main"}
    assert deploy_run(by_hand | {"inputs.environment": "staging"}) == {
        "environment": "staging",
        "image-tag": "",  # keeps the running tag
        "group": "deploy-staging",
    }
    assert deploy_run(by_hand | {"inputs.environment": "dev", "inputs.image-tag": "1.2.3"})["image-tag"] == "1.2.3"
    assert "releases the image of the same tag" in (REPO / ".github/workflows/deploy.yml").read_text()


def test_every_deploy_of_an_environment_waits_its_turn_none_is_cancelled():
    """GitHub keeps one pending run per concurrency group and cancels it when a third arrives, unless the
    group has ``queue: max`` (up to 100 wait, first in, first out); cancel-in-progress would cancel a run
    executing a change set. https://docs.github.com/en/actions/how-tos/write-workflows/choose-when-workflows-run/control-workflow-concurrency"""
    concurrency = load("deploy.yml")["concurrency"]
    assert concurrency["cancel-in-progress"] is False and concurrency["queue"] == "max"
    text = (REPO / ".github/workflows/deploy.yml").read_text()
    comment = text.split("\nconcurrency:", 1)[0].rsplit("\n\n", 1)[1]
    assert "waits its turn" in comment and "a third" in comment and "queue: max" in comment, comment


def test_each_deploy_job_assumes_its_own_role():
    """Issue 24 finding 2: the plan job the plan role (it cannot execute), the execute job the deployer role of its
    environment (the GitHub environment's variable: only stack cylink-ENV). Issue 25: the plan role is the one of
    the environment's pinned account (deploy.py pin --github-output), the repository variable only without a pin;
    the execute job runs in the region the plan ran in."""
    document = load("deploy.yml")
    roles = {
        job_id: [
            s["with"]["role-to-assume"]
            for s in job["steps"]
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        ]
        for job_id, job in document["jobs"].items()
    }
    assert roles == {
        "plan": ["${{ steps.pin.outputs.plan-role-arn || vars.AWS_PLAN_ROLE_ARN }}"],
        "execute": ["${{ vars.AWS_DEPLOY_ROLE_ARN }}"],
    }
    plan, execute = document["jobs"]["plan"], document["jobs"]["execute"]
    ids = [s.get("id") for s in plan["steps"]]
    assert ids.index("pin") < ids.index("plan")  # the pin is read before the role is assumed
    (pin,) = [s for s in plan["steps"] if s.get("id") == "pin"]
    assert pin["run"] == 'python deploy.py pin --env "$DEPLOY_ENV" --github-output >> "$GITHUB_OUTPUT"'
    regions = [
        s["with"]["aws-region"] for job in (plan, execute) for s in job["steps"] if "aws-region" in s.get("with", {})
    ]
    assert regions == [
        "${{ steps.pin.outputs.region || vars.AWS_REGION || 'ap-northeast-1' }}",
        "${{ needs.plan.outputs.region }}",
    ]
    assert plan["outputs"]["region"] == regions[0]  # the change set is in that region: execute goes there
    assert "AWS_REGION" not in document.get("env", {})  # configure-aws-credentials exports the region it was given


def test_ci_runs_the_readme_test_command_with_venvs_cached_by_their_requirement_files():
    document = load("ci.yml")
    assert set(document["on"]) == {"pull_request", "push"} and document["on"]["push"] == {"branches": ["main"]}
    runs = [s.get("run", "") for _, _, s in steps(document)]
    assert "make test" in runs and "make test" in README
    (cache,) = [s for _, _, s in steps(document) if str(s.get("uses", "")).startswith("actions/cache@")]
    makefile = (REPO / "Makefile").read_text()
    # every virtual environment `make test` installs (a stamp rule), and every file it is installed from
    stamps = dict(re.findall(r"^(\w*STAMP) := (\S+)$", makefile, re.M))
    stamps["STAMP"] = stamps["STAMP"].replace("$(VENV)", ".venv")
    rules = dict(re.findall(r"^\$\((\w*STAMP)\): (.+)$", makefile, re.M))
    assert set(rules) == set(stamps) and len(rules) >= 3
    installed_from = {name for prerequisites in rules.values() for name in prerequisites.split()}
    assert installed_from >= {"setup.cfg", "pyproject.toml", "requirements-checkov.txt", "requirements-taskcat.txt"}
    for name in installed_from:
        assert f"'{name}'" in cache["with"]["key"], f"the venv cache key must hash {name}"
    (touch,) = [s["run"] for _, _, s in steps(document) if s.get("if") == "steps.venvs.outputs.cache-hit == 'true'"]
    for stamp in stamps.values():
        assert stamp.split("/")[0] in cache["with"]["path"].split(), f"the cache must hold {stamp.split('/')[0]}"
        assert stamp in touch.split(), f"a restored {stamp.split('/')[0]} must be marked current"
    uploads = {
        s["with"]["name"]: s["with"]["path"]
        for _, _, s in steps(document)
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    }
    assert uploads == {"templates": "build/*.json", "policy-gate-report": "reports/"}


# --- the workflows' scripts, run by bash ----------------------------------------------------------------


def _script(step: dict[str, Any]) -> str:
    return step["run"].replace(".venv/bin/python ", "python ")


def _dry_run(script: str, env: dict[str, str], where: Path) -> list[list[str]]:
    """Run a step's script with `python` replaced by a recorder: bash expands the arguments exactly as on GitHub."""
    log = where / "argv.jsonl"
    log.unlink(missing_ok=True)
    recorder = (
        f'python() {{ "{sys.executable}" -c "import json, sys; print(json.dumps(sys.argv[1:]))" "$@" >> "{log}"; }}\n'
    )
    proc = subprocess.run(
        ["bash", "-e", "-c", recorder + script], cwd=where, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _check_call(argv: list[str]) -> None:
    """A python call in a workflow is a documented deploy.py command or the summary module, with valid flags."""
    if argv[:1] == ["deploy.py"]:
        normalized, notice = normalize(argv[1:], tuple(registry.COMMANDS))
        assert notice is None, f"old form in a workflow: {argv}"
        registry.parser().parse_args(normalized)  # a bad subcommand or flag raises BadInput
        documented = normalized[0] == "deploy" or f"python deploy.py {normalized[0]}" in COMMANDS_PAGE
        assert documented, f"undocumented: {argv}"
    elif argv[:2] == ["-m", "cylink_deploy.output.summary"]:
        summary.parser().parse_args(argv[2:])
        assert "cylink_deploy.output.summary" in CI_PAGE
    else:
        raise AssertionError(f"unexpected python call in a workflow: {argv}")


@pytest.mark.slow
@pytest.mark.parametrize("image_tag", ["v1.2.0", ""])
def test_every_python_call_in_the_workflows_is_a_documented_command(tmp_path, image_tag):
    env = {
        "PATH": os.environ["PATH"],
        "DEPLOY_ENV": "prod",
        "IMAGE_TAG": image_tag,
        "CHANGE_SET_ID": "arn:aws:cloudformation:cs/x",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_PATH": str(tmp_path / "path"),
    }
    calls = []
    for path in workflow_files():
        for job_id, _, step in steps(load(path.name)):
            if "run" in step and ("deploy.py" in step["run"] or "cylink_deploy" in step["run"]):
                assert set(step.get("env", {})) <= set(env), (
                    f"{path.name}:{job_id}: the dry run does not set {set(step['env']) - set(env)}"
                )
                calls += _dry_run(_script(step), env, tmp_path)
    for argv in calls:
        _check_call(argv)
    deploys = [c for c in calls if c[:2] == ["deploy.py", "deploy"]]
    tag = ["--image-tag", image_tag] if image_tag else []
    assert deploys == [["deploy.py", "deploy", "--env", "prod", "--no-execute", "--json", *tag]]
    assert ["deploy.py", "execute", "--env", "prod", "arn:aws:cloudformation:cs/x", "--yes", "--json"] in calls
    assert ["deploy.py", "build"] in calls


@pytest.mark.slow
@pytest.mark.parametrize("asked, flag", [("true", ["--supersede"]), ("false", [])])
def test_the_execute_job_supersedes_another_review_only_when_the_run_asked(tmp_path, asked, flag):
    """Issue 20: executing makes CloudFormation delete the stack's other change sets; deploy.py execute refuses
    that unless --supersede, which the workflow passes only for a run started with the supersede input."""
    document = load("deploy.yml")
    assert document["on"]["workflow_dispatch"]["inputs"]["supersede"] == {
        "description": "Execute even though another change set of the stack is under review (it becomes obsolete)",
        "type": "boolean",
        "default": False,
    }
    assert document["env"]["SUPERSEDE"] == "${{ inputs.supersede || false }}"  # a tag push: never
    (step,) = [s for s in document["jobs"]["execute"]["steps"] if s.get("id") == "execute"]
    env = {"PATH": os.environ["PATH"], "DEPLOY_ENV": "prod", "CHANGE_SET_ID": "arn:cs", "SUPERSEDE": asked}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary")
    calls = _dry_run(_script(step), env, tmp_path)
    assert calls == [["deploy.py", "execute", "--env", "prod", "arn:cs", "--yes", "--json", *flag]]
    for argv in calls:
        _check_call(argv)


@pytest.fixture(scope="module")
def own_emulator(fresh_emulator):
    """The shared emulator, emptied for this module: the workflow deploys the default stack, cylink-dev."""
    return fresh_emulator


class Job:
    """One job of a workflow, its `run:` steps executed by bash as the runner would, outputs collected."""

    def __init__(
        self, job: dict[str, Any], where: Path, env: dict[str, str], needs: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.job, self.where, self.env, self.needs = job, where, env, needs or {}
        self.step_outputs: dict[str, dict[str, str]] = {}

    def evaluate(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            parts = match.group(1).split(".")
            if parts[0] == "steps" and parts[2] == "outputs":
                return self.step_outputs.get(parts[1], {}).get(parts[3], "")
            if parts[0] == "needs" and parts[2] == "outputs":
                return self.needs[parts[1]].get(parts[3], "")
            raise AssertionError(f"this harness does not evaluate ${{{{ {match.group(1)} }}}}: extend it")

        return EXPRESSION.sub(value, str(text))

    def run(self, step_id: str) -> subprocess.CompletedProcess[str]:
        (step,) = [s for s in self.job["steps"] if s.get("id") == step_id]
        output = self.where / f"output-{step_id}"
        env = {
            **self.env,
            **{k: self.evaluate(v) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output),
        }
        proc = subprocess.run(
            ["bash", "-e", "-c", _script(step)], cwd=self.where, env=env, capture_output=True, text=True, timeout=900
        )
        if output.exists():
            self.step_outputs[step_id] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return proc

    def outputs(self) -> dict[str, str]:
        return {k: self.evaluate(v) for k, v in self.job.get("outputs", {}).items()}


@pytest.mark.slow
def test_the_deploy_workflow_scripts_plan_summarise_and_execute_exactly_that_change_set_on_the_emulator(
    tmp_path, own_emulator
):
    where = project_copy(tmp_path / "checkout")
    (where / "templates_src").symlink_to(
        REPO / "templates_src"
    )  # a checkout: deploy.py finds the project from the working directory
    (where / "deploy.py").symlink_to(REPO / "deploy.py")
    # `python -m cylink_deploy.summary` runs the checkout's package, not whichever checkout is installed
    (where / "cylink_deploy").symlink_to(REPO / "cylink_deploy")
    job_summary = tmp_path / "summary.md"
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "DEPLOY_ENV": "dev",
        "IMAGE_TAG": "1.0.0",
        "AWS_REGION": "ap-northeast-1",
        "GITHUB_STEP_SUMMARY": str(job_summary),
        # what configure-aws-credentials provides on GitHub; here the emulator's endpoint and fake keys
        "AWS_ENDPOINT_URL": own_emulator.endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
    }
    document = load("deploy.yml")

    plan = Job(document["jobs"]["plan"], where, env)
    for step_id in ("pin", "plan", "summary"):
        proc = plan.run(step_id)
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert plan.step_outputs["pin"] == {"account": "", "region": "", "plan-role-arn": ""}  # dev: not pinned
    outputs = plan.outputs()
    assert outputs["environment"] == "dev" and outputs["status"] == "REVIEW"
    assert outputs["change-set-id"].startswith("arn:aws:cloudformation:") and outputs["change-set-name"].startswith(
        "cylink-dev-"
    )
    table = job_summary.read_text()
    assert f"### Change set `{outputs['change-set-name']}` for `cylink-dev` (REVIEW)" in table
    assert "| Add | ServicesStack | AWS::CloudFormation::Stack |" in table and "| Add | NetworkStack |" in table

    execute = Job(document["jobs"]["execute"], where, env, needs={"plan": outputs})
    proc = execute.run("execute")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((where / "result.json").read_text())
    assert result["status"] == "DEPLOYED" and result["changeSetId"] == outputs["change-set-id"]
    cfn = boto3.client(
        "cloudformation",
        region_name="ap-northeast-1",
        endpoint_url=own_emulator.endpoint,
        **credentials(FAKE_CREDENTIALS),
    )
    assert cfn.describe_stacks(StackName="cylink-dev")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert execute.run("result").returncode == 0  # the job summary says what was executed, from result.json
    assert f"### Change set `{outputs['change-set-name']}` for `cylink-dev` (DEPLOYED)" in job_summary.read_text()

    # CI pushed 1.0.0 to both repositories (the plan checks an image tag in ECR before planning with it)
    ecr = boto3.client(
        "ecr", region_name="ap-northeast-1", endpoint_url=own_emulator.endpoint, **credentials(FAKE_CREDENTIALS)
    )
    stack_outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="cylink-dev")["Stacks"][0]["Outputs"]
    }
    for svc in ("Backend", "Frontend"):
        repository = stack_outputs[f"{svc}RepositoryUri"].split("/", 1)[1]
        ecr.put_image(repositoryName=repository, imageManifest=image_manifest(svc[0].lower()), imageTag="1.0.0")
    # the next run of the same commit: nothing to approve, so the execute job's condition is false
    again = Job(document["jobs"]["plan"], where, env)
    for step_id in ("plan", "summary"):
        assert again.run(step_id).returncode == 0
    assert again.outputs()["status"] == "NO_CHANGES"
    assert "### cylink-dev: no changes" in job_summary.read_text()


@pytest.mark.slow
def test_the_execute_step_fails_the_job_when_the_change_set_is_gone(tmp_path, own_emulator):
    where = project_copy(tmp_path / "checkout")
    (where / "templates_src").symlink_to(REPO / "templates_src")
    (where / "deploy.py").symlink_to(REPO / "deploy.py")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "AWS_REGION": "ap-northeast-1",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "AWS_ENDPOINT_URL": own_emulator.endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
    }
    execute = Job(
        load("deploy.yml")["jobs"]["execute"],
        where,
        env,
        needs={"plan": {"environment": "staging", "change-set-id": "cylink-staging-20260101-000000-000000"}},
    )
    proc = execute.run("execute")
    assert proc.returncode == 4 and "no change set" in proc.stderr
    assert not (tmp_path / "summary.md").exists()  # nothing claims it executed
    assert execute.run("result").returncode == 4  # the summary step says why, and fails as the run did
    said = (tmp_path / "summary.md").read_text()
    assert said.startswith("### deploy.py failed (exit 4)") and "no change set" in said


# --- the deploy jobs run only hash-pinned code ----------------------------------------------------------------

DEPLOY_REQUIREMENTS = REPO / "requirements-deploy.txt"


def _pins() -> dict[str, tuple[str, list[str]]]:
    """requirements-deploy.txt as name -> (version, hashes)."""
    text = DEPLOY_REQUIREMENTS.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            spec, *options = line.split()
            name, _, version = spec.partition("==")
            pins[name.lower()] = (
                version,
                [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")],
            )
    return pins


def test_the_deploy_jobs_install_only_hash_pinned_requirements_and_restore_no_cache():
    """A job holding id-token: write runs nothing a cache entry or an unpinned resolution could have changed."""
    for job_id, job in load("deploy.yml")["jobs"].items():
        assert job["permissions"].get("id-token") == "write", job_id
        uses = [s.get("uses", "") for s in job["steps"]]
        assert not any(u.startswith("actions/cache") for u in uses), f"{job_id} restores a cache"
        runs = "\n".join(s.get("run", "") for s in job["steps"])
        assert "make " not in runs and ".venv/" not in runs, f"{job_id} installs the dev environment"
        install = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
        assert len(install) == 1 and all(
            flag in install[0] for flag in ("--require-hashes", "--no-deps", "--only-binary :all:")
        ), job_id
        assert "-r requirements-deploy.txt" in install[0].replace("\\\n", " ").replace("  ", " "), job_id


def test_the_deploy_requirements_are_the_runtime_pinned_with_hashes_at_the_tested_versions():
    """Every line ==-pinned with sha256 hashes; setup.cfg's install_requires all there, within their ranges;
    each at the version this test run imports, so the deploy job runs what the tests ran."""
    import configparser
    from importlib.metadata import version

    from packaging.requirements import Requirement

    pins = _pins()
    assert pins and all(v and hashes for v, hashes in pins.values()), pins
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    for line in cfg["options"]["install_requires"].strip().splitlines():
        req = Requirement(line)
        pinned = pins[req.name.lower()][0]
        assert req.specifier.contains(pinned), f"{req.name}=={pinned} outside setup.cfg's {req.specifier}"
    for name, (pinned, _) in pins.items():
        assert version(name) == pinned, f"{name}: tests run {version(name)}, deploy jobs {pinned}"
    compiled_from = (REPO / "requirements-deploy.in").read_text()
    assert {Requirement(x).name.lower() for x in compiled_from.splitlines() if x and not x.startswith("#")} == {
        Requirement(x).name.lower() for x in cfg["options"]["install_requires"].strip().splitlines()
    }
