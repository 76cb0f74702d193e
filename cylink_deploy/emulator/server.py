"""The embedded AWS emulator: moto's server on 127.0.0.1 with the compatibility fixes applied.

``--local`` starts it on a free port for one run; ``--serve-local`` keeps it in the foreground so
repeated deploys and the AWS CLI can use it (``--endpoint-url`` / ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Callable

from ..errors import BadInput
from .registry import Applied, apply

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOOPBACK = "127.0.0.1"  # never anything else
DEFAULT_PORT = 4566


def _listening_server(port: int) -> Any:
    """moto's server bound on LOOPBACK:port, serving in a daemon thread. Binding here, in the caller's
    thread, makes a busy port an error at once: moto's ThreadedMotoServer binds in its thread and
    waits for it without a timeout, so a busy port hangs it forever."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    busy = BadInput(f"port {port} is in use: stop what listens there, or choose another with --port")
    if port:
        with socket.socket() as probe:  # werkzeug would print its own message and sys.exit() instead
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            try:
                probe.bind((LOOPBACK, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise busy from None
                raise
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    try:
        server._server = make_server(
            LOOPBACK, port, DomainDispatcherApplication(create_backend_app), True, request_handler=MotoRequestHandler
        )
    except SystemExit:  # taken between the probe and here
        raise busy from None
    server._thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    server._thread.start()
    return server  # moto's own get_host_and_port() and stop() work on it


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

        self._applied = apply(self.fixes)
        try:
            moto_api.moto_api_backend.reset()  # moto's state is per process: each emulator starts empty
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log lines
            self._server = _listening_server(self.port)
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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
