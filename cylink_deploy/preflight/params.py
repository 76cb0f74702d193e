"""Parameter files (``params/<env>.yaml``, CloudFormation Git-sync deployment-file format) and
``--parameter`` overrides, checked against the root template's parameters before any AWS call.

Every problem becomes one line naming the file, the key, and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import yaml

from cylink_deploy.errors import BadInput
from cylink_deploy.preflight.lint import ROOT_TEMPLATE_PATH
from templates_src.common import SERVICES
from templates_src.root import PLACEMENT_PARAMS
from templates_src.services import EVENT_SLOTS, event_params

FILE_KEYS = ("template-file-path", "parameters", "tags")
# A release's and deploy.py event's state, not configuration: omitted on an update means "keep what runs"
# (UsePreviousValue), so a plain deploy never cancels a scheduled event.
KEEP_PREVIOUS = ("ImageTag", *event_params())
ENVIRONMENT = "EnvironmentName"  # what a stack records as its environment: always --env
ENV_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+@-]{1,128}$")
# CloudFormation's Tag.Value is 1-256 characters; stack tags reach every resource, whose tags take Unicode
# letters, digits, spaces and _.:/=+-@ (e.g. https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
# aws-properties-supportauthz-supportpermit-tag.html)
TAG_VALUE = re.compile(r"[\w .:/=+@-]{1,256}")
MAX_TAGS = 50
# templates_src.services.IMAGE_TAG_PATTERN (ECR's tag rules) in words, for a tag flag's message
IMAGE_TAG_IN_WORDS = "letters, digits, _ . and - (starting with a letter, digit or _), at most 128 characters"


@dataclass(frozen=True)
class Deployment:
    """A validated parameter set: what ``create_change_set`` receives."""

    env: str
    source: str
    parameters: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # allowed, but worth saying (e.g. staging without a domain)


def env_file(params_dir: Path, env: str) -> Path:
    """The parameter file of an environment; unknown environments list the known ones."""
    if not ENV_PATTERN.match(env):
        raise BadInput(f"--env {env!r}: use lower-case letters, digits and hyphens (e.g. dev, staging, prod)")
    path = params_dir / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in params_dir.glob("*.yaml"))) or "none"
        raise BadInput(f"--env {env}: no parameter file {path} (known environments: {known})")
    return path


class _NotAllowed(yaml.MarkedYAMLError):
    """YAML this tool refuses in a parameter file (the message is the whole reason)."""


class _Loader(yaml.SafeLoader):
    """YAML as written: every plain scalar stays the text the user typed (``ImageTag: 1.10`` is "1.10",
    ``010`` is "010", ``true`` is "true": never a float, an octal or a bool), a key given twice is an
    error instead of the last one silently winning, and anchors, aliases and merge keys are refused: a few
    lines of aliases stand for billions of values (an "alias bomb"), which cfn-lint's schema check of the
    file would walk for minutes, and a parameter file has no use for them."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _NotAllowed(
                None,
                None,
                "YAML anchors and aliases (&name, *name) are not allowed in a parameter file: write each value out",
                event.start_mark,
            )
        # a key (index None) of a mapping written as a plain <<: YAML's merge key, which no other reader agrees on
        if isinstance(parent, yaml.MappingNode) and index is None and _is_merge_key(event):
            raise _NotAllowed(
                None,
                None,
                "YAML merge keys (<<) are not allowed in a parameter file: write each value out under its own name",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _is_merge_key(event: yaml.Event) -> bool:
    return isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.style is None


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice: keep one", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node)  # nested values are completed before load() returns
    return out


# Plain scalars the resolver reads as these types stay text; null (empty, ~, null) stays None: "has no value".
for _tag in ("bool", "int", "float", "timestamp"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _scalar)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@dataclass(frozen=True)
class ParameterFile:
    """A parameter file as read: its parameters and tags, and the line of every key (for messages)."""

    path: Path
    parameters: dict[str, Any]
    tags: dict[str, Any]
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (section, key) -> line; key "": the section

    def where(self, section: str, key: str = "") -> str:
        """``path:line`` of a key (or of its section, or the file when neither is written)."""
        line = self.lines.get((section, key)) or self.lines.get((section, ""))
        return f"{self.path}:{line}" if line else str(self.path)


# Kana and Japanese punctuation (U+3000-U+30FF): Shift-JIS writes them with lead bytes 0x81-0x83, which
# Latin-1 and Windows-1252 text has no use for, so a file that decodes to them is Japanese, not a guess.
_JAPANESE = re.compile(r"[\u3000-\u30ff]")


def _not_utf8(path: Path, data: bytes, start: int) -> str:
    """Where the first byte that is not UTF-8 is (``file:line:column``, column in bytes), and how to fix it.
    Shift-JIS is named only when the file decodes as Shift-JIS (cp932) and reads as Japanese."""
    line, line_start = data.count(b"\n", 0, start) + 1, data.rfind(b"\n", 0, start) + 1
    where = f"{path}:{line}:{start - line_start + 1}"
    try:
        japanese = bool(_JAPANESE.search(data.decode("cp932")))
    except UnicodeDecodeError:
        japanese = False
    encoding = "it reads as Shift-JIS" if japanese else f"byte 0x{data[start]:02X} at byte offset {start}"
    return f"{where}: not UTF-8 text ({encoding}): save it as UTF-8"


def _parse(path: Path) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree (for lines), every YAML problem as one line naming file:line:column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(_not_utf8(path, data, exc.start)) from None
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # reading starts here: a control character is refused at once
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = str(exc.problem or exc.context)  # PyYAML's marked errors always carry one of them
        ours = isinstance(exc, _NotAllowed) or "given twice" in problem
        raise BadInput(f"{where}: {problem}" if ours else f"{where}: not valid YAML ({problem})") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    finally:
        if loader is not None:
            loader.dispose()


_TEXT = "tag:yaml.org,2002:str"


def _lines(path: Path, node: yaml.Node | None) -> dict[tuple[str, str], int]:
    """The line of each top-level key and of each key of parameters and tags. A tag value written plainly
    that YAML 1.1 reads as something other than text (``CostCenter: 0123``: the octal number 83) is refused:
    tags are text in the Git-sync format, and cfn-lint and Git sync read such a value as a number."""
    lines: dict[tuple[str, str], int] = {}
    for key, value in node.value if isinstance(node, yaml.MappingNode) else []:
        section = str(key.value)
        lines[(section, "")] = key.start_mark.line + 1
        for k, v in value.value if isinstance(value, yaml.MappingNode) else []:
            if isinstance(k, yaml.ScalarNode):
                lines[(section, str(k.value))] = k.start_mark.line + 1
            plain = isinstance(v, yaml.ScalarNode) and v.style is None and v.value != ""
            if section == "tags" and plain and v.tag not in (_TEXT, "tag:yaml.org,2002:null"):
                read_as = yaml.safe_load(v.value)
                raise BadInput(
                    f"{path}:{v.start_mark.line + 1}: tag {k.value}: {v.value} is {type(read_as).__name__} "
                    f"{read_as!r} to other YAML readers (cfn-lint, CloudFormation Git sync), not text: quote it "
                    f"({k.value}: '{v.value}')"
                )
    return lines


def read_yaml(path: Path) -> Any:
    """A YAML file of this project read as written (``_Loader``); every problem is one line naming the file."""
    return _parse(path)[0]


def read(path: Path) -> ParameterFile:
    """Read a deployment file, with its top-level keys checked and the line of every key."""
    doc, node = _parse(path)
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: expected a mapping with keys {', '.join(FILE_KEYS)}")
    lines = _lines(path, node)
    pf = ParameterFile(path, {}, {}, lines)
    for key in doc:
        if key not in FILE_KEYS:
            raise BadInput(f"{pf.where(str(key))}: unknown top-level key {key!r}; allowed: {', '.join(FILE_KEYS)}")
    for key in ("parameters", "tags"):
        if key in doc and doc[key] is None:  # cfn-lint's Git-sync schema wants a mapping here
            raise BadInput(f"{pf.where(key)}: {key!r} is empty: list its names and values under it, or remove it")
        if not isinstance(doc.get(key) or {}, dict):
            raise BadInput(f"{pf.where(key)}: {key!r} must be a mapping of names to values")
    if doc.get("template-file-path") != ROOT_TEMPLATE_PATH:  # Git sync's key: the template these values are for
        got = repr(doc.get("template-file-path"))
        raise BadInput(
            f"{pf.where('template-file-path')}: template-file-path must be {ROOT_TEMPLATE_PATH} (the root template "
            f"deploy.py builds), got {got if len(got) <= 80 else got[:77] + '...'}"
        )
    return ParameterFile(path, dict(doc.get("parameters") or {}), dict(doc.get("tags") or {}), lines)


def load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a deployment file: (parameters, tags), with its top-level keys checked."""
    pf = read(path)
    return pf.parameters, pf.tags


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``--parameter KEY=VALUE`` flags as a dict; a key given twice is refused (never "the last one wins")."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--parameter {item!r}: expected KEY=VALUE, e.g. --parameter RedisNodeCount=2")
        name = key.strip()
        if name in out:
            raise BadInput(
                f"--parameter {name} is given twice ({name}={out[name]!r} and {name}={value!r}): give it once"
            )
        out[name] = value
    return out


def check_value(name: str, value: str, spec: dict[str, Any]) -> str | None:
    """Why ``value`` is not acceptable for the parameter ``spec`` (None when it is)."""
    if spec.get("Type") == "Number":
        whole = _whole_numbers_only(spec)
        if not (INTEGER if whole else DECIMAL).fullmatch(value):
            kind = "a whole number" if whole else "a number"
            return (
                f"must be {kind} written plainly (e.g. 2{'' if whole else ' or 0.5'}: no leading zeros, exponent, "
                f"nan or inf), got {value!r}"
            )
        lo, hi = spec.get("MinValue"), spec.get("MaxValue")
        number = Decimal(value)
        if (lo is not None and number < Decimal(str(lo))) or (hi is not None and number > Decimal(str(hi))):
            return f"must be between {lo} and {hi}, got {value}"
    longest = spec.get("MaxLength")
    if longest is not None and len(value) > int(longest):
        return f"is {len(value)} characters long; at most {longest} are allowed"
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return f"must be one of {', '.join(map(str, allowed))}; got {value!r}"
    lo_len, hi_len = spec.get("MinLength"), spec.get("MaxLength")
    if (lo_len is not None and len(value) < int(lo_len)) or (hi_len is not None and len(value) > int(hi_len)):
        hint = spec.get("ConstraintDescription") or f"{lo_len}-{hi_len} characters"
        return f"{value!r} does not match {hint}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        hint = spec.get("ConstraintDescription") or f"pattern {pattern}"
        return f"{value!r} does not match {hint}"
    return None


INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def _whole_numbers_only(spec: dict[str, Any]) -> bool:
    """Counts, days, percentages: a Number parameter whose bounds are whole takes whole numbers only."""
    bounds = [b for b in (spec.get("MinValue"), spec.get("MaxValue")) if b is not None]
    return bool(bounds) and all(INTEGER.fullmatch(str(b)) for b in bounds)


def _as_string(source: str, name: str, value: Any) -> str:
    if value is None:
        raise BadInput(f"{source}: parameter {name} has no value: give one, or remove the line to use the default")
    if not isinstance(value, str):
        raise BadInput(
            f"{source}: parameter {name} must be a single value, got a "
            f"{'list' if isinstance(value, list) else 'mapping'}"
        )
    return value


def _check_names(source: str, names: list[str], specs: dict[str, Any]) -> None:
    for name in names:
        if name in PLACEMENT_PARAMS:
            raise BadInput(f"{source}: parameter {name} is set by deploy.py (or taskcat); remove it")
        if name not in specs:
            close = difflib.get_close_matches(name, specs)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"{source}: unknown parameter {name}{hint}; see docs/parameters.md for the allowed names")


# Combinations each parameter allows on its own but that cannot work together.
class Rule(Protocol):
    def __call__(self, env: str, p: dict[str, str], /) -> str | None: ...


def _capacity_rule(svc: str) -> Rule:
    def rule(env: str, p: dict[str, str]) -> str | None:
        lo, hi = Decimal(p[f"{svc}MinCapacity"]), Decimal(p[f"{svc}MaxCapacity"])
        return f"{svc}MinCapacity ({lo}) must not exceed {svc}MaxCapacity ({hi})" if lo > hi else None

    return rule


def _event_slot_rule(n: int) -> Rule:
    """An event slot is empty (no times, no tasks) or whole: a scale-down after the scale-up, and task counts
    within each service's scaling range (a higher minimum than the maximum is refused by Application Auto
    Scaling only when the action runs)."""

    def rule(env: str, p: dict[str, str]) -> str | None:
        up, down = p[f"Event{n}ScaleUpAt"], p[f"Event{n}ScaleDownAt"]
        tasks = {s.title: Decimal(p[f"Event{n}{s.title}Tasks"]) for s in SERVICES}
        if not up:
            stray = [k for k, v in (("ScaleDownAt", down), *((f"{t}Tasks", v) for t, v in tasks.items())) if v]
            return f"Event{n}{stray[0]} is set but Event{n}ScaleUpAt is empty: set both, or neither" if stray else None
        if not down or down <= up:  # same fixed-width format: text order is time order
            return f"Event{n}ScaleDownAt ({down or 'empty'}) must be after Event{n}ScaleUpAt ({up})"
        for title, count in tasks.items():
            lo, hi = Decimal(p[f"{title}MinCapacity"]), Decimal(p[f"{title}MaxCapacity"])
            if not lo <= count <= hi:
                return f"Event{n}{title}Tasks ({count}) must be within {title}Min/MaxCapacity ({lo}-{hi})"
        return None

    return rule


def _zone_needs_domain(env: str, p: dict[str, str]) -> str | None:
    return (
        "HostedZoneId is set but DomainName is empty: set DomainName to the zone's domain"
        if p["HostedZoneId"] and not p["DomainName"]
        else None
    )


def _no_public_tasks_outside_dev(env: str, p: dict[str, str]) -> str | None:
    if p["EgressMode"] == "none" and env != "dev":
        return (
            f"EgressMode none puts tasks in public subnets and is allowed only in dev, not {env}: use single-nat or "
            "nat-per-az"
        )
    return None


def _prod_is_multi_az(env: str, p: dict[str, str]) -> str | None:
    if env == "prod" and Decimal(p["RedisNodeCount"]) < 2:
        return f"RedisNodeCount {p['RedisNodeCount']} cannot be Multi-AZ nor fail over; prod requires 2 or more"
    return None


def _prod_is_https(env: str, p: dict[str, str]) -> str | None:
    if env == "prod" and not p["DomainName"]:
        return (
            "DomainName is empty: prod would serve the site and its WebSockets over plain HTTP; "
            "set DomainName (and HostedZoneId if the zone exists) in params/prod.yaml or with --parameter "
            "DomainName=..."
        )
    return None


def _environment_is_env(env: str, p: dict[str, str]) -> str | None:
    """A stack records EnvironmentName as the environment it is (cfn/identity.py): it must be ``--env``."""
    if p.get(ENVIRONMENT, env) != env:
        return (
            f"{ENVIRONMENT} {p[ENVIRONMENT]} is not --env {env}: set {ENVIRONMENT}: {env} (the stack "
            "records it as its environment, and every command checks --env against it)"
        )
    return None


RULES: tuple[Rule, ...] = (
    _environment_is_env,
    *[_capacity_rule(s.title) for s in SERVICES],
    *[_event_slot_rule(n) for n in range(1, EVENT_SLOTS + 1)],
    _zone_needs_domain,
    _no_public_tasks_outside_dev,
    _prod_is_multi_az,
)
# What a deploy (not a cost estimate or a snapshot) refuses, and what it only warns about.
DEPLOY_RULES: tuple[Rule, ...] = (_prod_is_https,)
WARNINGS: tuple[Rule, ...] = (
    lambda env, p: (
        "DomainName is empty: staging serves plain HTTP (fine for a rehearsal, not for real users)"
        if env == "staging" and not p["DomainName"]
        else None
    ),
)


def _tags(pf: ParameterFile) -> dict[str, str]:
    """The stack tags: at most 50 (CreateChangeSet's Tags), keys 1-128 and values 1-256 characters (``Tag``:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html and API_CreateChangeSet.html)."""
    if len(pf.tags) > MAX_TAGS:
        raise BadInput(f"{pf.where('tags')}: {len(pf.tags)} tags; a stack takes at most {MAX_TAGS}")
    tags = {}
    for key, value in pf.tags.items():
        where = pf.where("tags", str(key))
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise BadInput(f"{where}: tag key {key!r} is not allowed (1-128 characters, not starting with aws:)")
        text = _as_string(where, f"tag {key}", value)
        if not TAG_VALUE.fullmatch(text):
            raise BadInput(
                f"{where}: tag {key} must be 1-256 letters, digits, spaces and _.:/=+-@ (got {len(text)} characters: "
                f"{text[:40]!r}{'...' if len(text) > 40 else ''})"
            )
        tags[key] = text
    return tags


def _empty_image_tag(flag: str) -> str:
    """An empty tag on the command line (an unset CI variable), named as the user typed it."""
    typed, how = ("--parameter ImageTag=", "--image-tag TAG") if flag == "--parameter" else (flag, f"{flag} TAG")
    return (
        f"{typed} is empty (an unset CI variable?): give the tag to run ({how}), or deploy with --remove-services "
        "to remove the services deliberately"
    )


def resolve(
    env: str,
    path: Path,
    root_parameters: dict[str, Any],
    overrides: dict[str, str] | None = None,
    image_tag: str | None = None,
    remove_services: bool = False,
    deploying: bool = True,
    image_tag_flag: str = "--image-tag",
) -> Deployment:
    """Validate a parameter file plus overrides against the root template's ``Parameters``.

    Returns the explicit parameter values (file, then overrides, then image tag) and the tags. An empty
    image tag given on the command line (an unset CI variable) is refused: removing the services is only
    ever deliberate (``remove_services``). ``deploying`` adds the deploy-only rules (prod needs HTTPS);
    an estimate or a snapshot of the file leaves them out. ``image_tag_flag`` is the flag that gave
    ``image_tag`` (``--image-tag``, release's ``--rollback-to``): a message names what the user typed."""
    pf = read(path)
    raw, source = pf.parameters, str(path)
    for name in raw:
        _check_names(pf.where("parameters", name), [name], root_parameters)
    values = {k: _as_string(pf.where("parameters", k), k, v) for k, v in raw.items()}
    cli = dict(overrides or {})
    given_by = {name: "--parameter" for name in cli}  # the flag each command-line value came from
    if image_tag is not None:
        if "ImageTag" in cli:  # two answers to one question: never pick one silently
            raise BadInput(
                f"the image tag is given twice ({image_tag_flag} {image_tag!r} and --parameter ImageTag="
                f"{cli['ImageTag']!r}): give it once, with {image_tag_flag}"
            )
        cli["ImageTag"], given_by["ImageTag"] = image_tag, image_tag_flag
    if remove_services:
        if cli.get("ImageTag"):
            raise BadInput("--remove-services removes the services: give no --image-tag with it")
        cli["ImageTag"] = ""
    elif cli.get("ImageTag") == "":
        raise BadInput(_empty_image_tag(given_by["ImageTag"]))
    _check_names("--parameter", list(cli), root_parameters)
    if ENVIRONMENT in root_parameters and ENVIRONMENT not in values and ENVIRONMENT not in cli:
        values[ENVIRONMENT] = env  # not written down: the stack records --env (never the template's default)
    for name, value in sorted({**values, **cli}.items()):
        problem = check_value(name, value, root_parameters[name])
        if problem:
            raise BadInput(
                f"{image_tag_flag} {value!r} is not an image tag: use {IMAGE_TAG_IN_WORDS}"
                if given_by.get(name) == image_tag_flag
                else f"{given_by[name] if name in cli else pf.where('parameters', name)}: parameter {name} {problem}"
            )
    for name, spec in sorted(root_parameters.items()):
        if name not in values and name not in cli and "Default" not in spec and name not in PLACEMENT_PARAMS:
            raise BadInput(f"{source}: required parameter {name} is missing ({spec.get('Description', '')})")
    defaults = {
        k: str(v["Default"]) for k, v in root_parameters.items() if "Default" in v
    }  # the others were given (checked above)
    from_file, effective = defaults | values, defaults | values | cli
    for rule in RULES + (DEPLOY_RULES if deploying else ()):
        problem = rule(env, effective)
        if problem:  # name what caused it: the file alone, or an override on top of it
            raise BadInput(f"{source if rule(env, from_file) else '--parameter'}: {problem}")
    warnings = tuple(w for w in (rule(env, effective) for rule in WARNINGS) if w)
    tags = _tags(pf)
    parameters = dict(sorted({**values, **cli}.items()))
    return Deployment(env=env, source=source, parameters=parameters, tags=dict(sorted(tags.items())), warnings=warnings)
