#!/usr/bin/env python3
"""Pre-flight benchmark: build + cfn-lint, as a fresh process, the way a deploy starts.

Run it the same way every time: ``make bench-preflight`` (or ``python benchmarks/preflight_bench.py``).
Everything is measured in this run, in fresh Python processes on a private copy of the project:

- baseline: the pre-flight as it was before per-template linting -- render, then one cfn-lint run over
  all templates and one over the root with the parameter file, in one process, nothing cached;
- cold: ``deploy.py build --env dev`` with an empty lint cache (each template and the root with its
  parameter file linted in parallel worker processes);
- edit one child: the same after changing one nested stack's source (only that child is linted again);
- no change: the same again (everything cached);
- cfn-lint load: a fresh process that only imports cfn-lint and loads its rules, as the lint process does.
  Not a pre-flight: the floor under any fresh process that lints at all (an edit to one child cannot
  be checked faster than this without a resident process).

Targets (issue 9): cold <= 0.5 x baseline, edit one child <= 0.2 x baseline. Ratios are what to compare
across machines; seconds vary with the machine and its load.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 5

BASELINE = """
from pathlib import Path
import yaml
from cfnlint.api import lint_by_config
from cfnlint.config import ManualArgs
from cfnlint.context.parameters import ParameterSet
from templates_src import render
paths = render.write(Path("build"), render.render())
assert not lint_by_config(ManualArgs(templates=[str(p) for p in paths], regions=["ap-northeast-1"]))
values = yaml.safe_load(Path("params/dev.yaml").read_text())["parameters"]
values = {k: str(v) for k, v in values.items()}
with_values = [ParameterSet("params/dev.yaml", values)]
assert not lint_by_config(ManualArgs(templates=["build/root.json"], parameters=with_values, regions=["ap-northeast-1"]))
"""


LOAD_ONLY = """
import gc
gc.disable()
from cylink_deploy.preflight.lint import cfnlint
cfnlint()
"""


def copy_project(where: Path) -> Path:
    for name in ("templates_src", "cylink_deploy", "params", "policies"):
        shutil.copytree(REPO / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "deploy.py", where / "deploy.py")
    return where


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    rows: dict[str, list[float]] = {
        "baseline": [],
        "cold": [],
        "edit one child": [],
        "no change": [],
        "cfn-lint load (floor, not a pre-flight)": [],
    }
    for run in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            project = copy_project(Path(tmp))
            build = [sys.executable, "deploy.py", "build", "--env", "dev", "--project-dir", str(project)]
            rows["baseline"].append(timed([sys.executable, "-c", BASELINE], project))
            shutil.rmtree(project / "build")
            rows["cold"].append(timed(build, project))
            dns = project / "templates_src" / "dns.py"
            dns.write_text(dns.read_text().replace('Template(Description="', f'Template(Description="(edit {run}) ', 1))
            rows["edit one child"].append(timed(build, project))
            rows["no change"].append(timed(build, project))
            rows["cfn-lint load (floor, not a pre-flight)"].append(timed([sys.executable, "-c", LOAD_ONLY], project))
    base = statistics.median(rows["baseline"])
    targets = {"cold": "<= 0.50x", "edit one child": "<= 0.20x"}
    print(f"pre-flight benchmark: median of {RUNS} runs, fresh processes, this machine, same run")
    print(f"{'measure':40} {'seconds':>8} {'x base':>7}  target")
    for name, values in rows.items():
        seconds = statistics.median(values)
        print(f"{name:40} {seconds:8.2f} {seconds / base:6.2f}x  {targets.get(name, '')}")


if __name__ == "__main__":
    main()
