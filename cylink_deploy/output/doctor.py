"""How people see ``doctor``: one table (check, subject, result, what was found, what to do) and a verdict."""

from __future__ import annotations

from cylink_deploy.ops.checks import NOT_CHECKED, PROBLEM
from cylink_deploy.ops.doctor import DoctorView
from cylink_deploy.output.human import BOLD, GREEN, RED, HumanReporter, formats


@formats(DoctorView)
def doctor(out: HumanReporter, view: DoctorView) -> None:
    out.line(out.c(BOLD, f"{view.stack}") + f"  account {view.account}, region {view.region}")
    out.line()
    out.table(
        ["Check", "Subject", "Result", "Found", "What to do"],
        [[c.area, c.subject, c.result, c.detail, c.todo] for c in view.checks],
        [c.result == PROBLEM for c in view.checks],
    )
    out.line()
    unchecked = sum(c.result == NOT_CHECKED for c in view.checks)
    tail = f" ({unchecked} not checked: see the table)" if unchecked else ""
    if view.problems:
        out.line(out.c(RED, f"NOT READY: {len(view.problems)} problem(s){tail}"))
    else:
        out.line(out.c(GREEN, f"READY{tail}"))
