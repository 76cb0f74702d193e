"""The core reporters: readable text for people (colour on a terminal), and ``--json`` (humans read
stderr, stdout carries one JSON document). They know no job: a typed view passed to ``show`` is
formatted by the formatter registered for its type (``@formats``, one module per area in output/)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

BOLD, RED, YELLOW, GREEN, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[32m", "\033[0m"

V = TypeVar("V")
Formatter = Callable[["HumanReporter", Any], None]
HUMAN: dict[type, Formatter] = {}  # view type -> how a person sees it
JSON_LINES: dict[type, Callable[[Any], dict[str, Any]]] = {}  # view types that --json streams on stdout


def formats(view_type: type[V]) -> Callable[[Callable[[HumanReporter, V], None]], Callable[[HumanReporter, V], None]]:
    """Register the human formatter of ``view_type`` (one per type; a second is a programming error)."""

    def register(formatter: Callable[[HumanReporter, V], None]) -> Callable[[HumanReporter, V], None]:
        if view_type in HUMAN:
            raise RuntimeError(f"two formatters for {view_type.__name__}")
        HUMAN[view_type] = formatter
        return formatter

    return register


class HumanReporter:
    """Readable text (colour on a terminal). ``answers`` is where a confirmation is read from;
    ``assume_yes`` answers every question with yes (``--yes``)."""

    def __init__(self, out: IO[str] | None = None, answers: IO[str] | None = None, assume_yes: bool = False) -> None:
        self.out = out or sys.stdout
        self.answers = answers or sys.stdin
        self.assume_yes = assume_yes
        self.color = self.out.isatty()
        self.in_flight: str | None = None  # the operation sent to AWS, which Ctrl-C no longer stops

    def c(self, code: str, text: str) -> str:
        """``text`` in colour ``code`` on a terminal, plain elsewhere."""
        return f"{code}{text}{RESET}" if self.color else text

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, text: str) -> None:
        self.line(self.c(BOLD, "==> ") + text)

    def detail(self, text: str) -> None:
        self.line("\n".join(f"  {line}" for line in text.splitlines()))

    def warn(self, text: str) -> None:
        self.line(self.c(YELLOW, "!   ") + text)

    def table(
        self, headers: Sequence[str], body: Sequence[Sequence[str]], highlight: Sequence[bool] | None = None
    ) -> None:
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
        fmt = "  ".join(f"{{:{w}}}" for w in widths)
        self.line("  " + fmt.format(*headers))
        self.line("  " + "  ".join("-" * w for w in widths))
        for i, r in enumerate(body):
            text = "  " + fmt.format(*r)
            self.line(self.c(RED, text) if highlight and highlight[i] else text)

    def show(self, view: object) -> None:
        """Format ``view`` with the formatter registered for its type."""
        formatter = HUMAN.get(type(view))
        if formatter is None:
            raise TypeError(f"no formatter for {type(view).__name__}: add one with @formats in output/")
        formatter(self, view)

    def sent(self, operation: str) -> None:
        """``operation`` is about to be sent to AWS: from here on Ctrl-C cannot stop it (the flag is set
        before the call, since an interrupted call may still have reached AWS)."""
        self.in_flight = operation

    def confirm(self, question: str) -> bool:
        if self.assume_yes:
            return True
        self.line(f"{question} [y/N] ")
        return self.answers.readline().strip().lower() in ("y", "yes")

    def result(self, document: dict[str, Any]) -> None:
        """The human reporter has said everything already."""


class JsonReporter(HumanReporter):
    """``--json``: progress for humans on stderr, and the result as one JSON document on stdout (views
    registered in ``JSON_LINES`` stream there as JSON Lines instead: ``logs --follow`` never ends)."""

    def __init__(
        self,
        out: IO[str] | None = None,
        answers: IO[str] | None = None,
        assume_yes: bool = False,
        document_out: IO[str] | None = None,
    ) -> None:
        super().__init__(out or sys.stderr, answers, assume_yes)
        self.document_out = document_out

    def show(self, view: object) -> None:
        as_line = JSON_LINES.get(type(view))
        if as_line is None:
            super().show(view)
            return
        print(json.dumps(as_line(view), sort_keys=True), file=self.document_out or sys.stdout, flush=True)

    def result(self, document: dict[str, Any]) -> None:
        print(
            json.dumps(document, indent=2, sort_keys=True, default=str),
            file=self.document_out or sys.stdout,
            flush=True,
        )
