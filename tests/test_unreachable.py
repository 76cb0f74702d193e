"""Fail fast where nothing answers: a refused connection or a host name that does not resolve ends every AWS
command after one connection attempt, in one line and exit 3 (botocore alone retried it for 10-30 s); throttling
and 5xx keep botocore's retries, and so does a refused connection once the endpoint has answered. Only
127.0.0.1 is contacted (and the system resolver, for a name under the reserved .invalid TLD)."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.endpoint
import botocore.exceptions as bex
import pytest
import urllib3.util.connection

from cylink_deploy import aws, cli
from cylink_deploy.emulator import FAKE_CREDENTIALS

from .conftest import project_copy
from .test_exit_paths import CLEAN_AWS, FAKE, deploy_py

UNRESOLVED = "http://cylink-unreachable.invalid:4566"  # RFC 6761: names under .invalid never resolve
CANNOT_REACH = "check the network, AWS_ENDPOINT_URL, or use --local"
# every command that calls AWS, past any prompt: the registry's commands outside the local group, and cost's
# price refresh (test_the_list_covers_every_command_that_calls_aws)
COMMANDS = {
    "deploy": ["--env", "dev", "--yes", "--image-tag", "1.0.0"],
    "execute": ["execute", "--env", "dev", "--yes", "cs-1"],
    "delete": ["delete", "--env", "dev", "--yes"],
    "bootstrap": ["bootstrap"],
    "release": ["release", "--env", "dev", "--yes", "--image-tag", "1.0.0"],
    "event": ["event", "--env", "dev", "--list"],
    "status": ["status", "--env", "dev"],
    "logs": ["logs", "--env", "dev", "backend"],
    "drift": ["drift", "--env", "dev"],
    "rotate-redis-auth": ["rotate-redis-auth", "--env", "dev", "--yes"],
    "doctor": ["doctor", "--env", "dev"],
    "loadtest": ["loadtest", "--env", "dev", "--users", "10"],  # reads the stack's ApiUrl first
    "cost --refresh-prices": ["cost", "--refresh-prices"],
}


def test_the_list_covers_every_command_that_calls_aws():
    from cylink_deploy.commands.registry import REGISTRY

    assert {c.name for c in REGISTRY if c.group != "local"} | {"cost --refresh-prices"} == set(COMMANDS)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return project_copy(tmp_path_factory.mktemp("unreachable"))


@pytest.fixture
def closed_port() -> str:
    """An endpoint on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 (under botocore) attempts, name resolution included, in order."""
    attempts: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def counted(address, *args, **kwargs):
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    return attempts


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The back-offs botocore's retry handler asks for between attempts, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def shell(monkeypatch, endpoint: str) -> None:
    """This process's environment as a user's shell: AWS_ENDPOINT_URL, fake credentials, no AWS config."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in (CLEAN_AWS | FAKE | {"AWS_ENDPOINT_URL": endpoint}).items():
        monkeypatch.setenv(name, value)


