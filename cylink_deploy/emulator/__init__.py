"""The local AWS emulator: moto's server (pinned to MOTO_VERSION) with compatibility fixes.

Stock moto runs the CloudFormation API workflow but misses pieces our real templates use. Each fix in
``fixes/`` closes exactly one gap, in moto's process, so the templates deploy *unchanged* through change
sets and the same deploy code runs as against AWS. Each fix has a scenario test that fails without it
(tests/test_emulator_fixes.py). Nothing here is imported when deploying to AWS.
"""

from . import fixes  # noqa: E402,F401,I001 - registers FIXES
from .registry import FIXES, MOTO_VERSION, apply
from .server import DEFAULT_PORT, FAKE_CREDENTIALS, LOOPBACK, Emulator, serve_forever

__all__ = [
    "DEFAULT_PORT",
    "FAKE_CREDENTIALS",
    "FIXES",
    "LOOPBACK",
    "MOTO_VERSION",
    "Emulator",
    "apply",
    "serve_forever",
]
