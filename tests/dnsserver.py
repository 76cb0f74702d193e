"""A DNS server on 127.0.0.1 for the tests: ``doctor`` asks it instead of public DNS, so no test reaches the
internet. It answers from a table, ``{(name, type): [record text]}``; a name it has no record of is NXDOMAIN,
a name it knows without the asked type answers NOERROR with no records (NoAnswer)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class LoopbackDns:
    def __init__(self, records: Mapping[tuple[str, str], Iterable[str]]) -> None:
        self.records = {(name.lower().rstrip("."), kind.upper()): list(v) for (name, kind), v in records.items()}
        self.asked: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def server(self) -> str:
        """``HOST:PORT`` for ``--dns-server`` / ``zone.resolver``."""
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name, kind = question.name.to_text().lower().rstrip("."), dns.rdatatype.to_text(question.rdtype)
        self.asked.append((name, kind))
        values = self.records.get((name, kind))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, question.rdtype, values)
            )
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            self._sock.sendto(self._answer(wire), peer)

    def __enter__(self) -> LoopbackDns:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()
