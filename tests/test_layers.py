"""The folders are the architecture: each package folder is one layer, and imports go one way (down).

Every import counts -- at module level, inside functions, and under ``TYPE_CHECKING`` -- so a layer
never needs to know the one above it, not even for type checking. A new module or folder must be
placed in ``LAYERS`` (and in the Layout tables of docs/layout.md and docs/ja/layout.md, see test_docs.py).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "cylink_deploy"
# Lowest first: a module may import from its own folder and from any layer below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "aws", "polling", "project", "documents"),  # the foundation: failures, AWS, the checkout, --json
    ("emulator",),  # the local AWS emulator (moto and its compatibility fixes)
    ("preflight",),  # no AWS: render, cfn-lint, parameter files, template resolution
    ("cost",),  # the offline cost model and price files
    ("cfn",),  # CloudFormation and account steps over a client, and pure change-set views
    ("jobs",),  # the stack jobs (build, deploy, execute, delete, bootstrap), the Reporter they report through
    ("ops",),  # the day-2 jobs with their AWS steps (release, rollout, status, logs, drift, rotation)
    ("output",),  # what people and programs see: core reporters, one formatter per view type
    ("commands", "cli"),  # the command line: the registry, one module per subcommand, exit codes
)


def layer_of(module: str) -> int:
    """The layer of ``cylink_deploy.X...`` (by its first component X)."""
    top = module.split(".")[1] if module.count(".") else ""
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(f"{module} is in no layer: add {top!r} to LAYERS (and to docs/layout.md, docs/ja/layout.md)")


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """Every (line, cylink_deploy module) ``path`` imports, relative imports resolved."""
    found = []
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(node.lineno, f"{base}.{a.name}" if base == "cylink_deploy" else base) for a in node.names]
    return [(line, name) for line, name in found if name.startswith("cylink_deploy.")]


def upward_imports(package: Path = PACKAGE) -> list[str]:
    problems = []
    root = package.parent
    for path in sorted(package.rglob("*.py")):
        me = module_name(path, root)
        if me == "cylink_deploy":
            continue
        for line, target in imports(path, root):
            if layer_of(target) > layer_of(me):
                problems.append(f"{path.relative_to(root)}:{line} imports {target} from a layer above")
    return problems


def test_every_module_is_in_a_layer_and_imports_only_downwards() -> None:
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The same walk finds upward imports in a copy of the package (a job reaching for output/ inside a
    function, a step importing a job relatively under TYPE_CHECKING), so the test can fail."""
    copy = tmp_path / "cylink_deploy"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "jobs" / "probe.py").write_text("def f() -> None:\n    from cylink_deploy.output import human\n")
    (copy / "cfn" / "probe.py").write_text("if TYPE_CHECKING:\n    from ..jobs import deploy\n")
    assert upward_imports(copy) == [
        "cylink_deploy/cfn/probe.py:2 imports cylink_deploy.jobs from a layer above",
        "cylink_deploy/jobs/probe.py:2 imports cylink_deploy.output from a layer above",
    ]


def test_a_module_outside_every_layer_is_named() -> None:
    with pytest.raises(AssertionError, match="'newfolder' to LAYERS"):
        layer_of("cylink_deploy.newfolder.thing")


def test_test_only_helpers_live_with_the_tests() -> None:
    """guard and iameval are used only by tests: they are not part of the package a user installs."""
    assert not (PACKAGE / "guard.py").exists() and not (PACKAGE / "iameval.py").exists()
    assert (REPO / "tests" / "guard.py").is_file() and (REPO / "tests" / "iameval.py").is_file()


def runtime_stub_imports(package: Path = PACKAGE) -> list[str]:
    """Imports of the boto3 type stubs (mypy_boto3_*, a dev extra) outside ``if TYPE_CHECKING:``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        checking_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            for n in (m for stmt in node.body for m in ast.walk(stmt))
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if id(node) not in checking_only and any(n.startswith("mypy_boto3") for n in names):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_the_client_types_are_imported_only_for_the_type_checker(tmp_path: Path) -> None:
    """boto3-stubs is a dev extra: an installed cylink_deploy must run without it. The probe shows the walk
    sees an import at run time, even inside a function."""
    assert runtime_stub_imports() == []
    copy = tmp_path / "cylink_deploy"
    copy.mkdir()
    (copy / "probe.py").write_text(
        "if TYPE_CHECKING:\n    from mypy_boto3_s3 import S3Client\ndef f() -> None:\n    import mypy_boto3_ecs\n"
    )
    assert runtime_stub_imports(copy) == ["cylink_deploy/probe.py:4"]
