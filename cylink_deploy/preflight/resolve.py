"""Resolve the built templates for one set of parameter values, offline and without side effects.

CloudFormation decides at deploy time which resources exist (``Condition``), which branch of every
``Fn::If`` applies, and what each nested stack receives. Tools that reason about a deployment before it
happens -- the cost estimate, policy checks such as cfn-guard -- need that same view, so this module
computes it from the rendered JSON:

- parameters: the given values over the template's defaults (all strings, as CloudFormation passes them);
- conditions: ``Fn::Equals/And/Or/Not`` and ``Condition`` evaluated to True or False;
- resources and outputs whose condition is false are dropped (and removed from ``DependsOn``);
- ``Fn::If`` picks its branch, ``AWS::NoValue`` removes the key or list item;
- ``Ref`` to a parameter or a known pseudo parameter is substituted; ``Fn::Sub``, ``Fn::Join``,
  ``Fn::Select``, ``Fn::Split`` and ``Fn::FindInMap`` are folded when their inputs are known;
- each nested stack (``AWS::CloudFormation::Stack``) is resolved in turn with the parameters its parent
  passes it.

Values only AWS knows (a sibling's ``Outputs``, resource attributes, the account ID when not given) stay
as the intrinsic functions they are, so a resolved template is still a valid CloudFormation template
without ``Conditions``. In a child's parameter map such a value is an :class:`Unknown` naming its source.
A condition that depends on an unknown value is an error (:class:`ResolveError`) only where it matters:
when it decides whether a resource exists or which ``Fn::If`` branch applies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

ROOT = "root"
STACK_TYPE = "AWS::CloudFormation::Stack"
_NO_VALUE = object()  # AWS::NoValue: the enclosing key or list item disappears
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")


class ResolveError(ValueError):
    """The templates cannot be resolved with these values (the message says which and why)."""


@dataclass(frozen=True)
class Unknown:
    """A value known only once deployed, e.g. ``NetworkStack.Outputs.VpcId`` or ``AWS::AccountId``."""

    source: str

    def __str__(self) -> str:
        return f"<{self.source}>"


@dataclass(frozen=True)
class ResolvedStack:
    """One stack as it would be deployed with the given parameters."""

    path: str  # "root", or the chain of Stack logical IDs from the root: "NetworkStack"
    name: str  # the template's file stem: "root", "network", ...
    file_name: str
    parameters: dict[str, str | Unknown]
    conditions: dict[str, bool]
    template: dict[str, Any] = field(repr=False)

    def resources(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """Resources that exist, optionally only those of one type."""
        res = self.template.get("Resources", {})
        return {k: v for k, v in res.items() if type_ is None or v.get("Type") == type_}


def pseudo_parameters(region: str, account_id: str | None = None) -> dict[str, str]:
    """Pseudo parameters known before a deployment; AWS::StackName/StackId stay unknown."""
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    out = {
        "AWS::Region": region,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
    }
    if account_id is not None:
        out["AWS::AccountId"] = account_id
    return out


def _is_known(value: Any) -> bool:
    """A plain value: no intrinsic function or Unknown anywhere inside."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)).startswith("Fn::") or next(iter(value)) == "Ref"):
            return False
        return all(_is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_known(v) for v in value)
    return True


