"""How people see a load test: a line per interval while it runs, then the final table."""

from __future__ import annotations

from cylink_deploy.ops.loadtest import LoadProgress, LoadTestResult, Percentiles
from cylink_deploy.output.human import GREEN, RED, HumanReporter, formats


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _row(name: str, p: Percentiles) -> list[str]:
    return [name, ms(p.p50), ms(p.p95), ms(p.p99)]


@formats(LoadProgress)
def load_progress(out: HumanReporter, p: LoadProgress) -> None:
    out.line(
        f"  {p.elapsed:5.0f}s  users {p.users}  connected {p.connected}  connect failures {p.connect_failures}  "
        f"fan-out {p.delivered}/{p.expected} delivered, p95 {ms(p.fanout.p95)}  errors {p.errors}"
    )


@formats(LoadTestResult)
def load_result(out: HumanReporter, r: LoadTestResult) -> None:
    """Users, latencies, messages, where the connections landed, errors by kind, the verdict."""
    out.line()
    out.table(
        ["Users", "Connected", "Connect failures", "Dropped after join", "Connect rate"],
        [[str(r.users), str(r.connected), str(r.connect_failures), str(r.dropped), f"{r.connect_rate:g}/s"]],
        [r.connected < r.users],
    )
    out.line()
    out.table(
        ["Latency", "p50", "p95", "p99"],
        [_row("connect + join", r.connect), _row("message round trip", r.round_trip), _row("fan-out", r.fanout)],
    )
    out.line()
    out.table(
        ["Messages sent", "Deliveries expected", "Delivered", "Across processes", "Lost"],
        [[str(r.sent), str(r.expected), str(r.delivered), str(r.delivered_across), str(r.lost)]],
        [r.lost > 0],
    )
    out.line()
    out.line("  connections per task/process: " + ", ".join(f"{k} {v}" for k, v in sorted(r.landed.items())))
    for kind, count in sorted(r.errors.items()):
        out.line(out.c(RED, f"  {count} x {kind}"))
    out.line(f"  report {r.report}   log {r.log}")
    out.line()
    if r.problems:
        out.line(out.c(RED, f"DID NOT HOLD: {'; '.join(r.problems)}"))
    else:
        out.line(out.c(GREEN, f"HELD: {r.users} users connected, every message delivered, no errors"))
