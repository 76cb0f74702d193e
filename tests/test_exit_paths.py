"""Every way a run can end, as a user sees it: deploy.py as a subprocess, one line on stderr, and the
exit code of docs/commands.md's list. Nothing here reaches AWS (failures happen before any call, or against
a closed port on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from cylink_deploy import cli
from cylink_deploy.cfn import identity
from cylink_deploy.jobs import build as build_job
from cylink_deploy.jobs import delete as delete_job
from cylink_deploy.jobs import deploy as deploy_job

from .conftest import REPO, project_copy

CLEAN_AWS = {
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def deploy_py(
    project: Path, *argv: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | CLEAN_AWS
    return subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), *argv, "--project-dir", str(project)],
        env=base | (env or {}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return project_copy(tmp_path_factory.mktemp("exit-paths"))


FAKE = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
CASES = [
    # (argv, environment, exit code, what the one line says)
    (["--env", "dev", "--bogus"], {}, 2, "unrecognized arguments: --bogus"),
    (["--env", "qa", "--yes"], {}, 2, "known environments: dev, prod, staging"),
    (["--env", "dev", "--yes", "--region", ""], FAKE, 2, "--region '' is not an AWS region"),
    (["--env", "dev", "--yes"], FAKE | {"AWS_REGION": "tokyo"}, 2, "AWS_REGION 'tokyo' is not an AWS region"),
    (["--env", "dev", "--yes", "--image-tag", ""], FAKE, 2, "--image-tag is empty (an unset CI variable?)"),
    (["--env", "dev", "--yes", "--parameter", "ImageTag="], FAKE, 2, "--parameter ImageTag= is empty (an unset"),
    (["release", "--env", "dev", "--yes", "--rollback-to", "bad tag"], FAKE, 2, "--rollback-to 'bad tag' is not an"),
    (["--env", "prod", "--yes", "--image-tag", "1.0.0"], FAKE, 2, "DomainName is empty: prod would serve"),
    (["--env", "dev", "--yes", "--parameter", "RedisNodeCount=nan"], FAKE, 2, "RedisNodeCount must be a whole number"),
    (["--env", "dev", "--yes", "--stack-name", "cylink-dev\n"], FAKE, 2, "--stack-name"),
    (["--env", "dev", "--yes"], {"AWS_PROFILE": "no-such-profile"}, 2, "AWS_PROFILE no-such-profile: no such profile"),
    (["--env", "dev", "--yes"], {}, 3, "no AWS credentials found"),
    (["--env", "dev", "--yes"], FAKE | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, 3, "cannot reach the AWS endpoint"),
    (["--env", "dev"], FAKE, 5, "no terminal to confirm on: pass --yes (CI), or review first with --no-execute"),
    (["--env", "dev", "--parameter", "Foo=1"], FAKE, 2, "unknown parameter Foo"),  # bad input first, then the TTY
    (["--env", "dev", "--image-tag", ""], FAKE, 2, "--image-tag is empty"),
    (["delete", "--env", "dev"], FAKE, 5, "no terminal to confirm on: pass --yes (CI)"),
    (["serve-local", "--port", "80"], {}, 2, "use a free port between 1024 and 65535"),
    (["--delete", "--bootstrap"], {}, 2, "--delete and --bootstrap cannot be combined"),
    (["cost", "--event-hours", "0"], {}, 2, "must be a number of hours more than 0"),
]


WAITS = next(i for i, case in enumerate(CASES) if "AWS_ENDPOINT_URL" in case[1])  # the closed port


@pytest.fixture(scope="module")
def runs(project, tmp_path_factory) -> Iterator[dict[int, Future[subprocess.CompletedProcess[str]]]]:
    """Every case's deploy.py, started up front on two threads. The closed port's run spends half a minute
    idle in botocore's retry backoff, holding its project's build lock: it gets a project of its own and
    starts first, and the other cases run beside it, not after it. Each case's test waits for its own
    run, so all are done when the last one ends."""
    own = project_copy(tmp_path_factory.mktemp("exit-paths-closed-port"))
    order = [WAITS] + [i for i in range(len(CASES)) if i != WAITS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {i: pool.submit(deploy_py, own if i == WAITS else project, *CASES[i][0], env=CASES[i][1]) for i in order}


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[3][:40] for c in CASES])
def test_each_failure_is_one_line_with_the_documented_exit_code(runs, case):
    _, _, code, message = CASES[case]
    proc = runs[case].result()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == code, proc.stderr
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_params_file_that_is_not_utf8_or_repeats_a_key_is_one_line(tmp_path):
    project = project_copy(tmp_path)
    dev = project / "params" / "dev.yaml"
    dev.write_bytes(dev.read_bytes() + "  # 開発環境\n".encode("shift_jis"))
    proc = deploy_py(project, "--env", "dev", "--yes", env=FAKE)
    assert proc.returncode == 2 and "save it as UTF-8" in proc.stderr and proc.stderr.count("\n") == 1
    dev.write_text("template-file-path: build/root.json\nparameters:\n  EgressMode: none\n  EgressMode: none\n")
    proc = deploy_py(project, "--env", "dev", "--yes", env=FAKE)
    assert proc.returncode == 2 and "dev.yaml:4:3: key 'EgressMode' is given twice" in proc.stderr


@pytest.mark.slow
def test_an_unwritable_build_directory_is_one_line(tmp_path):
    project = project_copy(tmp_path)
    (project / "build").write_text("a file where the build directory should be")
    proc = deploy_py(project, "build", env=FAKE)
    assert proc.returncode == 2 and "cannot write the build directory" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys, project):
    def broken(*args, **kwargs):
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr(build_job, "build", broken)
    assert cli.main(["build", "--project-dir", str(project)]) == 1
    err = capsys.readouterr().err
    assert (
        err == "error: unexpected RuntimeError: something nobody planned for (rerun with --debug for the traceback)\n"
    )
    assert cli.main(["build", "--debug", "--project-dir", str(project)]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_ctrl_c_before_any_aws_call_says_nothing_was_executed(monkeypatch, capsys, project):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_job, "build", interrupted)
    assert cli.main(["build", "--project-dir", str(project)]) == 5
    assert capsys.readouterr().err == "error: interrupted; nothing was executed\n"  # build makes no change set


def test_ctrl_c_while_execute_change_set_is_being_sent_says_the_operation_continues(monkeypatch):
    """The call may have reached AWS before the interrupt: the reporter counts it as sent before the call
    (it used to wait for the first stack event, and said "nothing was executed" for an executed change set)."""
    from cylink_deploy.cfn import changesets, stacks
    from cylink_deploy.cfn import events as stack_events
    from cylink_deploy.output.human import HumanReporter

    sent_before_call = []
    reporter = HumanReporter(out=open(os.devnull, "w"))

    def execute(cfn, change_set_id):
        sent_before_call.append(reporter.in_flight)
        raise KeyboardInterrupt

    monkeypatch.setattr(stack_events, "existing_event_ids", lambda cfn, stack_id: set())
    monkeypatch.setattr(stacks, "nested_stacks", lambda cfn, stack_id: [])
    monkeypatch.setattr(changesets, "execute_change_set", execute)
    with pytest.raises(KeyboardInterrupt):
        deploy_job.execute_and_follow(
            object(),  # type: ignore[arg-type]  # no client: every step that would use it is replaced
            "stack",
            "cs-id",
            "stack-id",
            1,
            reporter,
            lambda s: None,
        )
    assert sent_before_call == ["ExecuteChangeSet"]


def test_ctrl_c_after_an_operation_was_sent_says_it_continues(monkeypatch, capsys, project):
    def sent_then_interrupted(request, clients, reporter, *args, **kwargs):
        reporter.sent("DeleteStack")
        raise KeyboardInterrupt

    monkeypatch.setattr(delete_job, "delete", sent_then_interrupted)
    monkeypatch.setattr(identity, "require_env", lambda cfn, stack, env: None)  # no AWS here: see test_identity.py
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert cli.main(["delete", "--env", "dev", "--yes", "--project-dir", str(project)]) == 5
    assert capsys.readouterr().err.startswith("error: interrupted; the CloudFormation operation already sent continues")


def test_the_emulator_needs_no_aws_setup_even_with_an_unknown_profile_in_the_environment(monkeypatch):
    from cylink_deploy import aws
    from cylink_deploy.emulator import FAKE_CREDENTIALS

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = aws.make_session(None, None, FAKE_CREDENTIALS, env={})
    assert session.region_name == aws.DEFAULT_REGION
    found = session.get_credentials()
    assert found is not None and found.access_key == FAKE_CREDENTIALS["aws_access_key_id"]


@pytest.mark.parametrize(
    "flag, env, region",
    [
        (None, {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}, "us-west-2"),
        (None, {"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ("ap-northeast-3", {"AWS_REGION": "us-west-2"}, "ap-northeast-3"),
        (None, {}, "ap-northeast-1"),
    ],
)
def test_the_region_is_the_flag_then_aws_region_then_aws_default_region_then_tokyo(flag, env, region):
    from cylink_deploy import aws

    assert aws.choose_region(flag, env, None) == region


def test_the_options_of_every_subcommand_may_come_before_it():
    from cylink_deploy import cli
    from cylink_deploy.commands.legacy import normalize

    assert normalize(["--project-dir", "/p", "delete", "--env", "dev"], tuple(cli.COMMANDS)) == (
        ["delete", "--project-dir", "/p", "--env", "dev"],
        None,
    )
    assert normalize(["--debug", "--env", "dev"], tuple(cli.COMMANDS)) == (["deploy", "--debug", "--env", "dev"], None)


@pytest.mark.slow
def test_a_project_dir_without_params_is_refused_before_anything_is_written(tmp_path):
    """A typo in --project-dir once created DIR/build and linted zero parameter files, exit 0."""
    missing = tmp_path / "no-such-checkout"
    proc = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "build", "--project-dir", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: --project-dir {missing}: no params/*.yaml there; pass the checkout's root "
        "(the directory with params/ and deploy.py)"
    )
    assert not missing.exists()
    (missing / "params").mkdir(parents=True)  # a params/ directory without parameter files: the same
    again = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "build", "--project-dir", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and "no params/*.yaml there" in again.stderr
    assert not (missing / "build").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda text: ("# 開発環境\n" + text).encode("shift_jis"), "save it as UTF-8"),
        (lambda text: text.replace("parameters:\n", 'parameters:\n  LogRetentionDays: "14"\n').encode(), "given twice"),
    ],
    ids=["shift-jis", "duplicate-key"],
)
def test_build_reads_a_parameter_file_as_deploy_does(tmp_path, edit, says):
    """build once reported a Shift-JIS file as a lint problem (exit 1) and let a duplicate key through (exit 0)."""
    where = project_copy(tmp_path)
    dev = where / "params" / "dev.yaml"
    dev.write_bytes(edit(dev.read_text()))
    for argv in (["build", "--env", "dev"], ["build"], ["--env", "dev", "--yes"]):
        proc = deploy_py(where, *argv, env=FAKE)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and says in proc.stderr, (argv, proc.stderr)


@pytest.mark.slow
def test_a_project_with_templates_of_its_own_is_refused_not_built_from_this_checkout(tmp_path):
    """Templates come from the templates_src this deploy.py imports: another checkout's edits were
    silently ignored (its build/ filled with this checkout's templates, exit 0)."""
    import shutil

    other = project_copy(tmp_path / "other")
    shutil.copytree(REPO / "templates_src", other / "templates_src", ignore=shutil.ignore_patterns("__pycache__"))
    by_flag = deploy_py(other, "build")
    from_cwd = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), "build"], cwd=other, capture_output=True, text=True, timeout=120
    )
    for proc, named_by in ((by_flag, "--project-dir"), (from_cwd, "the working directory's checkout")):
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"error: {named_by} {other} has templates_src/ of its own"), proc.stderr
        assert proc.stderr.strip().endswith(f"run {other / 'deploy.py'} instead") and len(proc.stderr.splitlines()) == 1
    assert not (other / "build").exists()


