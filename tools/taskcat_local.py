#!/usr/bin/env python3
"""Run taskcat offline: ``.venv-taskcat/bin/python tools/taskcat_local.py <taskcat arguments>``.

taskcat's HTML report downloads its stylesheet from GitHub on every run, which fails without internet
and would fail the run. This wrapper serves that one URL from the copy in ``tools/taskcat_reporting.css``
(any other outbound ``requests`` call is refused loudly), then hands over to taskcat's own CLI. Nothing
else is changed: the AWS calls go wherever taskcat's boto3 points (AWS_ENDPOINT_URL for the emulator).
"""

from __future__ import annotations

import sys
from pathlib import Path

import requests
from taskcat import _generate_reports
from taskcat._cli import main

STYLESHEET = "https://raw.githubusercontent.com/aws-ia/taskcat/main/assets/css/taskcat_reporting.css"
LOCAL_COPY = Path(__file__).resolve().parent / "taskcat_reporting.css"


class _Offline:
    """Stands in for ``requests`` inside taskcat's report builder."""

    @staticmethod
    def get(url: str, *args: object, **kwargs: object) -> requests.Response:
        if url != STYLESHEET:
            raise RuntimeError(f"taskcat_local: refusing to fetch {url} (offline run)")
        response = requests.Response()
        response.status_code = 200
        response._content = LOCAL_COPY.read_bytes()
        response.encoding = "utf-8"
        return response


_generate_reports.requests = _Offline

if __name__ == "__main__":
    sys.exit(main())
