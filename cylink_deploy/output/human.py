"""The core reporters: readable text for people (colour on a terminal, through ``rich``), and ``--json``
(humans read stderr, stdout carries one JSON document). They know no job: a typed view passed to ``show``
is formatted by the formatter registered for its type (``@formats``, one module per area in output/); the
live view of a stack operation on a terminal (``output/live.py``) is the human reporter with a screen."""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from cylink_deploy import documents

BOLD, RED, YELLOW, GREEN = "bold", "red", "yellow", "green"
STYLES = (BOLD, RED, YELLOW, GREEN)  # rich styles: the only escape sequences the human output ever contains

# What a terminal acts on instead of showing: the C0 controls but tab (ESC starts CSI/OSC sequences that move
# the cursor, clear the screen, retitle the window or, OSC 52, write the clipboard; CR returns to overwrite the
# line), DEL, the C1 controls (U+009B is CSI on its own: ECMA-48 8.3.16, and xterm's ctlseqs on 8-bit
# controls and OSC 52), and the bidi embeddings/overrides and isolates that reorder what is shown (Unicode
# UAX #9, "Trojan Source", CVE-2021-42574). Text from outside (log lines, AWS reasons, change sets) can carry
# any of them.
UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every character of ``UNPRINTABLE`` shown as its escape (``\\x1b``, ``\\r``,
    ``\\u202e``): what a person reads, never what their terminal obeys. Idempotent."""
    return UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {0x0A: "\\n", 0x0D: "\\r"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


UNWRAPPED = 10_000  # columns: wider than any table or line the tool prints (rich pads nothing to it)


def console(out: IO[str], color: bool) -> Console:
    """A rich console for lines as given (``line`` prints them unwrapped and uncropped), with no highlighting,
    markup or emoji codes taken from the text; colour (the 16 standard ones) only on a terminal."""
    return Console(
        file=out,
        width=UNWRAPPED,  # lines and tables as long as they are: the terminal wraps them, nothing is cut
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        markup=False,
        emoji=False,
    )


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
    ``assume_yes`` answers every question with yes (``--yes``).

    Every line goes out through ``line``, which escapes what a terminal would act on (``printable``): the
    formatters put text from AWS and the app's logs into lines as it came, and this is the one place that
    makes it safe. The reporter's own colours (``c``) are marked in the line with a random token, which text
    from outside cannot know, and only those marks become escape sequences."""

    def __init__(self, out: IO[str] | None = None, answers: IO[str] | None = None, assume_yes: bool = False) -> None:
        self.out = out or sys.stdout
        self.answers = answers or sys.stdin
        self.assume_yes = assume_yes
        self.color = self.out.isatty()
        self.console = console(self.out, self.color)
        self.fit = False  # tables fitted to the console's width (cells folded), or as wide as they are
        self.in_flight: str | None = None  # the operation sent to AWS, which Ctrl-C no longer stops
        token = secrets.token_hex(8)
        self._style = [f"\0{token}{i}\0" for i in range(len(STYLES) + 1)]  # STYLES[i] as marked; the last ends
        self._styled = re.compile(f"\0{token}([0-9])\0")

    def c(self, code: str, text: str) -> str:
        """``text`` in colour ``code`` (one of ``STYLES``) on a terminal, plain elsewhere."""
        if not self.color:
            return text
        return f"{self._style[STYLES.index(code)]}{text}{self._style[-1]}"

    def styled(self, text: str) -> Text:
        """``text`` as rich shows it: every part escaped by ``printable`` (a line break too) and taken as plain
        text (never as rich markup: ``[red]`` from AWS is shown, not obeyed), the colours of ``c`` applied."""
        parts = self._styled.split(text)  # text, style index, text, ...
        shown, style = Text(), ""
        for i, part in enumerate(parts):
            if i % 2:
                style = STYLES[int(part)] if int(part) < len(STYLES) else ""
            elif part:
                shown.append(printable(part), style=style or None)
        return shown

    def line(self, text: str = "") -> None:
        """One line: ``text`` escaped by ``printable`` (a line break in it too), the colours of ``c`` applied."""
        self.console.print(self.styled(text), soft_wrap=True)

    def step(self, text: str) -> None:
        self.line(self.c(BOLD, "==> ") + text)

    def detail(self, text: str) -> None:
        """``text`` indented, each of its lines (split at line feeds only) a line of its own."""
        if not text:
            self.line()
        for part in text.removesuffix("\n").split("\n") if text else []:
            self.line(f"  {part}")

    def warn(self, text: str) -> None:
        self.line(self.c(YELLOW, "!   ") + text)

    def table(
        self, headers: Sequence[str], body: Sequence[Sequence[str]], highlight: Sequence[bool] | None = None
    ) -> None:
        """Columns as a terminal shows them (rich measures cells by display width: a Japanese name is two
        columns a character), indented two spaces; every cell escaped by ``printable`` and never read as markup."""
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style=BOLD)
        for header in headers:
            grid.add_column(printable(header), no_wrap=not self.fit, overflow="fold" if self.fit else "ignore")
        for i, row in enumerate(body):
            grid.add_row(*(Text(printable(cell)) for cell in row), style=RED if highlight and highlight[i] else None)
        width = self.console.width if self.fit else UNWRAPPED  # unfitted: as wide as it is, never cropped
        options = self.console.options.update(width=width)
        for segments in self.console.render_lines(Padding(grid, (0, 0, 0, 2), expand=False), options, pad=False):
            shown = Text()  # each line without the padding rich gives the last column (no trailing spaces in a log)
            for segment in segments:
                shown.append(segment.text, segment.style)
            shown.rstrip()
            self.console.print(shown, soft_wrap=True)

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

    def close(self) -> None:
        """Nothing stays open in the plain log (the live view ends its screen here)."""


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
        line = json.dumps(documents.versioned(as_line(view)), sort_keys=True)
        print(line, file=self.document_out or sys.stdout, flush=True)

    def result(self, document: dict[str, Any]) -> None:
        print(documents.dumps(document), end="", file=self.document_out or sys.stdout, flush=True)
