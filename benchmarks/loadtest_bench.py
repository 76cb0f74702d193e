"""``make bench-loadtest``: the load test against the reference stack on this machine, with real parts (a
redis-server and two reference backend processes sharing it): a baseline at 100 users, then 1,000, then
stepping up until a run no longer holds (a failed connect, a lost message, an error) or the last step.

Prints, per run: users connected, connect rate (connects per second, first to last), p50/p95/p99 fan-out
latency, and each against the baseline measured in the same run; then the largest count that held. Writes
benchmarks/results/loadtest.json. Load generator and servers share this machine's cores: the figures are
this machine's, not an environment's (run ``loadtest`` against the environment for those).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools import refstack  # noqa: E402

BASELINE = 100
STEPS = (1000, 2000, 3000, 4000, 6000, 8000)
SPAWN_PER_SECOND = 250  # the ramp: fast enough that the connect rate measures the stack, not the ramp
HOLD = "15s"


def run(urls: list[str], users: int, report_dir: Path) -> dict[str, Any]:
    ramp = max(2, round(users / SPAWN_PER_SECOND))
    args = [sys.executable, str(REPO / "deploy.py"), "loadtest", "--env", "dev", "--json", "--users", str(users)]
    args += ["--ramp", f"{ramp}s", "--hold", HOLD, "--report-dir", str(report_dir), "--interval", "30"]
    args += [arg for url in urls for arg in ("--url", url)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=REPO)
    if not done.stdout:
        raise SystemExit(f"loadtest at {users} users printed no result: {done.stderr.strip()[-500:]}")
    return dict(json.loads(done.stdout))


def ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}x" if value and base else "-"


def row(r: dict[str, Any], base: dict[str, Any]) -> str:
    f, b = r["fanout"], base["fanout"]
    held = "held" if not r["problems"] else "NOT: " + "; ".join(r["problems"])
    rate = r["connect_rate"]
    return (
        f"{r['users']:>6} users, {r['connected']:>6} connected, {rate:.0f}/s ({ratio(rate, base['connect_rate'])})"
        f"  fan-out p50 {f['p50']} ms ({ratio(f['p50'], b['p50'])}) p95 {f['p95']} ms ({ratio(f['p95'], b['p95'])})"
        f" p99 {f['p99']} ms ({ratio(f['p99'], b['p99'])})  delivered {r['delivered']}, across {r['delivered_across']},"
        f" lost {r['lost']}  {held}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="*", default=list(STEPS), help="user counts after the baseline")
    steps = parser.parse_args().steps
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, refstack.reference_stack(backends=2) as urls:
        for users in [BASELINE, *steps]:
            results.append(run(urls, users, Path(tmp)))
            print(row(results[-1], results[0]), flush=True)
            if results[-1]["problems"] and users > BASELINE:
                break
    held = [r["users"] for r in results if not r["problems"]]
    print(f"largest user count held on this machine: {max(held) if held else 'none'} (steps {steps})")
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "loadtest.json").write_text(json.dumps({"runs": results, "largest_held": max(held, default=0)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
