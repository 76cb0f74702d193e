#!/usr/bin/env python3
"""Mutation testing of the modules that guard data and input (``make mutation``; not part of ``make test``).

Each module is mutated by mutmut 2.5 and every mutant is run against the tests that exercise that module
(``TARGETS``), in a scratch copy of the repository so the worktree is never left mutated. Prints the score
per module and every surviving mutant as a diff; exits 1 when a module scores below ``--min`` (90 %).

How mutants are counted:
- killed: the tests fail in any way. mutmut 2 only counts pytest's exit 1 as a failure, so the runner
  (``--run-tests``) turns every non-zero exit (a mutant that breaks an import is a collection error,
  exit 2) into 1;
- timeout: the tests hung (mutmut stops them at 10x the baseline): counted as killed, shown apart;
- skipped: message-string mutants (tools/mutmut_config.py says exactly which), left out of the score;
- survived: the tests pass with the mutant: listed with their diff.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Pure and Stubber tests only (no emulator, no deploy.py subprocess): the machine has 2 cores.
_DEPLOY_STUBBED = ["tests/test_deploy_stubbed.py", "-k", "not throttling and not credential and not unknown_profile"]
TARGETS: dict[str, list[str]] = {
    "cylink_deploy/cfn/changes.py": ["tests/test_changes.py", "tests/test_data_safety.py", *_DEPLOY_STUBBED],
    "cylink_deploy/preflight/params.py": ["tests/test_params.py", "tests/test_resolve.py", "tests/test_snapshots.py"],
    **{
        module: [  # stack.py before it was split by concern: the same tests guard each part
            "tests/test_stack_steps.py",
            "tests/test_data_safety.py",
            "tests/test_day2_stubbed.py",
            "tests/test_release_rollback.py",
            *_DEPLOY_STUBBED,
        ]
        for module in (
            "cylink_deploy/cfn/stacks.py",
            "cylink_deploy/cfn/changesets.py",
            "cylink_deploy/cfn/events.py",
            "cylink_deploy/cfn/ecs_verdict.py",
            "cylink_deploy/polling.py",
        )
    },
    "templates_src/common.py": ["tests/test_snapshots.py", "tests/test_wiring.py", "tests/test_hardening.py"],
    "templates_src/root.py": ["tests/test_snapshots.py", "tests/test_wiring.py"],
}
STATUSES = ("ok_killed", "bad_timeout", "ok_suspicious", "bad_survived", "skipped", "untested")
PROJECT = ("cylink_deploy", "templates_src", "tools", "tests", "conftest", "mutmut_config", "__main__", "__mp_main__")
SERVER = "CYLINK_MUTATION_SERVER"  # the runner's server socket (set by mutate())


def _pytest(pytest_args: list[str]) -> int:
    import pytest

    code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", *pytest_args])
    return 0 if code == 0 else 1


def run_tests(pytest_args: list[str]) -> int:
    """The runner mutmut calls: 0 when the tests pass, 1 on any failure (collection errors included).
    Asks the module's test server when there is one (no second of imports per mutant), else runs here."""
    address = os.environ.get(SERVER)
    if address:
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(address)
                conn.sendall(json.dumps(pytest_args).encode() + b"\n")
                return int(conn.makefile().readline().strip() or 1)
        except OSError:
            pass
    return _pytest(pytest_args)


def _quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def _warm(pytest_args: list[str]) -> None:
    """Import what collecting the tests imports, except the project's own modules (a forked child
    collects and names them): every mutant's run then starts with the libraries already loaded."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _quiet()
        import pytest

        pytest.main(["-q", "--collect-only", "-p", "no:cacheprovider", *pytest_args])
        names = [n for n in list(sys.modules) if n.split(".")[0] not in PROJECT]
        os.write(write, "\n".join(names).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        names = pipe.read().split()
    os.waitpid(pid, 0)
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module that only imports in its own context: the child imports it
            continue


def serve(address: str, pytest_args: list[str]) -> None:
    """Run each request's tests in a fresh fork of a process that has the libraries imported (the
    project's modules, the mutated one included, are imported by the child from disk)."""
    sys.dont_write_bytecode = True
    _warm(pytest_args)
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(address)
        srv.listen(1)
        try:
            _answer(srv)
        finally:
            os.unlink(address)


