#!/usr/bin/env python3
"""Cylink deploy tool: ``python deploy.py --help``. The logic lives in the ``cylink_deploy`` package."""

import sys

from cylink_deploy import legacy, lint

if __name__ == "__main__" and legacy.lints(sys.argv[1:]):
    lint.start_early()  # cfn-lint takes ~1.3 s to load: let it load while the rest of the tool is imported

from cylink_deploy.cli import main  # noqa: E402 (after the early start, on purpose)

if __name__ == "__main__":
    sys.exit(main())