def _scalar(value: Any) -> Any:
    """CloudFormation compares and passes scalars as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _describe(value: Any) -> str:
    """A short name for an unknown value: GetAtt Child.Outputs.X -> 'Child.Outputs.X'."""
    if isinstance(value, dict) and len(value) == 1:
        fn, args = next(iter(value.items()))
        if fn == "Fn::GetAtt" and isinstance(args, list):
            return ".".join(str(a) for a in args)
        if fn == "Ref":
            return str(args)
        return fn
    return str(value)


class _Resolver:
    """Evaluates one template's intrinsic functions against known parameter values."""

    def __init__(
        self, template: Mapping[str, Any], parameters: Mapping[str, Any], pseudo: Mapping[str, str], where: str
    ) -> None:
        self.template = template
        self.where = where
        self.pseudo = dict(pseudo)
        self.mappings = template.get("Mappings", {})
        self.params = self._effective(template.get("Parameters", {}), parameters)
        self._conditions: dict[str, bool | None] = {}
        self._evaluating: set[str] = set()

    def _effective(self, declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, str | Unknown]:
        extra = sorted(set(given) - set(declared))
        if extra:
            raise ResolveError(f"{self.where}: values given for undeclared parameters: {', '.join(extra)}")
        out: dict[str, str | Unknown] = {}
        for name, spec in declared.items():
            if name in given:
                value = given[name]
                out[name] = value if isinstance(value, Unknown) else str(_scalar(value))
            elif "Default" in spec:
                out[name] = str(_scalar(spec["Default"]))
            else:
                raise ResolveError(f"{self.where}: parameter {name} has no value and no default")
        return out

    # -- conditions -------------------------------------------------------------------------------

    def condition(self, name: str) -> bool | None:
        """True/False, or None when it depends on a value unknown before deployment."""
        if name not in self._conditions:
            defs = self.template.get("Conditions", {})
            if name not in defs:
                raise ResolveError(f"{self.where}: condition {name} is not defined")
            if name in self._evaluating:
                raise ResolveError(f"{self.where}: condition {name} refers to itself")
            self._evaluating.add(name)
            self._conditions[name] = self._truth(defs[name])
            self._evaluating.discard(name)
        return self._conditions[name]

    def require(self, name: str, what: str) -> bool:
        value = self.condition(name)
        if value is None:
            raise ResolveError(
                f"{self.where}: condition {name} (deciding {what}) depends on values unknown before deployment"
            )
        return value

    def _truth(self, expr: Any) -> bool | None:
        if not (isinstance(expr, dict) and len(expr) == 1):
            raise ResolveError(f"{self.where}: not a condition: {json.dumps(expr)}")
        fn, args = next(iter(expr.items()))
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::Equals":
            a, b = (self.value(x) for x in args)
            if not (_is_known(a) and _is_known(b)):
                return None
            return _scalar(a) == _scalar(b)
        if fn == "Fn::Not":
            inner = self._truth(args[0])
            return None if inner is None else not inner
        if fn in ("Fn::And", "Fn::Or"):
            values = [self._truth(x) for x in args]
            decisive = fn == "Fn::Or"  # Or is decided by any True, And by any False
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        raise ResolveError(f"{self.where}: {fn} cannot appear in a condition")

    # -- values -----------------------------------------------------------------------------------

    def value(self, node: Any) -> Any:
        """The node with every resolvable intrinsic function folded (may return _NO_VALUE)."""
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            fn, args = next(iter(node.items()))
            handler = _FUNCTIONS.get(fn)
            if handler is not None:
                return handler(self, args)
            if fn in _CONDITION_FUNCTIONS[:-1]:
                raise ResolveError(f"{self.where}: {fn} outside Conditions and Fn::If")
            if fn.startswith("Fn::"):
                return {fn: self.value(args)}
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            value = self.params[name]
            return {"Ref": name} if isinstance(value, Unknown) else value
        return self.pseudo.get(name, {"Ref": name})

    def _if(self, args: Any) -> Any:
        name, when_true, when_false = args
        return self.value(when_true if self.require(name, "an Fn::If") else when_false)

    def _sub(self, args: Any) -> Any:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], self.value(args[1]))
        kept: dict[str, Any] = {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                value = variables[name]
                if _is_known(value):
                    return str(_scalar(value))
                kept[name] = value
                return match.group(0)
            value = self._ref(name) if "." not in name else None
            if isinstance(value, str):
                return value
            return match.group(0)

        out = _SUB_VAR.sub(substitute, text)
        if not _SUB_VAR.search(out):
            return out.replace("${!", "${")
        return {"Fn::Sub": [out, kept] if kept else out}

    def _join(self, args: Any) -> Any:
        delimiter, items = self.value(args[0]), self.value(args[1])
        if isinstance(items, list) and _is_known(items) and isinstance(delimiter, str):
            return delimiter.join(str(_scalar(i)) for i in items)
        return {"Fn::Join": [delimiter, items]}

    def _select(self, args: Any) -> Any:
        index, items = self.value(args[0]), self.value(args[1])
        if isinstance(items, list) and _is_known(index):
            i = int(_scalar(index))
            if not 0 <= i < len(items):
                raise ResolveError(f"{self.where}: Fn::Select index {i} outside a list of {len(items)}")
            return items[i]
        return {"Fn::Select": [index, items]}

    def _split(self, args: Any) -> Any:
        delimiter, text = self.value(args[0]), self.value(args[1])
        if isinstance(text, str) and isinstance(delimiter, str):
            return text.split(delimiter)
        return {"Fn::Split": [delimiter, text]}

    def _find_in_map(self, args: Any) -> Any:
        keys = [self.value(a) for a in args]
        if not all(isinstance(k, str) for k in keys):
            return {"Fn::FindInMap": keys}
        mapping, top, second = keys
        try:
            return self.mappings[mapping][top][second]
        except KeyError:
            raise ResolveError(f"{self.where}: Fn::FindInMap [{mapping}, {top}, {second}] has no entry") from None

    # -- sections ---------------------------------------------------------------------------------

    def _exists(self, kind: str, name: str, body: Mapping[str, Any]) -> bool:
        cond = body.get("Condition")
        return True if cond is None else self.require(cond, f"whether {kind} {name} exists")

    def template_out(self) -> dict[str, Any]:
        """The resolved template: no Conditions, no Fn::If, no conditional sections."""
        out = {k: v for k, v in self.template.items() if k not in ("Conditions", "Resources", "Outputs")}
        resources = {n: r for n, r in self.template.get("Resources", {}).items() if self._exists("resource", n, r)}
        out["Resources"] = {}
        for name, body in sorted(resources.items()):
            res = {k: v for k, v in body.items() if k != "Condition"}
            depends = res.get("DependsOn")
            if depends is not None:
                kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d in resources]
                if kept:
                    res["DependsOn"] = kept[0] if isinstance(depends, str) else kept
                else:
                    del res["DependsOn"]
            out["Resources"][name] = self.value(res)
        outputs = {n: o for n, o in self.template.get("Outputs", {}).items() if self._exists("output", n, o)}
        if "Outputs" in self.template:
            out["Outputs"] = {
                n: self.value({k: v for k, v in o.items() if k != "Condition"}) for n, o in sorted(outputs.items())
            }
        return out

    def conditions(self) -> dict[str, bool]:
        """Every condition that can be decided offline."""
        values = {name: self.condition(name) for name in sorted(self.template.get("Conditions", {}))}
        return {k: v for k, v in values.items() if v is not None}


