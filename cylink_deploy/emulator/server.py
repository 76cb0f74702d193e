"""The embedded AWS emulator: moto's server on 127.0.0.1 with the compatibility fixes applied.

``--local`` starts it on a free port for one run; ``--serve-local`` keeps it in the foreground so
repeated deploys and the AWS CLI can use it (``--endpoint-url`` / ``AWS_ENDPOINT_URL``).
"""
from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Callable

from .registry import Applied, apply

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOOPBACK = "127.0.0.1"  # never anything else
DEFAULT_PORT = 4566


class Emulator:
    """moto server in this process (so the compatibility fixes apply to it). The fixes are in force
    from start() to stop(); ``fixes`` picks a subset (tests leave one out to show it is needed)."""

    def __init__(self, port: int = 0, fixes: list[str] | None = None) -> None:
        self.port = port
        self.fixes = fixes
        self._server: Any = None
        self._applied: Applied | None = None

    def start(self) -> str:
        from moto.moto_api import _internal as moto_api
        from moto.server import ThreadedMotoServer

        self._applied = apply(self.fixes)
        try:
            moto_api.moto_api_backend.reset()  # moto's state is per process: each emulator starts empty
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log lines
            self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
            self._server.start()
        except BaseException:
            self.stop()
            raise
        _, self.port = self._server.get_host_and_port()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._applied is not None:
            self._applied.close()
            self._applied = None

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve_forever(port: int, announce: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Run the emulator until Ctrl-C (or ``stop`` is set)."""
    with Emulator(port) as emulator:
        announce(emulator.endpoint)
        event = stop or threading.Event()
        try:
            while not event.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
