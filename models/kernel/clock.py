"""The one clock abstraction every time-dependent rule reads.

``Clock.now()`` is always timezone-aware UTC. The process has a system clock
(injectable, so tests can pin it); a tenant attached to a test clock lives on that
clock's frozen time instead (see ``models.platform.clocks.clock_for_tenant``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and test clocks."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass one with a UTC offset")
    return value.astimezone(UTC)