_FUNCTIONS = {
    "Ref": _Resolver._ref,
    "Fn::If": _Resolver._if,
    "Fn::Sub": _Resolver._sub,
    "Fn::Join": _Resolver._join,
    "Fn::Select": _Resolver._select,
    "Fn::Split": _Resolver._split,
    "Fn::FindInMap": _Resolver._find_in_map,
}


def resolve_template(
    template: Mapping[str, Any], parameters: Mapping[str, Any], pseudo: Mapping[str, str], where: str = "template"
) -> tuple[dict[str, Any], dict[str, bool], dict[str, str | Unknown]]:
    """One template: (resolved template, decided conditions, effective parameters)."""
    r = _Resolver(template, parameters, pseudo, where)
    return r.template_out(), r.conditions(), r.params


def _child_file(url: Any, files: Mapping[str, str], where: str) -> str:
    """The file a TemplateURL names: its last path segment (the URL itself may stay a Fn::Sub)."""
    text = url if isinstance(url, str) else url.get("Fn::Sub") if isinstance(url, dict) else None
    if isinstance(text, list):
        text = text[0]
    name = text.rsplit("/", 1)[-1] if isinstance(text, str) else None
    if name is None or name not in files:
        raise ResolveError(f"{where}: TemplateURL {json.dumps(url)} names no rendered template")
    return name