def _tool_copy(where: Path) -> Path:
    """A whole checkout of the tool (its own templates), to edit a template source as a user would."""
    import shutil

    for name in ("cylink_deploy", "templates_src", "params", "policies"):
        shutil.copytree(REPO / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "deploy.py", where / "deploy.py")
    return where


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("PendingWindowInDays=3,", "templates_src/keys.py:117: ValueError: Integer must be between 7 and 30 ("),
        ('BogusProperty="x",', "templates_src/keys.py:117: AttributeError: AWS::KMS::Key object does not support"),
    ],
    ids=["value", "property"],
)
def test_a_template_source_troposphere_refuses_is_one_line_naming_the_source_line(tmp_path, change, says):
    """These were 'unexpected' errors without a place, one of them with a second line from troposphere."""
    tool = _tool_copy(tmp_path)
    keys = tool / "templates_src" / "keys.py"
    keys.write_text(
        keys.read_text().replace(
            "            EnableKeyRotation=True,", f"            {change}\n" + "            EnableKeyRotation=True,", 1
        )
    )
    proc = subprocess.run(
        [sys.executable, str(tool / "deploy.py"), "build"], cwd=tool, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: the templates do not render: {says}"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_an_unknown_flag_points_at_its_subcommands_help(capsys):
    """argparse's top level said 'see: deploy.py --help', which does not list a subcommand's flags."""
    assert cli.main(["status", "--env", "dev", "--bogus"]) == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --bogus (see: deploy.py status --help)\n"