def _answer(srv: socket.socket) -> None:
    """One request at a time until an empty one."""
    while True:
        conn, _ = srv.accept()
        with conn:
            line = conn.makefile().readline()
            if not line.strip():
                return
            pid = os.fork()
            if pid == 0:
                srv.close()
                _quiet()
                os._exit(_pytest(json.loads(line)))
            code = None
            while code is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                elif select.select([conn], [], [], 0.01)[0]:  # the runner is gone (mutmut's timeout): stop its tests
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    code = 1
            try:
                conn.sendall(f"{0 if code == 0 else 1}\n".encode())
            except OSError:
                pass


def _scratch_copy(dest: Path) -> None:
    """The worktree as it is (committed or not), without venvs, caches and build output."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv*", "build", "__pycache__", ".pytest_cache", ".mutmut-cache", "*.egg-info", "taskcat_outputs"
    )
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    shutil.copy(REPO / "tools" / "mutmut_config.py", dest / "mutmut_config.py")


def _counts(workdir: Path, module: str) -> tuple[dict[str, int], list[int]]:
    """Mutant counts by status, and the ids of the survivors, from mutmut's cache."""
    db = sqlite3.connect(workdir / ".mutmut-cache")
    rows = db.execute(
        "SELECT m.id, m.status FROM Mutant m JOIN Line l ON m.line = l.id JOIN SourceFile f ON l.sourcefile = f.id "
        "WHERE f.filename = ?",
        (module,),
    ).fetchall()
    db.close()
    counts = {s: 0 for s in STATUSES}
    for _, status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts, sorted(i for i, s in rows if s == "bad_survived")


def score(counts: dict[str, int]) -> float:
    detected = counts["ok_killed"] + counts["bad_timeout"] + counts["ok_suspicious"]
    total = detected + counts["bad_survived"] + counts["untested"]
    return 100.0 * detected / total if total else 100.0


def mutate(module: str, workdir: Path, mutmut: str) -> tuple[dict[str, int], list[str], float]:
    """Run mutmut on one module in ``workdir``; (counts, survivor diffs, seconds)."""
    runner = " ".join(
        [
            sys.executable,
            "tools/mutation.py",
            "--run-tests",
            "--",
            *(f"'{a}'" if " " in a else a for a in TARGETS[module]),
        ]
    )
    address = str(workdir / ".mutation.sock")
    env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1", SERVER: address}
    start = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "tools/mutation.py", "--serve", address, "--", *TARGETS[module]],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not os.path.exists(address) and server.poll() is None:
            time.sleep(0.1)
        subprocess.run(
            [mutmut, "run", "--paths-to-mutate", module, "--tests-dir", "tests", "--runner", runner, "--no-progress"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
    finally:
        server.kill()
        server.wait()
    elapsed = time.monotonic() - start
    counts, survivors = _counts(workdir, module)
    diffs = [
        subprocess.run(
            [mutmut, "show", str(i)], cwd=workdir, env=env, capture_output=True, text=True, check=False
        ).stdout.strip()
        for i in survivors
    ]
    return counts, diffs, elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(TARGETS)})")
    parser.add_argument("--min", type=float, default=90.0, help="lowest acceptable score per module (%%)")
    parser.add_argument("--run-tests", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.run_tests:
        return run_tests([a for a in rest if a != "--"] + args.modules)
    if args.serve:
        serve(args.serve, [a for a in rest if a != "--"] + args.modules)
        return 0
    modules = args.modules or list(TARGETS)
    unknown = [m for m in modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}: choose from {', '.join(TARGETS)}")
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    low = []
    report = []
    with tempfile.TemporaryDirectory(prefix="cylink-mutation-") as tmp:
        for module in modules:
            workdir = Path(tmp) / module.replace("/", "_")
            _scratch_copy(workdir)
            counts, diffs, elapsed = mutate(module, workdir, mutmut)
            pct = score(counts)
            line = (
                f"{module}: {pct:.1f} % ({counts['ok_killed'] + counts['ok_suspicious']} killed, "
                f"{counts['bad_timeout']} timed out, "
                f"{counts['bad_survived']} survived, {counts['untested']} untested; {counts['skipped']} "
                "message-string mutants skipped) "
                f"in {elapsed:.0f} s"
            )
            print(line, flush=True)
            for diff in diffs:
                print("  survivor:\n    " + diff.replace("\n", "\n    "), flush=True)
            report.append(line)
            if pct < args.min:
                low.append(module)
    print("\nmutation scores (tests: tools/mutation.py TARGETS):\n  " + "\n  ".join(report))
    if low:
        print(f"below {args.min:.0f} %: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
