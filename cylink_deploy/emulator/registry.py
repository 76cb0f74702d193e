"""The registry of compatibility fixes, and ``apply()``, which patches moto and can put it back.

A fix is a function that receives a :class:`Patch` and sets attributes on moto's classes and modules
through it, never directly: the patch remembers what was there, so leaving ``with apply():`` restores
moto exactly (tests that use moto in-process are not silently patched by an earlier test).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Callable

MOTO_VERSION = "5.2.5"
_MISSING = object()


class Patch:
    """Sets attributes and records the previous value of each (or its absence)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def __call__(self, owner: Any, name: str, value: Any) -> None:
        # vars(), not getattr(): a classmethod must come back as the classmethod, and an inherited
        # attribute must come back as "not set here".
        self._saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    @property
    def patched(self) -> list[tuple[Any, str]]:
        """Every (owner, attribute) set, in order."""
        return [(owner, name) for owner, name, _ in self._saved]

    def restore(self) -> None:
        """Undo every set, newest first (so a name patched twice ends as the original)."""
        while self._saved:
            owner, name, previous = self._saved.pop()
            if previous is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, previous)


Fix = Callable[[Patch], None]
FIXES: dict[str, Fix] = {}


def fix(func: Fix) -> Fix:
    """Register a fix under its function name."""
    FIXES[func.__name__] = func
    return func


def check_moto_version() -> None:
    """Refuse any moto but the one the fixes were written (and tested) against."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"the emulator's fixes are written for moto {MOTO_VERSION}, found {moto.__version__}: pip install "
            f"'moto[server]=={MOTO_VERSION}'"
        )


class _InForce:
    """The fixes currently applied, with how many holders still need them."""

    def __init__(self, names: tuple[str, ...], patch: Patch) -> None:
        self.names = names
        self.patch = patch
        self.holders = 0


_lock = threading.Lock()
_in_force: _InForce | None = None


class Applied:
    """A hold on the applied fixes. Closing the last hold (or leaving ``with``) restores moto."""

    def __init__(self, in_force: _InForce) -> None:
        self._in_force: _InForce | None = in_force
        self.names = in_force.names
        self.patched = in_force.patch.patched

    def close(self) -> None:
        global _in_force
        with _lock:
            if self._in_force is None:
                return
            self._in_force.holders -= 1
            if self._in_force.holders == 0:
                self._in_force.patch.restore()
                _in_force = None
            self._in_force = None

    def __enter__(self) -> "Applied":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def apply(only: list[str] | None = None) -> Applied:
    """Apply every fix (or ``only`` these). A plain call keeps them for the process; ``with apply():``
    (or ``.close()``) restores moto's original attributes. While fixes are in force, applying the same
    set again shares them (no double wrapping); applying a different set is refused."""
    global _in_force
    from . import fixes  # noqa: F401 - registers every fix

    check_moto_version()
    unknown = sorted(set(only or ()) - set(FIXES))
    if unknown:
        raise ValueError(f"unknown emulator fix(es): {', '.join(unknown)}")
    names = tuple(name for name in FIXES if only is None or name in only)
    with _lock:
        if _in_force is None:
            patch = Patch()
            try:
                for name in names:
                    FIXES[name](patch)
            except BaseException:
                patch.restore()
                raise
            _in_force = _InForce(names, patch)
        elif _in_force.names != names:
            raise RuntimeError(
                f"other emulator fixes are in force ({len(_in_force.names)} of {len(FIXES)}); close them first"
            )
        _in_force.holders += 1
        return Applied(_in_force)
