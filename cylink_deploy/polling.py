"""Polling: the one backoff every "wait for AWS" loop uses (stack events, change sets, stack states, ECS
rollouts, logs) and the clock they read -- never the 30 s default of boto3 waiters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Protocol


class Sleep(Protocol):
    def __call__(self, seconds: float, /) -> None: ...


def backoff(first: float = 1.0, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Polling intervals: about 1 s, growing to a few seconds (never the 30 s waiter default)."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * factor)


def now() -> datetime:
    return datetime.now(timezone.utc)
