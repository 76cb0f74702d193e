"""The ``--json`` contract: every document carries ``schemaVersion``, keys are camelCase, and an error is a
document too. Its schemas (JSON Schema 2020-12, one per command) are ``docs/schemas/`` (docs/json.md).

One place adds the version (``versioned``), one builds the error document (``error``), one turns a
dataclass into a document's keys (``fields``); ``validate`` checks a document against its command's schema
(the tests, and ``output/summary.py`` before the deploy workflow reads a document).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1  # additive changes keep it; a key renamed or removed bumps it (docs/json.md)
# The schemas: inside the installed package (package_data through the cylink_deploy/schemas link), else the
# checkout's docs/schemas (the deploy workflow runs from a checkout).
SCHEMA_DIRS = (Path(__file__).parent / "schemas", Path(__file__).parent.parent / "docs" / "schemas")
ERROR_SCHEMA = "error"


class DocumentMismatch(ValueError):
    """A document does not match its command's schema (another schemaVersion, an older tool)."""


def camel(name: str) -> str:
    """``stack_status`` -> ``stackStatus`` (AWS's APIs spell their JSON keys this way)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def fields(obj: Any) -> dict[str, Any]:
    """A dataclass as a document: its field names in camelCase, nested dataclasses (also in lists) too.
    A dict-valued field is data (service names, output names) and keeps its keys."""
    return {camel(f.name): _value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fields(value)
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def versioned(document: dict[str, Any]) -> dict[str, Any]:
    """The one place a document gets its ``schemaVersion``."""
    return {"schemaVersion": SCHEMA_VERSION, **document}


def error(code: int, message: str) -> dict[str, Any]:
    """The document of a failure: the exit code and the one line said on stderr."""
    return versioned({"error": {"code": code, "message": message}})


def dumps(document: dict[str, Any]) -> str:
    """A document as printed on stdout (versioned, keys sorted, one trailing line break)."""
    return json.dumps(versioned(document), indent=2, sort_keys=True, default=str) + "\n"


def schema_dir() -> Path:
    for folder in SCHEMA_DIRS:
        if (folder / f"{ERROR_SCHEMA}.schema.json").is_file():
            return folder
    raise FileNotFoundError(f"no JSON schemas in {' or '.join(str(d) for d in SCHEMA_DIRS)}")


@cache
def _validators() -> dict[str, Any]:
    """Every schema, by command, with the others as its references resolve them ($ref by file name)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = {p.name: json.loads(p.read_text()) for p in sorted(schema_dir().glob("*.schema.json"))}
    registry = Registry().with_resources((name, Resource.from_contents(s)) for name, s in schemas.items())
    return {
        name.removesuffix(".schema.json"): Draft202012Validator(s, registry=registry) for name, s in schemas.items()
    }


def problems(command: str, document: Any) -> list[str]:
    """Where ``document`` breaks ``command``'s schema, one line each (none: it matches)."""
    validator = _validators().get(command)
    if validator is None:
        raise KeyError(f"no schema for {command!r} in {schema_dir()}")
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in found]


def validate(command: str, document: Any) -> None:
    """Raise ``DocumentMismatch`` naming the first difference when ``document`` is not a ``command`` document."""
    found = problems(command, document)
    if found:
        raise DocumentMismatch(
            f"not a schemaVersion {SCHEMA_VERSION} '{command}' document ({found[0]}): written by another deploy.py?"
        )
