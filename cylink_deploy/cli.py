"""Command line of ``deploy.py``: parse flags, run the steps, print through ``report``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import build as build_step
from .errors import EXIT_OK, DeployError

EPILOG = """exit codes:
  0  deployed, or no changes          1  deployment or lint failed
  2  bad flag / parameter file        3  credentials, region or permissions
  4  stack needs recovery first       5  declined at the prompt, or no TTY without --yes
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy.py",
        description="Build, lint and deploy Cylink's nested CloudFormation stacks through reviewed change sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--env", help="environment: reads params/ENV.yaml; stack cylink-ENV")
    p.add_argument("--build-only", action="store_true", help="render templates into build/ and cfn-lint them (and params/*.yaml); no AWS calls")
    return p


def run_build(env: str | None) -> int:
    """Render and lint; every lint match is an error (warnings included)."""
    result = build_step.build()
    print(f"Synthesised {len(result.files)} templates in {result.synth_seconds * 1000:.0f} ms -> {build_step.BUILD_DIR}")
    start = time.perf_counter()
    param_files = [build_step.PARAMS_DIR / f"{env}.yaml"] if env else sorted(build_step.PARAMS_DIR.glob("*.yaml"))
    problems = build_step.lint(result.paths, param_files)
    print(f"cfn-lint: {len(result.paths)} templates, {len(param_files)} parameter files in {time.perf_counter() - start:.1f} s")
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    if problems:
        print(f"cfn-lint found {len(problems)} problem(s): fix them before deploying", file=sys.stderr)
        return 1
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.build_only:
            return run_build(args.env)
        parser().error("nothing to do: give --env ENV (or --build-only)")
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return EXIT_OK
