"""The half of a deploy that needs no AWS: render the templates, check the parameter file, and run
cfn-lint in the background (``prepare``); ``build`` is the same as a job of its own (``deploy.py build``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cylink_deploy.errors import BadInput, DeploymentFailed
from cylink_deploy.jobs.model import DeployRequest, Result, Status
from cylink_deploy.jobs.reporter import Reporter
from cylink_deploy.jobs.views import Waiting
from cylink_deploy.preflight import build as build_step
from cylink_deploy.preflight import lint as lint_step
from cylink_deploy.preflight import params, pins
from cylink_deploy.project import Project
from templates_src import render


def render_into(project: Project, waiting: Callable[[str], None]) -> tuple[build_step.Build, Callable[[], None]]:
    """Render into the build directory, held for this process until the returned release is called."""
    release: Callable[[], None] = lambda: None  # noqa: E731
    try:
        release = project.lock_build(waiting)
        return build_step.build(project.build_dir), release
    except build_step.TemplateError as exc:
        release()
        raise DeploymentFailed(f"the templates do not render: {exc}") from None
    except OSError as exc:
        release()
        raise BadInput(
            f"cannot write the build directory {project.build_dir} ({exc.strerror}): "
            "make it writable, or run from (or pass --project-dir) a writable checkout"
        ) from None


def build(project: Project, reporter: Reporter, env: str | None = None) -> Result:
    """Render and lint (templates, and the parameter files: ENV's or all); any lint match is an error."""
    param_files = [params.env_file(project.params_dir, env)] if env else sorted(project.params_dir.glob("*.yaml"))
    linter = lint_step.linter()  # loads cfn-lint while the templates render
    release: Callable[[], None] = lambda: None  # noqa: E731
    try:
        result, release = render_into(project, reporter.warn)
        reporter.step(
            f"Synthesised {len(result.files)} templates in {result.synth_seconds * 1000:.0f} ms -> {project.build_dir}"
        )
        root_parameters = json.loads(result.files[render.ROOT_FILE])["Parameters"]
        for path in param_files:  # read as a deploy reads them (a deploy adds only its own rules): exit 2
            params.resolve(path.stem, path, root_parameters, deploying=False)
            pins.load(project.params_dir, path.stem)  # a hand-broken pin fails here (pre-commit), not at the deploy
        lint = lint_step.Lint(result.paths, param_files, project.lint_cache, linter=linter)
        reporter.show(Waiting(f"cfn-lint: {len(result.paths)} templates, {len(param_files)} parameter files"))
        problems = lint.result()
    finally:
        linter.close()
        release()
    for warning in lint.warnings:
        reporter.warn(warning)
    how = (
        "all cached clean"
        if lint.cached
        else f"{len(lint.pending)} of {len(lint.units)} linted, {time.perf_counter() - lint.started:.1f} s"
    )
    reporter.step(f"cfn-lint: {len(result.paths)} templates, {len(param_files)} parameter files ({how})")
    for line in problems:
        reporter.detail(line)
    if problems:
        raise DeploymentFailed(f"cfn-lint found {len(problems)} problem(s): fix them before deploying")
    return Result(Status.BUILT, extra={"templates": sorted(result.files)})


@dataclass
class Prepared:
    """What needs no AWS: validated parameters, built templates, and cfn-lint under way."""

    deployment: params.Deployment
    build: build_step.Build
    param_file: Path
    lint: lint_step.Lint

    def close(self) -> None:
        self.lint.close()


def prepare(request: DeployRequest, project: Project, reporter: Reporter | None = None) -> Prepared:
    """Validate parameters and build (bad input stops here), then start cfn-lint in the background. The
    build directory stays held until the lint result is in (``reporter`` hears if that means waiting)."""
    param_file = params.env_file(project.params_dir, request.env)
    linter = lint_step.linter()  # loads cfn-lint while the templates render and the parameters are checked
    release: Callable[[], None] = lambda: None  # noqa: E731
    try:
        result, release = render_into(project, reporter.warn if reporter else lambda text: None)
        root_parameters = json.loads(result.files[render.ROOT_FILE])["Parameters"]
        deployment = params.resolve(
            request.env,
            param_file,
            root_parameters,
            request.overrides,
            request.image_tag,
            request.remove_services,
            image_tag_flag=request.image_tag_flag,
        )
        lint = lint_step.Lint(result.paths, [param_file], project.lint_cache, linter=linter, release=release)
    except BaseException:
        linter.close()
        release()
        raise
    return Prepared(deployment, result, param_file, lint)


def require_lint_clean(reporter: Reporter, prepared: Prepared) -> None:
    """Wait for cfn-lint; any problem stops the deploy before anything in AWS changes."""
    reporter.show(Waiting(f"cfn-lint: {len(prepared.build.files)} templates"))
    problems = prepared.lint.result()
    for warning in prepared.lint.warnings:
        reporter.warn(warning)
    for line in problems:
        reporter.detail(line)
    if problems:
        raise DeploymentFailed(
            f"cfn-lint found {len(problems)} problem(s) in the templates or {prepared.param_file}: fix them before "
            "deploying"
        )
    how = (
        "cached result for identical input"
        if prepared.lint.cached
        else f"{time.perf_counter() - prepared.lint.started:.1f} s"
    )
    reporter.step(
        f"Built {len(prepared.build.files)} templates ({prepared.build.synth_seconds * 1000:.0f} ms), cfn-lint clean "
        f"({how})"
    )
