#!/usr/bin/env python3
"""Cylink deploy tool: ``python deploy.py --help``. The logic lives in the ``cylink_deploy`` package."""
import sys

from cylink_deploy.cli import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["cost"]:  # until the subcommand CLI takes it over: see cylink_deploy/costcmd.py
        from cylink_deploy.costcmd import main as cost_main

        sys.exit(cost_main(sys.argv[2:]))
    sys.exit(main())
