#!/usr/bin/env python3
"""Cylink deploy tool: ``python deploy.py --help``. The logic lives in the ``cylink_deploy`` package."""

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C while the tool is still loading: nothing has happened yet. One line, not an import traceback."""
    print("error: interrupted; nothing was executed", file=sys.stderr)
    os._exit(5)  # EXIT_ABORTED; an exception raised inside an import can be swallowed and printed instead


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupted_while_starting)

from cylink_deploy.commands import legacy  # noqa: E402
from cylink_deploy.preflight import lint  # noqa: E402

if __name__ == "__main__" and legacy.lints(sys.argv[1:]):
    lint.start_early()  # cfn-lint takes ~1.1 s to load: let it load while the rest of the tool is imported

from cylink_deploy.cli import main  # noqa: E402 (after the early start, on purpose)

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on cli.main answers Ctrl-C
    sys.exit(main())
