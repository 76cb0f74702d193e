"""The one interface a job reports through: progress lines, typed views, the operation sent to AWS, the
one question it may ask, and the result document. Jobs never print; ``output/`` implements this, with a
formatter per view type, so a new job adds its own view and formatter instead of widening this protocol."""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    """What a job tells its user while it runs, and the one question it may ask."""

    def step(self, text: str) -> None: ...
    def detail(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def show(self, view: object) -> None:
        """A typed view (a change set tree, a stack event, a status screen): each has a formatter in output/."""

    def sent(self, operation: str) -> None:
        """``operation`` is about to reach AWS: from here on Ctrl-C cannot take it back."""

    def confirm(self, question: str) -> bool: ...
    def result(self, document: dict[str, Any]) -> None: ...