@pytest.mark.slow  # runs deploy.py as a process
@pytest.mark.parametrize("command", ["status", "deploy"])
@pytest.mark.parametrize("kind", ["refused", "unresolved"])
def test_an_unreachable_endpoint_is_one_line_and_exit_3(project_dir, closed_port, command, kind):
    endpoint = closed_port if kind == "refused" else UNRESOLVED
    started = time.monotonic()
    proc = deploy_py(project_dir, *COMMANDS[command], env=FAKE | {"AWS_ENDPOINT_URL": endpoint})
    print(f"{command} against {kind} {endpoint}: exit {proc.returncode} in {time.monotonic() - started:.2f} s")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines() == [f"error: cannot reach the AWS endpoint ({endpoint}): {CANNOT_REACH}"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_aws_command_connects_once_to_a_refused_endpoint(
    monkeypatch, capsys, project, closed_port, connections, command
):
    shell(monkeypatch, closed_port)
    code = cli.main(COMMANDS[command], stdin=io.StringIO(), project=project)
    err = capsys.readouterr().err.splitlines()
    if command == "cost --refresh-prices":  # an endpoint on this machine is the emulator: no Price List API there
        assert code == 2 and len(err) == 1 and "has no Price List API" in err[0] and connections == []
        return  # its fail-fast: test_a_name_that_does_not_resolve_is_looked_up_once
    assert code == 3
    assert err == [f"error: cannot reach the AWS endpoint ({closed_port}): {CANNOT_REACH}"]
    assert len(connections) == 1  # botocore alone: 11 (Config max_attempts 10 is 1 + 10 retries)


@pytest.mark.parametrize("command", ["status", "cost --refresh-prices"])
def test_a_name_that_does_not_resolve_is_looked_up_once(monkeypatch, capsys, project, connections, command):
    shell(monkeypatch, UNRESOLVED)
    assert cli.main(COMMANDS[command], stdin=io.StringIO(), project=project) == 3
    assert f"({UNRESOLVED})" in capsys.readouterr().err
    assert connections == [("cylink-unreachable.invalid", 4566)]


def test_an_endpoint_that_never_answers_the_connect_is_given_5_s_once(monkeypatch, capsys, project):
    """A firewall that drops packets: no refusal ever comes. Each connect is bounded by CONNECT_TIMEOUT (botocore's
    default is 60 s, times 11 attempts), and it too is said in one line after one attempt. The silence is
    simulated where urllib3 connects (socket.timeout, as a real connect timeout raises), so the test takes no time."""
    timeouts: list[float] = []

    def silent(address, timeout=None, *args, **kwargs):
        timeouts.append(timeout)
        raise socket.timeout("timed out")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", silent)
    endpoint = "http://127.0.0.1:9"  # never reached: the connect is simulated
    shell(monkeypatch, endpoint)
    assert cli.main(COMMANDS["status"], stdin=io.StringIO(), project=project) == 3
    assert capsys.readouterr().err.splitlines() == [
        f"error: cannot reach the AWS endpoint ({endpoint}): {CANNOT_REACH}"
    ]
    assert timeouts == [aws.CONNECT_TIMEOUT] == [5]


# --- what answers keeps its retries ---------------------------------------------------------------------

IDENTITY = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    b"<Arn>arn:aws:iam::123456789012:user/x</Arn><UserId>AIDAX</UserId><Account>123456789012</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)


def aws_error(code: str) -> bytes:
    """An error body of STS's query protocol."""
    return (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code}</Message></Error>"
        "<RequestId>r</RequestId></ErrorResponse>"
    ).encode()


