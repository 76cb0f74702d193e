"""The emulator's server: a busy port is a one-line error at once, not a hang."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time

import boto3
import pytest

from cylink_deploy.emulator import LOOPBACK, Emulator
from cylink_deploy.errors import EXIT_BAD_INPUT, BadInput

from .conftest import REPO

pytestmark = pytest.mark.slow  # starts the emulator (in-process, or serve-local as a process)


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_busy_port_fails_at_once_with_bad_input(busy_port):
    from moto.cloudformation.models import Stack

    def patched() -> dict[str, object]:  # moto's instance registry grows with any stack: not a patch
        return {k: v for k, v in vars(Stack).items() if k != "instances_tracked"}

    before = patched()  # another test's emulator may hold the fixes: compare, don't assume
    started = time.monotonic()
    with pytest.raises(BadInput, match=f"port {busy_port} is in use"):
        Emulator(busy_port).start()
    assert time.monotonic() - started < 10
    assert patched() == before  # the failed start left nothing of its own in force


def test_serve_local_on_a_busy_port_exits_2_with_one_line(busy_port):
    proc = subprocess.run(
        [sys.executable, "deploy.py", "serve-local", "--port", str(busy_port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.strip().splitlines() == [
        f"error: port {busy_port} is in use: stop what listens there, or choose another with --port"
    ]


def test_a_free_port_serves():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    with Emulator(port) as emulator:
        assert emulator.endpoint == f"http://{LOOPBACK}:{port}"
        with socket.create_connection((LOOPBACK, port), timeout=5):
            pass


# --- what a web page can reach: a page in the user's browser may send requests to 127.0.0.1 ---------------

STS = b"Action=GetCallerIdentity&Version=2011-06-15"
SIGNED = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, "
    "Signature=00",
}


def _ask(port: int, host: str, path: str = "/", body: bytes = STS, method: str = "POST", **headers: str):
    """One raw HTTP request with exactly this Host (and headers): (status, headers, body)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **SIGNED, **headers})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def served():
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "bucket.localhost:{port}", "127.0.0.1"])
def test_loopback_hosts_are_served(served, host):
    status, _, body = _ask(served.port, host.format(port=served.port))
    assert status == 200 and b"GetCallerIdentityResult" in body


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "10.0.0.1:{port}", ""])
def test_any_other_host_is_refused_so_dns_rebinding_reaches_nothing(served, host):
    """A page on evil.example whose name is re-pointed at 127.0.0.1 sends Host: evil.example."""
    status, _, body = _ask(served.port, host.format(port=served.port))
    assert status == 403 and b"GetCallerIdentityResult" not in body


@pytest.mark.parametrize(
    "header, value",
    [("Origin", "https://evil.example"), ("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
)
def test_a_request_from_a_web_page_is_refused_and_no_origin_is_reflected(served, header, value):
    """Browsers add Origin to cross-origin requests (and Sec-Fetch-* to all); the SDKs and the CLI send neither.
    moto's CORS reflected any Origin, so a page could read the answers too."""
    for method in ("POST", "OPTIONS"):
        status, headers, _ = _ask(served.port, f"127.0.0.1:{served.port}", method=method, **{header: value})
        assert status == 403
        assert not any(k.lower().startswith("access-control-") for k in headers)


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/"),
        ("POST", "//moto-api/reset"),
        ("POST", "/moto-api/recorder/start-recording"),
    ],
)
def test_moto_api_is_closed(served, method, path):
    """/moto-api resets the emulator's state or writes files (the recorder) for whoever asks; nothing here uses it."""
    s3 = boto3.client(
        "s3",
        endpoint_url=served.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="kept-after-moto-api")
    status, _, _ = _ask(served.port, f"127.0.0.1:{served.port}", path=path, method=method, body=b"")
    assert status == 403
    assert "kept-after-moto-api" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
