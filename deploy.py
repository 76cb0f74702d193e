#!/usr/bin/env python3
"""Cylink deploy tool: ``python deploy.py --help``. The logic lives in the ``cylink_deploy`` package."""

import sys

from cylink_deploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
