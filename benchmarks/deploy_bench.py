#!/usr/bin/env python3
"""Deploy benchmark on this machine: synthesis, lint, full local create, and a no-op redeploy.

Run it the same way every time: ``make bench`` (or ``python benchmarks/deploy_bench.py``). Every figure
is measured in this run, next to a baseline measured in the same run: the bare minimum a deploy must do
against the same emulator (create the bucket, upload the templates, CreateStack, read outputs) with raw
boto3 and no validation, lint, change set or review. Ratios are ours / baseline. Targets (issue 3):
create <= 10 s, no-op <= 3 s with 0 uploads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Final

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402

from cylink_deploy import aws, cli  # noqa: E402
from cylink_deploy.emulator import FAKE_CREDENTIALS, Emulator  # noqa: E402
from cylink_deploy.preflight import build as build_step  # noqa: E402
from cylink_deploy.preflight import lint as lint_step  # noqa: E402
from cylink_deploy.project import Project  # noqa: E402
from templates_src import render  # noqa: E402

REGION: Final = "ap-northeast-1"
RUNS = 3


class CallCounter:
    """Counts AWS API calls made by every client deploy.py creates (botocore 'before-call')."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._original = aws.make_clients

    def __enter__(self) -> "CallCounter":
        def counting(session: boto3.Session, endpoint_url: str | None = None) -> aws.Clients:
            clients = self._original(session, endpoint_url)
            for client in (clients.cloudformation, clients.s3, clients.sts):
                client.meta.events.register("before-call", lambda model, **kw: self.calls.append(model.name))
            return clients

        aws.make_clients = counting
        return self

    def __exit__(self, *exc: object) -> None:
        aws.make_clients = self._original


def run_cli(argv: list[str]) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["--json", *argv], stdin=io.StringIO())
    if code != 0:
        raise SystemExit(f"deploy.py {' '.join(argv)} exited {code}:\n{err.getvalue()[-2000:]}")
    return json.loads(out.getvalue())


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def baseline_create(stack: str) -> None:
    """Raw boto3 against a fresh emulator: the least any deploy of these templates must do."""
    with Emulator() as emu:
        session = boto3.Session(
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
        )
        s3 = session.client("s3", endpoint_url=emu.endpoint)
        cfn = session.client("cloudformation", endpoint_url=emu.endpoint)
        s3.create_bucket(Bucket="baseline-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, text in render.render().items():
            s3.put_object(Bucket="baseline-bucket", Key=f"t/{name}", Body=text.encode())
        params = {
            "TemplatesBucket": "baseline-bucket",
            "TemplatesKeyPrefix": "t/",
            "EgressMode": "none",
            "RedisNodeCount": "1",
            "ImageTag": "1.0.0",
        }
        cfn.create_stack(
            StackName=stack,
            TemplateURL=f"https://baseline-bucket.s3.{REGION}.amazonaws.com/t/root.json",
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]


def main() -> None:
    project = Project.find(REPO)
    lint_cache = project.lint_cache
    synth = [timed(render.render)[0] for _ in range(5)]
    built = build_step.build(project.build_dir)
    lint_seconds, problems = timed(lambda: lint_step.lint(built.paths, sorted(project.params_dir.glob("*.yaml"))))
    assert not problems, problems

    # Full local create, emulator start included, cold lint cache (a first run on a fresh clone).
    creates, create_calls, create_uploads, baselines = [], 0, 0, []
    for _ in range(RUNS):
        shutil.rmtree(lint_cache, ignore_errors=True)
        with CallCounter() as counter:
            seconds, doc = timed(lambda: run_cli(["--env", "dev", "--local", "--yes", "--image-tag", "1.0.0"]))
        creates.append(seconds)
        create_calls, create_uploads = len(counter.calls), len(doc["uploaded"])
        baselines.append(timed(lambda: baseline_create("baseline"))[0])

    # No-op redeploy against a running emulator (deploy.py --serve-local + AWS_ENDPOINT_URL).
    noops, noop_calls, noop_uploads = [], 0, 0
    with Emulator() as emu:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": emu.endpoint,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        run_cli(["--env", "dev", "--yes", "--image-tag", "1.0.0"])
        for _ in range(RUNS):
            with CallCounter() as counter:
                seconds, doc = timed(lambda: run_cli(["--env", "dev", "--yes", "--image-tag", "1.0.0"]))
            assert doc["status"] == "NO_CHANGES", doc["status"]
            noops.append(seconds)
            noop_calls, noop_uploads = len(counter.calls), len(doc["uploaded"])
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(key)

    # The README's main job as a user runs it: a fresh interpreter, imports included.
    shutil.rmtree(lint_cache, ignore_errors=True)
    readme_seconds, proc = timed(
        lambda: subprocess.run(
            [sys.executable, "deploy.py", "--env", "dev", "--local", "--yes", "--image-tag", "1.0.0"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    )
    assert proc.returncode == 0, proc.stderr

    base = statistics.median(baselines)
    rows = [
        ("synthesis (render all templates)", statistics.median(synth), None, "", "< 1 s"),
        (f"cfn-lint ({len(render.render())} templates + 3 param files)", lint_seconds, None, "", "reported separately"),
        ("baseline: raw boto3 create, emulator start", base, 1.0, "", ""),
        (
            "create: deploy.py --local, emulator start",
            statistics.median(creates),
            statistics.median(creates) / base,
            f"{create_calls} calls, {create_uploads} uploads",
            "<= 10 s",
        ),
        (
            "no-op redeploy (running emulator)",
            statistics.median(noops),
            statistics.median(noops) / base,
            f"{noop_calls} calls, {noop_uploads} uploads",
            "<= 3 s, 0 uploads",
        ),
        ("README main job (fresh python process)", readme_seconds, readme_seconds / base, "", ""),
    ]
    print(f"deploy benchmark: median of {RUNS} runs (synthesis: 5), this machine, same run")
    print(f"{'measure':45} {'seconds':>8} {'x base':>7}  {'AWS calls / uploads':24} target")
    for name, seconds, ratio, extra, target in rows:
        print(f"{name:45} {seconds:8.3f} {'' if ratio is None else f'{ratio:6.2f}x':>7}  {extra:24} {target}")
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(
        json.dumps({name: {"seconds": s, "ratio": r, "detail": e} for name, s, r, e, _ in rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
