"""The Locust file ``loadtest`` runs (``python -m locust -f`` this file, in its own processes: Locust patches
the standard library with gevent on import, so nothing in deploy.py's own process imports this module).

Each ``CylinkUser`` opens one WebSocket (Socket.IO or plain), joins a room and, every few seconds, sends a
message the backend broadcasts to the room through Redis. What it reports to Locust (request type / name):

- ``WS connect``: WebSocket handshake plus the room join; a failure is a connect failure.
- ``WS chat round trip``: sending a message until the backend's acknowledgement.
- ``FANOUT same process`` / ``FANOUT other process``: a message received from another user, its latency from
  the sender's clock; "other process" when the sender's connection landed on another task/process than this
  one (the backend says where in its join acknowledgement), which only arrives through Redis.
- ``COUNT expected deliveries``: per message sent, the room's size the backend saw minus the sender (as the
  response length), so the deliveries that should have arrived can be summed across Locust workers;
  ``COUNT uncounted deliveries``: a message that arrived at a user who joined after it was sent (the backend
  says so: the user's place in the room is past the size the message was sent to), left out of both sums.
- ``LAND <process>``: one per connection, on the process it landed on.
- ``WS connection``: a connection the server closed, or that failed, after the join.

The master (or the only process) prints a ``CYLINK-PROGRESS {json}`` line per interval and writes the
summary file ``loadtest`` reads (see cylink_deploy/ops/loadtest.py for the settings, passed as environment).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
import websocket
from gevent.event import AsyncResult
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry

SETTINGS = json.loads(os.environ.get("CYLINK_LOADTEST", "{}"))
COUNTER = itertools.count()
FIRST_SPAWN: list[float] = []


class Closed(Exception):
    """The server closed the connection (or it broke) after the join."""


class Refused(Exception):
    """The backend answered the join or a message with an error, or not in the protocol."""


def ws_url(base: str, path: str, query: str = "") -> str:
    """http(s)://host[:port] -> ws(s)://host[:port]/path[?query]"""
    parts = urlsplit(base)
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    return f"{scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


def text(frame: str | bytes) -> str:
    return frame.decode() if isinstance(frame, bytes) else frame


