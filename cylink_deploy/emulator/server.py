"""The embedded AWS emulator: moto's server on 127.0.0.1 with the compatibility fixes applied.

``--local`` starts it on a free port for one run; ``--serve-local`` keeps it in the foreground so
repeated deploys and the AWS CLI can use it (``--endpoint-url`` / ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
import socket
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit
from types import TracebackType
from typing import Any, Callable

from ..errors import BadInput
from .registry import Applied, apply

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOOPBACK = "127.0.0.1"  # never anything else
DEFAULT_PORT = 4566


def _loopback(host: str) -> bool:
    """``host`` (a Host header, port or not) names this machine: 127.0.0.0/8, ::1, localhost or a name
    under it (RFC 6761: always loopback; botocore puts an S3 bucket there for http://localhost:PORT)."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # e.g. an unclosed [
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refusal(environ: dict[str, Any]) -> str | None:
    """Why a request is not for the emulator (None: serve it). A web page in the user's browser can send
    requests to 127.0.0.1: through a name of its own re-pointed there (DNS rebinding: the Host header
    still names the page's site), or directly, when the browser adds Origin (every cross-origin request
    but a no-cors GET/HEAD: Fetch standard, "Origin header") and Sec-Fetch-Site (Fetch Metadata Request
    Headers, W3C). The AWS SDKs and CLI send neither. moto's CORS would answer such a page (it reflects
    any Origin), and /moto-api resets all state or writes files (its recorder) for whoever asks: this
    project uses none of it (the emulator is reset in-process, ``Emulator.start``)."""
    if not _loopback(environ.get("HTTP_HOST", "")):
        return "the Host header must name this machine (127.0.0.1 or localhost)"
    if "HTTP_ORIGIN" in environ or "HTTP_SEC_FETCH_SITE" in environ:
        return "requests from web pages are not served"
    if re.sub("/+", "/", environ.get("PATH_INFO", "")).startswith("/moto-api"):  # as moto routes, slashes merged
        return "/moto-api is closed"
    return None


def _guarded(app: Any) -> Any:
    """``app`` (moto's WSGI dispatcher) behind ``_refusal``: a refused request is a 403 and never reaches it."""

    def guard(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refusal = _refusal(environ)
        if refusal is None:
            return app(environ, start_response)
        body = f"refused by the local AWS emulator: {refusal}\n".encode()
        start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return guard


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
            LOOPBACK,
            port,
            _guarded(DomainDispatcherApplication(create_backend_app)),
            True,
            request_handler=MotoRequestHandler,
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
