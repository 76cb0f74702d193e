#!/usr/bin/env python3
"""Test-suite benchmark: wall clock of the fast tier (``make test-fast``) and of the full pytest run of
``make test``, as fresh processes, on this machine.

Run it the same way every time: ``make bench-tests`` (or ``python benchmarks/test_suite_bench.py
[--runs N] [--fast-only]``). It prints, per tier, the median wall time, the CPU seconds used by pytest
and its children (a figure that depends less on other load), and the load average at the start:
timings on a shared machine are noisy, so compare runs made at a similar load.

Targets (issue 19): the fast tier under 60 s, the full suite at most 240 s of pytest wall time. Nothing
here asserts them: a benchmark measures, the tests prove behaviour.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIERS = {
    "fast tier (make test-fast)": (["-m", "not slow"], 60.0),
    "full suite (make test's pytest)": (["-n", "auto", "--dist", "loadfile"], 240.0),
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run; a failing run ends the benchmark."""
    cpu, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        log = REPO / "benchmarks" / "results" / "test_suite_bench-failure.txt"  # git-ignored
        log.parent.mkdir(exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
        summary = proc.stdout[proc.stdout.rfind("short test summary") :] or proc.stdout[-2000:]
        raise SystemExit(f"pytest {' '.join(args)} failed (whole output: {log}):\n{summary}{proc.stderr[-2000:]}")
    return wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description="Wall clock of the fast tier and of the full test suite.")
    parser.add_argument("--runs", type=int, default=1, help="runs per tier (the median is printed)")
    parser.add_argument("--fast-only", action="store_true", help="the fast tier only")
    options = parser.parse_args()
    print(f"test-suite benchmark: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'tier':34} {'wall s':>7} {'cpu s':>7} {'target':>8}  load")
    for name, (args, target) in TIERS.items():
        if options.fast_only and "fast" not in name:
            continue
        runs = [timed(args) for _ in range(options.runs)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:34} {wall:7.1f} {cpu:7.1f} {'<=' + format(target, '.0f'):>8}  {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