class Connection:
    """One WebSocket speaking either protocol: ``join`` and ``chat`` wait for the backend's answer; messages
    from others go to ``on_chat``. One greenlet reads."""

    def __init__(self, protocol: str, url: str, path: str, timeout: float, on_chat: Any) -> None:
        self.protocol, self.on_chat, self.timeout = protocol, on_chat, timeout
        self.acks: dict[int, AsyncResult] = {}
        self.ack_ids = itertools.count()
        self.closed = AsyncResult()
        if protocol == "socketio":  # Engine.IO 4 / Socket.IO 5 over a WebSocket only (no long polling)
            self.ws = websocket.create_connection(ws_url(url, path, "EIO=4&transport=websocket"), timeout=timeout)
            if not text(self.ws.recv()).startswith("0"):
                raise Refused("no Engine.IO open packet")
            self.ws.send("40")
            answer = text(self.ws.recv())
            if not answer.startswith("40"):
                raise Refused(f"Socket.IO connect refused: {answer[:80]}")
        else:
            self.ws = websocket.create_connection(ws_url(url, path), timeout=timeout)
        self.ws.settimeout(None)
        self.reader = gevent.spawn(self._read)

    def request(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send ``event`` and wait for the backend's answer (Socket.IO: its acknowledgement; plain: the reply)."""
        ack_id = next(self.ack_ids) if self.protocol == "socketio" else 0
        waiter = self.acks[ack_id] = AsyncResult()
        if self.protocol == "socketio":
            self.ws.send(f"42{ack_id}" + json.dumps([event, data]))
        else:
            self.ws.send(json.dumps({"type": event, **({"room": data["room"]} if event == "join" else {"data": data})}))
        try:
            answer = waiter.get(timeout=self.timeout)
        except gevent.Timeout:
            raise Refused(f"no answer to {event} within {self.timeout:g} s") from None
        finally:
            self.acks.pop(ack_id, None)
        if not isinstance(answer, dict) or "error" in answer or "process" not in answer:
            raise Refused(f"{event} answered {str(answer)[:80]}")
        return answer

    def _read(self) -> None:
        try:
            while True:
                frame = text(self.ws.recv())
                if not frame:
                    raise Closed("closed by the server")
                self._frame(frame)
        except Exception as e:  # noqa: BLE001 - any end of the connection is reported once, by kind
            self.closed.set(e if isinstance(e, Closed) else Closed(f"{type(e).__name__}: {e}"))

    def _frame(self, frame: str) -> None:
        if self.protocol == "websocket":
            message = json.loads(frame)
            if message.get("type") == "chat":
                self.on_chat(message.get("data") or {})
            elif 0 in self.acks:
                self.acks[0].set(message)
        elif frame == "2":  # Engine.IO ping: answer or the server closes the connection
            self.ws.send("3")
        elif frame.startswith("42"):
            name, data = json.loads(frame[2:])[:2]
            if name == "chat":
                self.on_chat(data)
        elif frame.startswith("43"):
            digits = frame[2:].split("[", 1)[0]
            waiter = self.acks.get(int(digits))
            if waiter is not None:
                waiter.set(json.loads(frame[2 + len(digits) :])[0])
        elif frame.startswith(("41", "1")):
            raise Closed("disconnected by the server")

    def close(self) -> None:
        self.reader.kill(block=False)
        self.ws.close()


def record(
    environment: Environment, kind: str, name: str, ms: float, length: int = 0, error: Exception | None = None
) -> None:
    environment.events.request.fire(
        request_type=kind, name=name, response_time=ms, response_length=length, exception=error, context={}
    )


class CylinkUser(User):
    """One participant: connects, joins its room, sends a message every ``every`` seconds (jittered)."""

    wait_time = constant(0)  # the task paces itself

    def on_start(self) -> None:
        FIRST_SPAWN.append(FIRST_SPAWN[0] if FIRST_SPAWN else time.time())
        n = next(COUNTER)
        worker = getattr(self.environment.runner, "worker_index", 0)
        self.me = f"{worker}-{n}"
        self.room = f"{SETTINGS.get('run', 'run')}-{worker}-{n // SETTINGS.get('room_size', 10)}"
        urls = SETTINGS["urls"]
        self.conn: Connection | None = None
        self.process = ""  # where the join landed: until the backend says, received messages wait here
        self.place = 0  # our place in the room when we joined (the backend's counter)
        self.early: list[tuple[float, dict[str, Any]]] = []
        started = time.perf_counter()
        try:
            self.conn = Connection(
                SETTINGS["protocol"], urls[n % len(urls)], SETTINGS["path"], SETTINGS["timeout"], self._chat
            )
            answer = self.conn.request("join", {"room": self.room})
            self.place = int(answer.get("members", 0))
            self.process = str(answer["process"])
        except Exception as e:  # noqa: BLE001 - every failure to connect counts, by kind
            record(self.environment, "WS", "connect", (time.perf_counter() - started) * 1000, error=e)
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return
        record(self.environment, "WS", "connect", (time.perf_counter() - started) * 1000)
        record(self.environment, "LAND", self.process, 0)
        for latency, data in self.early:
            self._delivered(latency, data)
        gevent.spawn(self._watch, self.conn)

    def _watch(self, conn: Connection) -> None:
        error = conn.closed.get()
        if self.conn is conn:  # not our own close at the end
            record(self.environment, "WS", "connection", 0, error=error)
            self.conn = None

    def _chat(self, data: dict[str, Any]) -> None:
        """A message from another user of the room (it may arrive before our own join's answer)."""
        latency = max(0.0, time.time() * 1000 - float(data.get("sent_at", 0)))
        if self.process:
            self._delivered(latency, data)
        else:
            self.early.append((latency, data))

    def _delivered(self, latency: float, data: dict[str, Any]) -> None:
        if self.place > int(data.get("members", 0)):  # we joined after it was sent: its sender did not count us
            record(self.environment, "COUNT", "uncounted deliveries", 0)
            return
        same = str(data.get("process")) == self.process
        record(self.environment, "FANOUT", "same process" if same else "other process", latency)

    @task
    def chat(self) -> None:
        every = SETTINGS.get("every", 5.0)
        gevent.sleep(random.uniform(0, every) if not hasattr(self, "sent") else every)
        self.sent = True
        deadline = FIRST_SPAWN[0] + SETTINGS["send_for"] if FIRST_SPAWN else 0
        conn = self.conn
        if conn is None or time.time() > deadline:
            return  # not connected, or the last seconds: let every message in flight arrive
        started = time.perf_counter()
        data = {"from": self.me, "process": self.process, "sent_at": time.time() * 1000}
        try:
            members = int(conn.request("chat", data).get("members", 1))
        except Exception as e:  # noqa: BLE001
            record(self.environment, "WS", "chat round trip", (time.perf_counter() - started) * 1000, error=e)
            return
        record(self.environment, "WS", "chat round trip", (time.perf_counter() - started) * 1000)
        record(self.environment, "COUNT", "expected deliveries", 0, length=max(0, members - 1))

    def on_stop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


def entry(environment: Environment, kind: str, *names: str) -> dict[str, Any]:
    """Counts and percentiles (ms) of the named entries merged."""
    merged = StatsEntry(environment.stats, "+".join(names), kind)
    for name in names:
        merged.extend(environment.stats.get(name, kind))
    p = {f"p{q}": merged.get_response_time_percentile(q / 100) if merged.num_requests else None for q in (50, 95, 99)}
    window = (merged.last_request_timestamp or merged.start_time) - merged.start_time  # first to last, seconds
    return {
        "count": merged.num_requests,
        "failures": merged.num_failures,
        "bytes": merged.total_content_length,
        "seconds": round(window, 3),
        **p,
    }


def snapshot(environment: Environment) -> dict[str, Any]:
    """Everything ``loadtest`` shows, from Locust's (aggregated) statistics."""
    stats = environment.stats
    landed = {e.name: e.num_requests for e in stats.entries.values() if e.method == "LAND"}
    errors: dict[str, int] = {}
    for err in stats.errors.values():
        kind = f"{err.name}: {str(err.error).split(':', 1)[0]}"
        errors[kind] = errors.get(kind, 0) + err.occurrences
    runner = environment.runner
    return {
        "users": runner.user_count if runner else 0,
        "connect": entry(environment, "WS", "connect"),
        "dropped": entry(environment, "WS", "connection")["failures"],
        "round_trip": entry(environment, "WS", "chat round trip"),
        "fanout": entry(environment, "FANOUT", "same process", "other process"),
        "fanout_other": entry(environment, "FANOUT", "other process")["count"],
        "expected": entry(environment, "COUNT", "expected deliveries")["bytes"],
        "landed": landed,
        "errors": errors,
    }


def _progress(environment: Environment) -> None:
    while True:
        gevent.sleep(SETTINGS.get("interval", 10))
        print("CYLINK-PROGRESS " + json.dumps(snapshot(environment)), flush=True)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_progress, environment)


@events.quitting.add_listener
def _on_quit(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or not SETTINGS.get("summary"):
        return
    with open(SETTINGS["summary"], "w", encoding="utf-8") as f:
        json.dump(snapshot(environment), f)