class Scripted(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 answering each request with the next (status, body) of ``answers`` (the
    last one repeats); HTTP/1.0, so every attempt is a new connection."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.answers: list[tuple[int, bytes]] = []
        self.requests = 0

    def sts(self) -> Any:
        """An STS client of ``aws.make_clients`` (the tool's retry configuration) pointed at this server."""
        endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        session = aws.make_session(aws.DEFAULT_REGION, None, FAKE_CREDENTIALS, env={})
        return aws.make_clients(session, endpoint).sts


class Answer(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        answers = self.server.answers
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        self.server.requests += 1
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    server = Scripted()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "failure",
    [(503, b""), (500, aws_error("InternalFailure")), (400, aws_error("Throttling"))],
    ids=["503", "500", "throttled"],
)
def test_throttling_and_5xx_keep_their_retries(server, sleeps, failure):
    server.answers = [failure, failure, (200, IDENTITY)]
    response = server.sts().get_caller_identity()
    assert response["Account"] == "123456789012"
    assert server.requests == 3 and response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(sleeps) == 2  # botocore's back-off before each retry


def test_once_the_endpoint_has_answered_a_refused_connection_keeps_its_retries(server, sleeps, connections):
    """A blip mid-run (Wi-Fi, VPN) after the endpoint answered: botocore retries it as before."""
    server.answers = [(200, IDENTITY)]
    sts = server.sts()
    assert aws.account_id(sts) == "123456789012"
    server.shutdown()
    server.server_close()  # the port now refuses connections
    with pytest.raises(bex.EndpointConnectionError):
        sts.get_caller_identity()
    assert len(connections) == 1 + 11 and len(sleeps) == 10  # max_attempts 10: 1 + 10 retries


# --- AWS lost after an operation was sent (issue 23, item 4) -----------------------------------------------------

LOST = {
    "unreachable": lambda: bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    "expired": lambda: bex.ClientError(
        {"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "DescribeStackEvents"
    ),
}
SAID = {
    "unreachable": f"cannot reach the AWS endpoint (http://127.0.0.1:9): {CANNOT_REACH}",
    "expired": "your AWS credentials have expired (ExpiredToken on DescribeStackEvents): refresh them (e.g. 'aws sso "
    "login') and retry",
}


def lose_aws(monkeypatch, capsys, project, sent: str | None, lost: str, argv: list[str]) -> tuple[int, str]:
    """``deploy.py delete`` / ``execute`` whose job marks ``sent`` (as the real jobs do before the call) and
    then loses AWS; the exit code and the one line it prints."""
    from cylink_deploy.cfn import identity
    from cylink_deploy.jobs import delete as delete_job
    from cylink_deploy.jobs import deploy as deploy_job

    def job(request, clients, reporter, *args, **kwargs):
        if sent:
            reporter.sent(sent)
        raise LOST[lost]()

    monkeypatch.setattr(delete_job, "delete", job)
    monkeypatch.setattr(deploy_job, "execute", job)
    monkeypatch.setattr(identity, "require_env", lambda cfn, stack, env: None)  # no AWS here: see test_identity.py
    shell(monkeypatch, "http://127.0.0.1:9")
    code = cli.main([*argv, "--project-dir", str(project.root)], stdin=io.StringIO(), project=project)
    (line,) = capsys.readouterr().err.splitlines()
    return code, line


@pytest.mark.parametrize("lost", LOST)
@pytest.mark.parametrize(
    "sent, argv",
    [
        ("ExecuteChangeSet", ["execute", "--env", "dev", "--yes", "cs-1"]),
        ("DeleteStack", ["delete", "--env", "dev", "--yes", "--region", "ap-northeast-1"]),
        ("stack operation", ["execute", "--env", "dev", "--yes", "--stack-name", "cylink-dev2", "cs-1"]),
    ],
)
def test_aws_lost_after_an_operation_was_sent_says_it_may_go_on_and_how_to_follow_it(
    monkeypatch, capsys, project, lost, sent, argv
):
    """Losing the endpoint (or the credentials expiring) while following an execution said only "cannot reach":
    the stack operation goes on in AWS without this run."""
    code, line = lose_aws(monkeypatch, capsys, project, sent, lost, argv)
    follow = {
        "ExecuteChangeSet": "python deploy.py status --env dev",
        "DeleteStack": "python deploy.py status --env dev --region ap-northeast-1",
        "stack operation": "python deploy.py status --env dev --stack-name cylink-dev2",
    }[sent]
    assert code == 3
    assert line == (
        f"error: {SAID[lost]}; the CloudFormation operation already sent may go on in AWS without this run: follow "
        f"it with '{follow}' once AWS answers again, or in the CloudFormation console"
    )


def test_aws_lost_during_a_rotation_says_it_is_part_way_and_how_to_finish(monkeypatch, capsys, project):
    code, line = lose_aws(monkeypatch, capsys, project, "rotation", "unreachable", ["delete", "--env", "dev", "--yes"])
    assert code == 3 and line == f"error: {SAID['unreachable']}; {cli.AFTER_SENT['rotation']}"


@pytest.mark.parametrize("sent", [None, "templates upload", "CreateChangeSet", "ECR push"])
@pytest.mark.parametrize("lost", LOST)
def test_aws_lost_before_anything_was_executed_keeps_its_one_line(monkeypatch, capsys, project, sent, lost):
    code, line = lose_aws(monkeypatch, capsys, project, sent, lost, ["execute", "--env", "dev", "--yes", "cs-1"])
    assert (code, line) == (3, f"error: {SAID[lost]}")