def _with_outputs(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace ``GetAtt [Sibling, Outputs.X]`` by the sibling's output when it is known offline."""
    if isinstance(value, list):
        return [_with_outputs(v, outputs) for v in value]
    if not isinstance(value, dict):
        return value
    target = value.get("Fn::GetAtt") if len(value) == 1 else None
    if isinstance(target, list) and len(target) == 2 and str(target[1]).startswith("Outputs."):
        known = outputs.get(target[0], {})
        name = target[1].removeprefix("Outputs.")
        if name in known:
            return known[name]
    return {k: _with_outputs(v, outputs) for k, v in value.items()}


def _child_parameters(values: Mapping[str, Any], outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str | Unknown]:
    folded = {k: _with_outputs(v, outputs) for k, v in values.items()}
    return {k: _scalar(v) if _is_known(v) else Unknown(_describe(v)) for k, v in folded.items()}


def _known_outputs(template: Mapping[str, Any]) -> dict[str, Any]:
    return {n: o["Value"] for n, o in template.get("Outputs", {}).items() if _is_known(o.get("Value"))}


def _sibling_order(resources: Mapping[str, Any]) -> list[str]:
    """Nested stacks so that a stack comes after the siblings whose outputs it reads (cycles: as listed)."""
    stacks = {k: v for k, v in resources.items() if v.get("Type") == STACK_TYPE}
    needs = {
        k: {s for s in stacks if s != k and f'"{s}"' in json.dumps(v.get("Properties", {}).get("Parameters", {}))}
        for k, v in stacks.items()
    }
    order: list[str] = []
    while len(order) < len(stacks):
        ready = [k for k in stacks if k not in order and needs[k] <= set(order)]
        order.extend(ready or [next(k for k in stacks if k not in order)])
    return order


def resolve(
    files: Mapping[str, str],
    parameters: Mapping[str, Any],
    *,
    region: str,
    account_id: str | None = None,
    root_file: str = "root.json",
) -> dict[str, ResolvedStack]:
    """Every stack that would be deployed, keyed by path ("root", "NetworkStack", ...), parents first.

    ``files``: file name -> template JSON (``templates_src.render.render()``); ``parameters``: the root's
    explicit values (defaults come from the template). A child receives a sibling's output as a plain
    value when the sibling's resolved output is known offline (e.g. ``TaskAssignPublicIp``), else as an
    :class:`Unknown`. Pure: reads nothing but its arguments.
    """
    pseudo = pseudo_parameters(region, account_id)
    out: dict[str, ResolvedStack] = {}

    def visit(path: str, file_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        template = json.loads(files[file_name])
        resolved, conditions, params = resolve_template(template, values, pseudo, where=f"{path} ({file_name})")
        stem = ROOT if file_name == root_file else file_name.rsplit("-", 1)[0].removesuffix(".json")
        out[path] = ResolvedStack(path, stem, file_name, params, conditions, resolved)
        outputs: dict[str, dict[str, Any]] = {}
        for logical_id in _sibling_order(resolved["Resources"]):
            props = resolved["Resources"][logical_id].get("Properties", {})
            child = _child_file(props.get("TemplateURL"), files, f"{path}.{logical_id}")
            child_path = logical_id if path == ROOT else f"{path}/{logical_id}"
            outputs[logical_id] = visit(child_path, child, _child_parameters(props.get("Parameters", {}), outputs))
        return _known_outputs(resolved)

    visit(ROOT, root_file, parameters)
    return out


def region_mappings(files: Mapping[str, str]) -> dict[str, set[str]]:
    """Every mapping some template looks up by ``AWS::Region`` (``Fn::FindInMap [M, !Ref AWS::Region, ...]``),
    with the regions it has a row for."""
    out: dict[str, set[str]] = {}

    def visit(node: Any, mappings: Mapping[str, Any]) -> None:
        if isinstance(node, dict):
            args = node.get("Fn::FindInMap")
            if isinstance(args, list) and len(args) == 3 and args[1] == {"Ref": "AWS::Region"}:
                out.setdefault(str(args[0]), set()).update(mappings.get(str(args[0]), {}))
            for value in node.values():
                visit(value, mappings)
        elif isinstance(node, list):
            for value in node:
                visit(value, mappings)

    for text in files.values():
        template = json.loads(text)
        visit(template, template.get("Mappings", {}))
    return out


def unmapped_region(files: Mapping[str, str], region: str) -> str | None:
    """Why the templates cannot be deployed to ``region`` (a region-keyed mapping has no row for it), else None.
    CloudFormation would fail at ``Fn::FindInMap`` in the middle of the create (issue 21 finding 5:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap.html),
    so the tool refuses the region before anything in AWS changes."""
    missing = sorted(name for name, regions in region_mappings(files).items() if region not in regions)
    if not missing:
        return None
    supported = set.intersection(*region_mappings(files).values())
    return (
        f"region {region} is not supported: mapping {', '.join(missing)} has no row for it (add one from AWS's "
        f"documentation, see templates_src/loadbalancer.py); supported: {', '.join(sorted(supported))}"
    )
