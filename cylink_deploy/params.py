"""Parameter files (``params/<env>.yaml``, CloudFormation Git-sync deployment-file format) and
``--parameter`` overrides, checked against the root template's parameters before any AWS call.

Every problem becomes one line naming the file, the key, and what is allowed.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from templates_src.root import PLACEMENT_PARAMS
from templates_src.common import SERVICES

from .errors import BadInput

FILE_KEYS = ("template-file-path", "parameters", "tags")
# A release's state, not configuration: omitted on an update means "keep what runs" (UsePreviousValue).
KEEP_PREVIOUS = ("ImageTag",)
ENV_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+@-]{1,128}$")


@dataclass(frozen=True)
class Deployment:
    """A validated parameter set: what ``create_change_set`` receives."""

    env: str
    source: str
    parameters: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)


def env_file(params_dir: Path, env: str) -> Path:
    """The parameter file of an environment; unknown environments list the known ones."""
    if not ENV_PATTERN.match(env):
        raise BadInput(f"--env {env!r}: use lower-case letters, digits and hyphens (e.g. dev, staging, prod)")
    path = params_dir / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in params_dir.glob("*.yaml"))) or "none"
        raise BadInput(f"--env {env}: no parameter file {path} (known environments: {known})")
    return path


def load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a deployment file: (parameters, tags), with its top-level keys checked."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: expected a mapping with keys {', '.join(FILE_KEYS)}")
    for key in doc:
        if key not in FILE_KEYS:
            raise BadInput(f"{path}: unknown top-level key {key!r}; allowed: {', '.join(FILE_KEYS)}")
    for key in ("parameters", "tags"):
        if not isinstance(doc.get(key) or {}, dict):
            raise BadInput(f"{path}: {key!r} must be a mapping of names to values")
    return dict(doc.get("parameters") or {}), dict(doc.get("tags") or {})


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``--parameter KEY=VALUE`` flags as a dict (later flags win)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"--parameter {item!r}: expected KEY=VALUE, e.g. --parameter RedisNodeCount=2")
        out[key.strip()] = value
    return out


def check_value(name: str, value: str, spec: dict[str, Any]) -> str | None:
    """Why ``value`` is not acceptable for the parameter ``spec`` (None when it is)."""
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"must be a number, got {value!r}"
        lo, hi = spec.get("MinValue"), spec.get("MaxValue")
        if (lo is not None and number < float(lo)) or (hi is not None and number > float(hi)):
            return f"must be between {lo} and {hi}, got {value}"
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return f"must be one of {', '.join(map(str, allowed))}; got {value!r}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        hint = spec.get("ConstraintDescription") or f"pattern {pattern}"
        return f"{value!r} does not match {hint}"
    return None


def _as_string(source: str, name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInput(f"{source}: parameter {name} must be a string or number, got {type(value).__name__} (quote it)")
    return str(value)


def _check_names(source: str, names: list[str], specs: dict[str, Any]) -> None:
    for name in names:
        if name in PLACEMENT_PARAMS:
            raise BadInput(f"{source}: parameter {name} is set by deploy.py (or taskcat); remove it")
        if name not in specs:
            close = difflib.get_close_matches(name, specs, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"{source}: unknown parameter {name}{hint}; see README 'Parameters' for the allowed names")


# Combinations each parameter allows on its own but that cannot work together.
Rule = Callable[[str, dict[str, str]], "str | None"]


def _capacity_rule(svc: str) -> Rule:
    def rule(env: str, p: dict[str, str]) -> str | None:
        lo, hi = float(p[f"{svc}MinCapacity"]), float(p[f"{svc}MaxCapacity"])
        return f"{svc}MinCapacity ({lo:g}) must not exceed {svc}MaxCapacity ({hi:g})" if lo > hi else None

    return rule


def _zone_needs_domain(env: str, p: dict[str, str]) -> str | None:
    return "HostedZoneId is set but DomainName is empty: set DomainName to the zone's domain" if p["HostedZoneId"] and not p["DomainName"] else None


def _no_public_tasks_outside_dev(env: str, p: dict[str, str]) -> str | None:
    if p["EgressMode"] == "none" and env != "dev":
        return f"EgressMode none puts tasks in public subnets and is allowed only in dev, not {env}: use single-nat or nat-per-az"
    return None


def _prod_is_multi_az(env: str, p: dict[str, str]) -> str | None:
    if env == "prod" and p["RedisNodeCount"] == "1":
        return "RedisNodeCount 1 cannot be Multi-AZ nor fail over; prod requires 2 or more"
    return None


RULES: tuple[Rule, ...] = (
    *[_capacity_rule(s.title) for s in SERVICES],
    _zone_needs_domain,
    _no_public_tasks_outside_dev,
    _prod_is_multi_az,
)


def resolve(
    env: str,
    path: Path,
    root_parameters: dict[str, Any],
    overrides: dict[str, str] | None = None,
    image_tag: str | None = None,
) -> Deployment:
    """Validate a parameter file plus overrides against the root template's ``Parameters``.

    Returns the explicit parameter values (file, then overrides, then image tag) and the tags.
    """
    raw, raw_tags = load(path)
    source = str(path)
    _check_names(source, list(raw), root_parameters)
    values = {k: _as_string(source, k, v) for k, v in raw.items()}
    cli = dict(overrides or {})
    if image_tag is not None:
        cli["ImageTag"] = image_tag
    _check_names("--parameter", list(cli), root_parameters)
    values.update(cli)
    for name, value in sorted(values.items()):
        problem = check_value(name, value, root_parameters[name])
        if problem:
            where = "--parameter" if name in cli else source
            raise BadInput(f"{where}: parameter {name} {problem}")
    for name, spec in sorted(root_parameters.items()):
        if name not in values and "Default" not in spec and name not in PLACEMENT_PARAMS:
            raise BadInput(f"{source}: required parameter {name} is missing ({spec.get('Description', '')})")
    effective = {k: str(v.get("Default", "")) for k, v in root_parameters.items()} | values
    for rule in RULES:
        problem = rule(env, effective)
        if problem:
            raise BadInput(f"{source}: {problem}")
    tags = {}
    for key, value in raw_tags.items():
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise BadInput(f"{source}: tag key {key!r} is not allowed (1-128 characters, not starting with aws:)")
        tags[key] = _as_string(source, f"tag {key}", value)
    return Deployment(env=env, source=source, parameters=dict(sorted(values.items())), tags=dict(sorted(tags.items())))
