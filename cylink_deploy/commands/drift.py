"""``drift``: drift detection on the root and every nested stack; exit 1 when something drifted."""

from __future__ import annotations

from cylink_deploy.commands.base import STACK, Command, Context
from cylink_deploy.ops import drift as drift_job


def run(ctx: Context) -> int:
    request = drift_job.DriftRequest(ctx.args.env, ctx.args.stack_name)
    report = drift_job.drift(request, ctx.clients(), ctx.reporter, ctx.sleep)
    if report.drifted:
        raise drift_job.Drifted(
            f"{len(report.drifted)} resource(s) drifted: "
            + ", ".join(f"{d.stack}/{d.logical_id}" for d in report.drifted[:5])
            + " (see docs/troubleshooting.md to resolve)"
        )
    return 0


COMMAND = Command(
    "drift", "operating", "drift detection on the root and every nested stack; exit 1 when drifted", run, STACK
)
